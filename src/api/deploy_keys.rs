//! `/repos/{owner}/{repo}/keys`: deploy keys in Gitea's `DeployKey` shape, for repository
//! admins (as in Gitea). Created with Gitea's `CreateKeyOption` (`title`, `key`, `read_only`).

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::access::ApiRepo;
use super::body::JsonBody;
use super::{ApiError, ApiState};
use crate::domain::{Admin, DeployKey, rfc3339};
use crate::model::Repo;
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/repos/{owner}/{repo}/keys", Need::ADMIN, list_keys)
        .post("/repos/{owner}/{repo}/keys", Need::ADMIN, create_key)
        .get("/repos/{owner}/{repo}/keys/{id}", Need::ADMIN, show_key)
        .delete("/repos/{owner}/{repo}/keys/{id}", Need::ADMIN, delete_key)
}

/// Gitea's DeployKey object (its `repository` is left out: clients that list a repository's
/// keys know the repository).
#[derive(Serialize)]
struct ApiDeployKey {
    id: i64,
    /// Gitea's id of the public key behind the deploy key; here each attachment is its own.
    key_id: i64,
    key: String,
    url: String,
    title: String,
    fingerprint: String,
    created_at: String,
    read_only: bool,
}

impl ApiDeployKey {
    fn new(base: &str, repo: &Repo, k: DeployKey) -> Self {
        ApiDeployKey {
            id: k.id,
            key_id: k.id,
            url: format!("{base}/api/v1/repos/{}/keys/{}", repo.full_name(), k.id),
            key: k.key,
            title: k.title,
            fingerprint: k.fingerprint,
            created_at: rfc3339(k.created_at),
            read_only: k.read_only,
        }
    }
}

/// Gitea's CreateKeyOption: `title` and `key` required, `read_only` false unless given.
#[derive(Deserialize)]
struct CreateKeyOption {
    title: String,
    key: String,
    #[serde(default)]
    read_only: bool,
}

/// The key in `/keys/{id}`: a number, else a 404 (as for another repository's key).
#[derive(Deserialize)]
struct KeyId {
    id: String,
}

fn key_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound)
}

async fn list_keys(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<Json<Vec<ApiDeployKey>>, ApiError> {
    let keys = st.forge.deploy_keys(&grant).await?;
    let base = &st.config.base_url;
    Ok(Json(
        keys.into_iter()
            .map(|k| ApiDeployKey::new(base, grant.repo(), k))
            .collect(),
    ))
}

async fn create_key(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    JsonBody(body): JsonBody<CreateKeyOption>,
) -> Result<Response, ApiError> {
    // A key in use (a user's, or this repository's already) is Gitea's 422, not a 409.
    let key = st
        .forge
        .add_deploy_key(&grant, &body.title, &body.key, body.read_only)
        .await
        .map_err(|e| match e {
            crate::domain::Error::Conflict(why) => ApiError::Invalid(why),
            other => other.into(),
        })?;
    let key = ApiDeployKey::new(&st.config.base_url, grant.repo(), key);
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

async fn show_key(
    State(st): State<ApiState>,
    Path(KeyId { id }): Path<KeyId>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<Json<ApiDeployKey>, ApiError> {
    let key = st.forge.deploy_key(&grant, key_id(&id)?).await?;
    Ok(Json(ApiDeployKey::new(
        &st.config.base_url,
        grant.repo(),
        key,
    )))
}

async fn delete_key(
    State(st): State<ApiState>,
    Path(KeyId { id }): Path<KeyId>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<StatusCode, ApiError> {
    st.forge.remove_deploy_key(&grant, key_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
