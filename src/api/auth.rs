//! Who is calling. A credential that is sent and wrong is a 401, never "anonymous".
//! Accepted: `Authorization: token T`, `Bearer T`, and Basic with a token or the password.
//! A token in the URL (`?token=`, `?access_token=`) is refused on every API route
//! (`refuse_query_tokens`): URLs end up in logs, proxies and shell history. Gitea 1.22 with
//! `DISABLE_QUERY_AUTH_TOKEN` ignores them with a warning; labforge says so with a 401.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;

use super::{ApiError, ApiState};
use crate::model::{Actor, Client, Transport};

/// The caller if credentials were sent (and are valid), else None.
pub struct ApiActor(pub Option<Actor>);

/// A caller that must be signed in.
pub struct RequireApiActor(pub Actor);

/// The caller's address as the API sees it, for the sign-in log and throttling.
fn api_client(parts: &Parts) -> Client {
    let addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    Client::new(addr, Transport::Api)
}

/// The user and secret of an HTTP Basic value (after `Basic `); None when it is not base64 of
/// UTF-8 `USER:SECRET`. Both Basic readers (token or password, password only) parse it here.
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())?;
    let (user, secret) = decoded.split_once(':')?;
    Some((user.to_owned(), secret.to_owned()))
}

impl<S> FromRequestParts<S> for ApiActor
where
    S: Send + Sync,
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let st = ApiState::from_ref(state);
        let client = api_client(parts);
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(ApiActor(None));
        };
        let value = value.to_str().map_err(|_| ApiError::Unauthorized)?.trim();
        let (kind, rest) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
        let actor = match kind.to_ascii_lowercase().as_str() {
            "token" | "bearer" => {
                st.forge
                    .authenticate_bearer("", rest.trim(), client)
                    .await?
            }
            "basic" => {
                let (user, secret) = basic_credentials(rest).ok_or(ApiError::Unauthorized)?;
                Some(st.forge.authenticate_basic(&user, &secret, client).await?)
            }
            _ => None,
        };
        actor
            .map(|a| ApiActor(Some(a)))
            .ok_or(ApiError::Unauthorized)
    }
}

impl<S> FromRequestParts<S> for RequireApiActor
where
    S: Send + Sync,
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match ApiActor::from_request_parts(parts, state).await? {
            ApiActor(Some(actor)) => Ok(RequireApiActor(actor)),
            ApiActor(None) => Err(ApiError::Unauthorized),
        }
    }
}

/// The 401 for a token in the URL, naming what to send instead.
pub const QUERY_TOKEN_REFUSED: &str = "a token in the URL (?token= or ?access_token=) is not \
accepted: send it in the Authorization header (`Authorization: token TOKEN`)";

/// A layer over the API: a request with `token` or `access_token` in its query is refused.
pub async fn refuse_query_tokens(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let query = req.uri().query().unwrap_or("");
    let has_token = url::form_urlencoded::parse(query.as_bytes())
        .take(64)
        .any(|(k, _)| k == "token" || k == "access_token");
    if has_token {
        use axum::response::IntoResponse;
        return ApiError::UnauthorizedBecause(QUERY_TOKEN_REFUSED.into()).into_response();
    }
    next.run(req).await
}

/// The caller proven by HTTP Basic with the account's password: what Gitea requires for
/// managing tokens (`reqBasicAuth`), so a token, leaked or not, cannot mint or list others.
/// Anything else (no credentials, a token in any form) is a 401 that says what to send.
pub struct PasswordActor(pub Actor);

/// The 401 for the token routes without a password.
pub const PASSWORD_REQUIRED: &str = "managing tokens needs HTTP Basic with the account's \
password (a token is not accepted here)";

impl<S> FromRequestParts<S> for PasswordActor
where
    S: Send + Sync,
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let st = ApiState::from_ref(state);
        let refused = || ApiError::UnauthorizedBecause(PASSWORD_REQUIRED.into());
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(refused)?
            .trim();
        let (kind, rest) = value.split_once(' ').ok_or_else(refused)?;
        if !kind.eq_ignore_ascii_case("basic") {
            return Err(refused());
        }
        let (user, secret) = basic_credentials(rest).ok_or_else(refused)?;
        if crate::domain::is_token_shaped(&secret) {
            return Err(refused());
        }
        let actor = st
            .forge
            .authenticate_password(&user, &secret, api_client(parts))
            .await?;
        Ok(PasswordActor(actor))
    }
}

/// A signed-in caller who may change things of their own (SSH keys, new repositories): a
/// read token is refused with 403 before the body is read, as every decision comes first.
pub struct RequireWriteActor(pub Actor);

impl<S> FromRequestParts<S> for RequireWriteActor
where
    S: Send + Sync,
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RequireApiActor(actor) = RequireApiActor::from_request_parts(parts, state).await?;
        if actor.scope == Some(crate::model::TokenScope::Read) {
            return Err(ApiError::Forbidden(
                "a read token cannot change anything; use a write token".into(),
            ));
        }
        Ok(RequireWriteActor(actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_split_at_the_first_colon_and_refuse_what_is_not_base64_utf8() {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            basic_credentials(&format!(" {} ", b64(b"alice:pa:ss"))),
            Some(("alice".to_owned(), "pa:ss".to_owned()))
        );
        assert_eq!(basic_credentials(&b64(b"no-colon")), None);
        assert_eq!(basic_credentials(&b64(&[0xff, b':', b'x'])), None);
        assert_eq!(basic_credentials("not base64!"), None);
    }
}
