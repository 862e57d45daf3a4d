//! The web room's way to an organization, mirroring `RepoPage`/`RepoForm`: the extractor parses
//! `{org}` from the path, finds the session, asks `authorize_org` for level `L` (read: see it;
//! admin: manage it) and, for forms, checks the CSRF token before the handler runs. An
//! organization the visitor may not see is the same 404 as a missing one.

use axum::extract::{FromRef, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::WebState;
use super::access::{csrf_checked_form, visitor_for};
use super::error::WebError;
use super::session::{MaybeUser, Nav, RequireUser};
use crate::domain::{Level, OrgGrant, Read};
use crate::model::Username;

/// An organization's page the visitor may see at level `L`.
pub struct OrgPage<L: Level = Read> {
    pub grant: OrgGrant<L>,
    pub visitor: MaybeUser,
}

impl<L: Level> OrgPage<L> {
    pub fn nav(&self) -> Nav {
        self.visitor.nav()
    }
}

/// A form posted to an organization's address by a signed-in user with level `L`.
pub struct OrgForm<L: Level, T> {
    pub grant: OrgGrant<L>,
    pub user: RequireUser,
    pub form: T,
}

/// `{org}` of the matched route, parsed like every name from outside.
async fn org_name(parts: &mut Parts) -> Result<Username, WebError> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| WebError::NotFound)?;
    let org = params
        .iter()
        .find(|(k, _)| *k == "org")
        .map(|(_, v)| v)
        .ok_or(WebError::NotFound)?;
    Ok(Username::parse(org)?)
}

impl<S, L> FromRequestParts<S> for OrgPage<L>
where
    S: Send + Sync,
    WebState: FromRef<S>,
    L: Level,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let visitor = visitor_for::<L, S>(parts, state).await?;
        let name = org_name(parts).await.map_err(IntoResponse::into_response)?;
        let st = WebState::from_ref(state);
        let grant = st
            .forge
            .authorize_org::<L>(visitor.actor(), &name)
            .await
            .map_err(|e| WebError::from(e).into_response())?;
        Ok(OrgPage { grant, visitor })
    }
}

impl<S, L, T> FromRequest<S> for OrgForm<L, T>
where
    S: Send + Sync,
    WebState: FromRef<S>,
    L: Level,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let user = RequireUser::from_request_parts(&mut parts, state).await?;
        let name = org_name(&mut parts)
            .await
            .map_err(IntoResponse::into_response)?;
        let st = WebState::from_ref(state);
        let grant = st
            .forge
            .authorize_org::<L>(Some(&user.0.actor), &name)
            .await
            .map_err(|e| WebError::from(e).into_response())?;
        let form = csrf_checked_form(parts, body, state, &user).await?;
        Ok(OrgForm { grant, user, form })
    }
}
