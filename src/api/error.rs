use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::Error;

/// What an API call can fail with; the body is Gitea's `{"message": "..."}`.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
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
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "token is required or invalid"),
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
        let mut res = (status, Json(Message { message })).into_response();
        if let ApiError::Throttled(wait) = &self {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        res
    }
}
