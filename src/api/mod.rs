//! `/api/v1`: JSON for scripts and other tools, in Gitea's shape so existing clients work.
//! Token auth (`Authorization: token T`, `Bearer T`, or Basic with a token or password); errors are
//! `{"message": ...}` with Gitea's status codes.

mod access;
mod auth;
mod body;
mod error;
mod hooks;
mod issues;
mod mirrors;
mod orgs;
mod statuses;

use crate::routes::{Need, Routes};
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use serde::Serialize;

use crate::config::Config;
use crate::domain::Forge;
use crate::model::{RepoName, RepoPath, Username};

pub use auth::{ApiActor, RequireApiActor};
pub use error::ApiError;

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
        .get("/user", Need::SignedIn, show_current_user)
        .merge(hooks::router())
        .merge(issues::router())
        .merge(statuses::router())
        .merge(mirrors::router())
        .merge(orgs::router())
        .map_router(|r| r.fallback(|| async { ApiError::NotFound }))
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

/// Gitea's user object, the fields clients read.
#[derive(Serialize)]
pub struct ApiUser {
    pub id: i64,
    pub login: String,
    pub username: String,
    pub full_name: String,
    pub email: String,
    pub is_admin: bool,
}

impl ApiUser {
    pub fn from_user(user: &crate::model::User) -> Self {
        ApiUser {
            id: user.id,
            login: user.name.clone(),
            username: user.name.clone(),
            full_name: String::new(),
            email: user.email.clone(),
            is_admin: user.role == crate::model::SiteRole::Admin,
        }
    }
}

async fn show_current_user(
    State(_): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
) -> Json<ApiUser> {
    Json(ApiUser::from_user(&actor.user))
}
