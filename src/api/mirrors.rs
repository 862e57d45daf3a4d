//! Mirrors in Gitea's shape. `/repos/{owner}/{repo}/push_mirrors`, for repository admins:
//! credentials go in and never come out; an SSH mirror's answer carries the public key to add on
//! the far side. `POST /repos/migrate` imports a repository from a URL (kept in sync with
//! `mirror`), and `POST /repos/{owner}/{repo}/mirror-sync` syncs a pull mirror now.

use crate::routes::{Need, Routes};
use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::access::ApiRepo;
use super::convert::repository::repository_json;
use super::{ApiError, ApiState, RequireWriteActor};
use crate::domain::mirrors::NewMirrorAuth;
use crate::domain::rfc3339;
use crate::domain::{Admin, Read, Write};
use crate::model::{MirrorScope, PushMirror, Repo, RepoPath};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get(
            "/repos/{owner}/{repo}/push_mirrors",
            Need::ADMIN,
            list_mirrors,
        )
        .post(
            "/repos/{owner}/{repo}/push_mirrors",
            Need::ADMIN,
            create_mirror,
        )
        .get(
            "/repos/{owner}/{repo}/push_mirrors/{name}",
            Need::ADMIN,
            show_mirror,
        )
        .delete(
            "/repos/{owner}/{repo}/push_mirrors/{name}",
            Need::ADMIN,
            delete_mirror,
        )
        .post(
            "/repos/{owner}/{repo}/push_mirrors-sync",
            Need::ADMIN,
            sync_mirrors,
        )
        .post("/repos/migrate", Need::SignedIn, migrate_repo)
        .post(
            "/repos/{owner}/{repo}/mirror-sync",
            Need::WRITE,
            sync_pull_mirror,
        )
}

/// Gitea's PushMirror object (`interval` is Gitea's timer; here syncs follow pushes).
#[derive(Serialize)]
struct ApiPushMirror {
    repo_name: String,
    remote_name: String,
    remote_address: String,
    created: String,
    last_update: Option<String>,
    last_error: String,
    interval: &'static str,
    sync_on_commit: bool,
    public_key: String,
}

impl ApiPushMirror {
    fn new(repo: &Repo, m: &PushMirror) -> Self {
        Self {
            repo_name: repo.name.clone(),
            remote_name: format!("remote_mirror_{}", m.id),
            remote_address: m.remote_url.clone(),
            created: rfc3339(m.created_at),
            last_update: m.last_success_at.map(rfc3339),
            last_error: m.last_error.clone(),
            interval: "0s",
            sync_on_commit: m.sync_on_push,
            public_key: m.public_key.clone(),
        }
    }
}

#[derive(Deserialize)]
struct CreatePushMirrorOption {
    remote_address: String,
    #[serde(default)]
    remote_username: String,
    #[serde(default)]
    remote_password: String,
    #[serde(default)]
    use_ssh: bool,
    #[serde(default = "yes")]
    sync_on_commit: bool,
    /// labforge's own: `mirror` (default) or `branches`.
    #[serde(default)]
    scope: Option<String>,
}

fn yes() -> bool {
    true
}

fn mirror_id(name: &str) -> Result<i64, ApiError> {
    name.strip_prefix("remote_mirror_")
        .unwrap_or(name)
        .parse()
        .map_err(|_| ApiError::NotFound)
}

/// The mirror in `/push_mirrors/{name}` (Gitea's remote name, here `mirror-ID` or the id).
#[derive(Deserialize)]
struct MirrorName {
    name: String,
}

async fn list_mirrors(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    paging: super::paging::Paging,
) -> Result<Response, ApiError> {
    let repo = grant.repo();
    let (mirrors, total) = paging.slice(st.forge.push_mirrors(&grant).await?);
    let mirrors = mirrors
        .iter()
        .map(|m| ApiPushMirror::new(repo, m))
        .collect::<Vec<_>>();
    Ok(paging.answer(mirrors, total))
}

