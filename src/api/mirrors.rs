//! `/repos/{owner}/{repo}/push_mirrors` in Gitea's shape, for repository admins. Credentials go
//! in and never come out; an SSH mirror's answer carries the public key to add on the far side.

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::hooks::admin_repo;
use super::{ApiError, ApiState, RequireApiActor};
use crate::domain::mirrors::NewMirrorAuth;
use crate::domain::rfc3339;
use crate::model::{MirrorScope, PushMirror, Repo};

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/repos/{owner}/{repo}/push_mirrors",
            get(list_mirrors).post(create_mirror),
        )
        .route(
            "/repos/{owner}/{repo}/push_mirrors/{name}",
            get(show_mirror).delete(delete_mirror),
        )
        .route(
            "/repos/{owner}/{repo}/push_mirrors-sync",
            post(sync_mirrors),
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

async fn list_mirrors(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Json<Vec<ApiPushMirror>>, ApiError> {
    let repo = admin_repo(&st, &actor, &owner, &repo).await?;
    let mirrors = st.forge.push_mirrors(&repo).await?;
    Ok(Json(
        mirrors
            .iter()
            .map(|m| ApiPushMirror::new(&repo, m))
            .collect(),
    ))
}

async fn create_mirror(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    Path((owner, repo)): Path<(String, String)>,
    Json(body): Json<CreatePushMirrorOption>,
) -> Result<Response, ApiError> {
    let repo = admin_repo(&st, &actor, &owner, &repo).await?;
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
            &repo,
            &body.remote_address,
            auth,
            scope,
            body.sync_on_commit,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiPushMirror::new(&repo, &mirror)),
    )
        .into_response())
}

async fn show_mirror(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Result<Json<ApiPushMirror>, ApiError> {
    let repo = admin_repo(&st, &actor, &owner, &repo).await?;
    let id = mirror_id(&name)?;
    let mirrors = st.forge.push_mirrors(&repo).await?;
    let mirror = mirrors
        .iter()
        .find(|m| m.id == id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(ApiPushMirror::new(&repo, mirror)))
}

async fn delete_mirror(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let repo = admin_repo(&st, &actor, &owner, &repo).await?;
    st.forge
        .remove_push_mirror(&repo, mirror_id(&name)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sync_mirrors(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let repo = admin_repo(&st, &actor, &owner, &repo).await?;
    st.forge.sync_push_mirrors_now(&repo, None).await?;
    Ok(StatusCode::OK)
}
