//! Who is calling. A credential that is sent and wrong is a 401, never "anonymous".

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;

use super::{ApiError, ApiState};
use crate::model::{Actor, Client, Transport};

/// The caller if credentials were sent (and are valid), else None.
pub struct ApiActor(pub Option<Actor>);

/// A caller that must be signed in.
pub struct RequireApiActor(pub Actor);

impl<S> FromRequestParts<S> for ApiActor
where
    S: Send + Sync,
    ApiState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let st = ApiState::from_ref(state);
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client = Client::new(addr, Transport::Api);
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
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok())
                    .ok_or(ApiError::Unauthorized)?;
                let (user, secret) = decoded.split_once(':').ok_or(ApiError::Unauthorized)?;
                Some(st.forge.authenticate_basic(user, secret, client).await?)
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