async fn create_mirror(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    Json(body): Json<CreatePushMirrorOption>,
) -> Result<Response, ApiError> {
    let repo = grant.repo();
    let auth = if body.use_ssh {
        NewMirrorAuth::Ssh
    } else {
        NewMirrorAuth::Https {
            username: body.remote_username,
            token: body.remote_password,
        }
    };
    let scope = match body.scope.as_deref() {
        None => MirrorScope::Mirror,
        Some(s) => MirrorScope::parse(s)
            .ok_or_else(|| ApiError::Invalid("scope is mirror or branches".into()))?,
    };
    let mirror = st
        .forge
        .add_push_mirror(
            &grant,
            &body.remote_address,
            auth,
            scope,
            body.sync_on_commit,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ApiPushMirror::new(repo, &mirror))).into_response())
}

async fn show_mirror(
    State(st): State<ApiState>,
    Path(MirrorName { name }): Path<MirrorName>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<Json<ApiPushMirror>, ApiError> {
    let repo = grant.repo();
    let id = mirror_id(&name)?;
    let mirrors = st.forge.push_mirrors(&grant).await?;
    let mirror = mirrors
        .iter()
        .find(|m| m.id == id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(ApiPushMirror::new(repo, mirror)))
}

async fn delete_mirror(
    State(st): State<ApiState>,
    Path(MirrorName { name }): Path<MirrorName>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<StatusCode, ApiError> {
    st.forge
        .remove_push_mirror(&grant, mirror_id(&name)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sync_mirrors(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<StatusCode, ApiError> {
    st.forge.sync_push_mirrors_now(&grant, None).await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
struct MigrateRepoOptions {
    clone_addr: String,
    repo_name: String,
    /// Defaults to the caller.
    repo_owner: Option<String>,
    #[serde(default)]
    mirror: bool,
    /// Go's duration form (`8h0m0s`) or labforge's (`8h`); default 8h, at least 10m.
    mirror_interval: Option<String>,
    #[serde(default)]
    auth_username: String,
    #[serde(default)]
    auth_password: String,
    #[serde(default)]
    auth_token: String,
    /// Private unless `"private": false`: labforge's default on every path (Gitea's is public).
    private: Option<bool>,
    #[serde(default)]
    description: String,
}

async fn migrate_repo(
    State(st): State<ApiState>,
    RequireWriteActor(actor): RequireWriteActor,
    super::body::JsonBody(body): super::body::JsonBody<MigrateRepoOptions>,
) -> Result<Response, ApiError> {
    let owner =
        crate::model::Username::parse(body.repo_owner.as_deref().unwrap_or(&actor.user.name))
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let name = crate::model::RepoName::parse(body.repo_name.trim())
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let interval = match (body.mirror, body.mirror_interval.as_deref()) {
        (false, _) => None,
        (true, None) => Some(crate::domain::push::pulled::DEFAULT_INTERVAL),
        (true, Some(text)) => Some(
            crate::config::parse_duration(text)
                .map_err(|e| ApiError::Invalid(format!("mirror_interval: {e}")))?,
        ),
    };
    let token = if body.auth_token.is_empty() {
        body.auth_password
    } else {
        body.auth_token
    };
    st.forge
        .import_repo(
            &actor,
            crate::domain::push::pulled::Import {
                owner: &owner,
                name: &name,
                url: &body.clone_addr,
                username: &body.auth_username,
                token: &token,
                private: body.private.unwrap_or(true),
                description: body.description.trim(),
                mirror_interval: interval,
            },
        )
        .await?;
    // Gitea's Repository object, as the importer now sees their new repository.
    let path = RepoPath { owner, name };
    let grant = st.forge.authorize::<Read>(Some(&actor), &path).await?;
    let view = st.forge.repo_view(&grant).await?;
    let mut answer = repository_json(&st.config, &view, Some(&actor));
    if let Some(interval) = interval {
        answer = answer.with_mirror_interval(go_duration(interval));
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Go's `time.Duration` text (`8h0m0s`), as Gitea writes `mirror_interval`.
fn go_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    format!("{}h{}m{}s", secs / 3600, secs / 60 % 60, secs % 60)
}

async fn sync_pull_mirror(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Write>,
) -> Result<StatusCode, ApiError> {
    st.forge.sync_pull_mirror_now(&grant).await?;
    Ok(StatusCode::OK)
}
