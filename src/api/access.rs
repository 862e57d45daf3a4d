//! The API's way to a repository: `ApiRepo<L>` parses `{owner}/{repo}` from the path,
//! authenticates the caller (token, Basic) and asks `authorize` for level `L` before the
//! handler runs, with Gitea's answers: 401 when a write needs credentials that were not sent,
//! 404 for a repository the caller cannot see (as for a missing one), 403 for too low a level.
//! A token's scope is applied inside `authorize`, so no route can forget it.

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::{ApiActor, ApiError, ApiState, repo_path};
use crate::domain::{Grant, Level, Read};
use crate::model::{RepoAccess, RepoPath};

pub struct ApiRepo<L: Level = Read> {
    pub grant: Grant<L>,
}

async fn path_of(parts: &mut Parts) -> Result<RepoPath, ApiError> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| ApiError::NotFound)?;
    let find = |key: &str| {
        params
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or(ApiError::NotFound)
    };
    repo_path(find("owner")?, find("repo")?)
}

impl<S, L> FromRequestParts<S> for ApiRepo<L>
where
    S: Send + Sync,
    ApiState: FromRef<S>,
    L: Level,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiActor(actor) = ApiActor::from_request_parts(parts, state).await?;
        if L::ACCESS > RepoAccess::Read && actor.is_none() {
            return Err(ApiError::Unauthorized);
        }
        let path = path_of(parts).await?;
        let st = ApiState::from_ref(state);
        let grant = st.forge.authorize::<L>(actor.as_ref(), &path).await?;
        Ok(ApiRepo { grant })
    }
}
