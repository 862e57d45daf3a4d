//! The web room's way to an organization, mirroring `RepoPage`/`RepoForm`: the extractor parses
//! `{org}` from the path, finds the session, asks `authorize_org` for level `L` (read: see it;
//! admin: manage it) and, for forms, checks the CSRF token before the handler runs. An
//! organization the visitor may not see is the same 404 as a missing one.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::WebState;
use super::access::form_of;
use super::error::WebError;
use super::session::{CsrfForm, MaybeUser, Nav, RequireUser};
use crate::domain::{Level, OrgGrant, Read};
use crate::model::{RepoAccess, Username};

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
        let visitor = MaybeUser::from_request_parts(parts, state).await?;
        if L::ACCESS > RepoAccess::Read && visitor.0.is_none() {
            return Err(super::access::sign_in_first(parts));
        }
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
        let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let csrf = form_of::<CsrfForm, S>(&bytes, content_type.as_ref(), state).await?;
        user.check_csrf(&csrf.0.csrf)
            .map_err(IntoResponse::into_response)?;
        let form = form_of::<T, S>(&bytes, content_type.as_ref(), state).await?;
        Ok(OrgForm {
            grant,
            user,
            form: form.0,
        })
    }
}
