use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::Error;

/// What an API call can fail with; the body is Gitea's `{"message": "...", "url": "..."}`
/// (`url` filled by `with_docs_url`, which knows the site's address).
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    /// A 401 that says what to send instead.
    UnauthorizedBecause(String),
    NotFound,
    /// A 404 that names what is missing (Gitea's words for a file or branch).
    Missing(String),
    Forbidden(String),
    Invalid(String),
    Conflict(String),
    /// Gitea's 423 for a write to an archived repository.
    Locked(String),
    Unavailable,
    Throttled(std::time::Duration),
    Internal(anyhow::Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound => ApiError::NotFound,
            Error::Forbidden(why) | Error::Disabled(why) => ApiError::Forbidden(why),
            Error::BadCredentials => ApiError::Unauthorized,
            Error::InvalidInput(why) => ApiError::Invalid(why),
            Error::Conflict(why) => ApiError::Conflict(why),
            Error::Archived(why) => ApiError::Locked(why),
            Error::Unavailable => ApiError::Unavailable,
            Error::Throttled(wait) => ApiError::Throttled(wait),
            Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
    url: &'a str,
}

/// Marks an API error answer, so `with_docs_url` can write the site's address into it.
#[derive(Clone)]
struct ErrorMessage(String);

/// Where Gitea's errors point (`setting.API.SwaggerURL`: `ROOT_URL` + `api/swagger`).
pub fn docs_url(base_url: &str) -> String {
    format!("{}/api/swagger", base_url.trim_end_matches('/'))
}

/// Writes the site's address into the `url` of each API error answer. A layer, because an
/// error becomes a response without the state that knows the address.
pub async fn with_docs_url(
    axum::extract::State(st): axum::extract::State<super::ApiState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    if let Some(ErrorMessage(message)) = res.extensions_mut().remove::<ErrorMessage>() {
        let (mut parts, _) = res.into_parts();
        let body = serde_json::to_vec(&Message {
            message: &message,
            url: &docs_url(&st.config.base_url),
        })
        .expect("two strings serialize");
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        res = Response::from_parts(parts, axum::body::Body::from(body));
    }
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "token is required or invalid"),
            ApiError::UnauthorizedBecause(why) => (StatusCode::UNAUTHORIZED, why.as_str()),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not found"),
            ApiError::Missing(why) => (StatusCode::NOT_FOUND, why.as_str()),
            ApiError::Forbidden(why) => (StatusCode::FORBIDDEN, why.as_str()),
            ApiError::Invalid(why) => (StatusCode::UNPROCESSABLE_ENTITY, why.as_str()),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, why.as_str()),
            ApiError::Locked(why) => (StatusCode::LOCKED, why.as_str()),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not answering; try again in a moment",
            ),
            ApiError::Throttled(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed attempts; try again later",
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "api: internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        };
        let mut res = (status, Json(Message { message, url: "" })).into_response();
        res.extensions_mut()
            .insert(ErrorMessage(message.to_owned()));
        if let ApiError::Throttled(wait) = &self {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        res
    }
}
