//! `/api/v1`: JSON for scripts and other tools, in Gitea's shape so existing clients work.
//! Token auth (`Authorization: token T`, `Bearer T`, or Basic with a token or password; never
//! `?token=`); errors are `{"message", "url"}` with Gitea's status codes.

mod access;
mod auth;
mod body;
mod contents;
pub mod convert;
mod deploy_keys;
mod error;
mod git;
mod hooks;
mod issues;
mod mirrors;
mod orgs;
pub mod paging;
mod repo_access;
mod repos;
mod settings;
mod statuses;
mod teams;
mod tokens;
mod users;

use crate::routes::{Need, Routes};
use std::sync::Arc;

use axum::Json;
use axum::extract::FromRef;
use serde::Serialize;

use crate::config::Config;
use crate::domain::Forge;
use crate::model::{RepoName, RepoPath, Username};

pub use auth::{ApiActor, RequireApiActor, RequireWriteActor};
pub use error::{ApiError, with_docs_url};

#[derive(Clone)]
pub struct ApiState {
    pub forge: Arc<Forge>,
    pub config: Arc<Config>,
}

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/version", Need::Public, show_version)
        .merge(users::router())
        .merge(tokens::router())
        .merge(settings::router())
        .merge(hooks::router())
        .merge(deploy_keys::router())
        .merge(contents::router())
        .merge(issues::router())
        .merge(statuses::router())
        .merge(mirrors::router())
        .merge(repos::router())
        .merge(repo_access::router())
        .merge(git::router())
        .merge(orgs::router())
        .merge(teams::router())
        .map_router(|r| {
            r.fallback(|| async { ApiError::NotFound })
                .layer(axum::middleware::from_fn(auth::refuse_query_tokens))
        })
}

/// `{owner}/{repo}` from an API path, parsed like every other name from outside.
pub fn repo_path(owner: &str, repo: &str) -> Result<RepoPath, ApiError> {
    Ok(RepoPath {
        owner: Username::parse(owner).map_err(|_| ApiError::NotFound)?,
        name: RepoName::parse(repo).map_err(|_| ApiError::NotFound)?,
    })
}

#[derive(Serialize)]
struct Version {
    version: &'static str,
}

async fn show_version() -> Json<Version> {
    Json(Version {
        version: env!("CARGO_PKG_VERSION"),
    })
}
