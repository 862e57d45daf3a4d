//! Users and their SSH keys in Gitea's shapes: `/user` (the caller), `/user/keys` (theirs),
//! `/users/{user}` and `/users/{user}/keys` (anyone's public face, as the web's profile pages
//! are public), `/users/search`. Tokens are in `tokens.rs`; repositories are h25-repos's.

use axum::Json;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::body::JsonBody;
use super::convert::user::ApiUser;
use super::paging::Paging;
use super::{ApiActor, ApiError, ApiState, RequireApiActor, RequireWriteActor};
use crate::domain::{KeyText, UserProfile, rfc3339};
use crate::model::{User, Username};
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/user", Need::SignedIn, show_current_user)
        .get("/user/keys", Need::SignedIn, list_my_keys)
        .post("/user/keys", Need::SignedIn, create_key)
        .get("/user/keys/{id}", Need::SignedIn, show_my_key)
        .delete("/user/keys/{id}", Need::SignedIn, delete_key)
        .get("/users/search", Need::Public, search_users)
        .get("/users/{user}", Need::Public, show_user)
        .get("/users/{user}/keys", Need::Public, list_user_keys)
}

/// A user named in a path: a name that does not parse names nobody (404, as a missing user).
pub(super) async fn named_profile(st: &ApiState, name: &str) -> Result<UserProfile, ApiError> {
    let name = Username::parse(name).map_err(|_| ApiError::NotFound)?;
    Ok(st.forge.profile(&name).await?)
}

async fn show_current_user(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
) -> Result<Json<ApiUser>, ApiError> {
    let me = st.forge.profile_by_id(actor.user.id).await?;
    Ok(Json(ApiUser::new(
        &st.config.base_url,
        &me,
        Some(&actor.user),
    )))
}

async fn show_user(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    Path(name): Path<String>,
) -> Result<Json<ApiUser>, ApiError> {
    let profile = named_profile(&st, &name).await?;
    let viewer = actor.as_ref().map(|a| &a.user);
    Ok(Json(ApiUser::new(&st.config.base_url, &profile, viewer)))
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    uid: Option<i64>,
}

/// The users whose name contains `q` (any case), or user `uid`, by name, a page at a time.
async fn search_users(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    paging: Paging,
    Query(q): Query<SearchQuery>,
) -> Result<Response, ApiError> {
    if q.q.len() > 200 {
        return Err(ApiError::Invalid("q is longer than 200 bytes".into()));
    }
    let (found, total) = st
        .forge
        .search_users(&q.q, q.uid, paging.offset(), paging.limit())
        .await?;
    let viewer = actor.as_ref().map(|a| &a.user);
    let data: Vec<ApiUser> = found
        .iter()
        .map(|p| ApiUser::new(&st.config.base_url, p, viewer))
        .collect();
    Ok(paging.answer_search(data, total))
}

/// Gitea's PublicKey. `key_type`, `read_only` and `user` are filled for the owner and site
/// admins only (`appendPrivateInformation` in Gitea's `routers/api/v1/user/key.go`).
#[derive(Serialize)]
struct ApiPublicKey {
    id: i64,
    key: String,
    url: String,
    title: String,
    fingerprint: String,
    created_at: String,
    key_type: &'static str,
    read_only: bool,
    user: Option<ApiUser>,
}

fn api_key(
    st: &ApiState,
    key: &KeyText,
    owner: &UserProfile,
    viewer: Option<&User>,
) -> ApiPublicKey {
    let private =
        viewer.is_some_and(|v| v.id == owner.user.id || v.role == crate::model::SiteRole::Admin);
    ApiPublicKey {
        id: key.id,
        key: key.key.clone(),
        url: format!(
            "{}/api/v1/user/keys/{}",
            st.config.base_url.trim_end_matches('/'),
            key.id
        ),
        title: key.title.clone(),
        fingerprint: key.fingerprint.clone(),
        created_at: rfc3339(key.created_at),
        key_type: if private { "user" } else { "" },
        read_only: false,
        user: private.then(|| ApiUser::new(&st.config.base_url, owner, viewer)),
    }
}

async fn keys_page(
    st: &ApiState,
    owner: &UserProfile,
    viewer: Option<&User>,
    paging: &Paging,
) -> Result<Response, ApiError> {
    let (keys, total) = st
        .forge
        .key_texts(&owner.user, paging.offset(), paging.limit())
        .await?;
    let keys = keys.iter().map(|k| api_key(st, k, owner, viewer)).collect();
    Ok(paging.answer(keys, total))
}

async fn list_my_keys(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    paging: Paging,
) -> Result<Response, ApiError> {
    let me = st.forge.profile_by_id(actor.user.id).await?;
    keys_page(&st, &me, Some(&actor.user), &paging).await
}

async fn list_user_keys(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    Path(name): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let owner = named_profile(&st, &name).await?;
    keys_page(&st, &owner, actor.as_ref().map(|a| &a.user), &paging).await
}

/// A key id from the path; one that does not parse names no key.
fn key_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound)
}

async fn show_my_key(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    Path(id): Path<String>,
) -> Result<Json<ApiPublicKey>, ApiError> {
    let key = st.forge.key_text(&actor.user, key_id(&id)?).await?;
    let me = st.forge.profile_by_id(actor.user.id).await?;
    Ok(Json(api_key(&st, &key, &me, Some(&actor.user))))
}

/// Gitea's CreateKeyOption (`read_only` is for deploy keys; a user's key ignores it).
#[derive(Deserialize)]
struct CreateKeyOption {
    title: String,
    key: String,
}

async fn create_key(
    State(st): State<ApiState>,
    RequireWriteActor(actor): RequireWriteActor,
    JsonBody(body): JsonBody<CreateKeyOption>,
) -> Result<(StatusCode, Json<ApiPublicKey>), ApiError> {
    let key = st
        .forge
        .add_own_key(&actor.user, &body.title, &body.key)
        .await
        .map_err(|e| match e {
            // Gitea answers a key already in use with 422.
            crate::domain::Error::Conflict(why) => ApiError::Invalid(why),
            other => other.into(),
        })?;
    let me = st.forge.profile_by_id(actor.user.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(api_key(&st, &key, &me, Some(&actor.user))),
    ))
}

async fn delete_key(
    State(st): State<ApiState>,
    RequireWriteActor(actor): RequireWriteActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.forge.delete_key(&actor.user, key_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
