//! Errors as pages: a real 404 for anything missing or not visible, a generic 500 that never
//! shows internals to the client (they are logged).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error_page;
use crate::domain::Error;

pub enum WebError {
    NotFound,
    BadRequest(String),
    Forbidden(String),
    Unavailable,
    /// Too many failed password checks: 429 with `Retry-After`.
    Throttled(std::time::Duration),
    Internal(anyhow::Error),
}

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        match e {
            // A private repository is not found, exactly like a missing one.
            Error::NotFound | Error::Forbidden(_) | Error::BadCredentials => WebError::NotFound,
            Error::InvalidInput(why) | Error::Conflict(why) => WebError::BadRequest(why),
            Error::Disabled(why) | Error::Archived(why) => WebError::Forbidden(why),
            Error::Unavailable => WebError::Unavailable,
            Error::Throttled(wait) => WebError::Throttled(wait),
            Error::Internal(e) => WebError::Internal(e),
        }
    }
}

impl From<crate::model::NameError> for WebError {
    fn from(_: crate::model::NameError) -> Self {
        WebError::NotFound
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound => super::not_found(),
            WebError::BadRequest(why) => error_page(StatusCode::BAD_REQUEST, &why),
            WebError::Forbidden(why) => error_page(StatusCode::FORBIDDEN, &why),
            WebError::Unavailable => error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is not answering; try again in a moment.",
            ),
            WebError::Throttled(wait) => {
                let mut res = error_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed attempts; try again later.",
                );
                res.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(wait.as_secs().max(1)),
                );
                res
            }
            WebError::Internal(e) => {
                tracing::error!(error = ?e, "page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side.",
                )
            }
        }
    }
}
