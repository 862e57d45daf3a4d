//! Form bodies for pages: axum's `Form`, but a body that does not fit (a missing CSRF field, a
//! field of the wrong shape) gets the HTML error page with a sentence saying what to do, not
//! serde's `Failed to deserialize form body: missing field 'csrf'`.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Form(value)),
            Err(rejection) => {
                let detail = rejection.body_text();
                tracing::info!(error = %detail, "refused a form that does not fit");
                Err(super::error_page(
                    StatusCode::BAD_REQUEST,
                    &explain(&detail),
                ))
            }
        }
    }
}

/// A sentence for people from the deserializer's message.
fn explain(detail: &str) -> String {
    if detail.contains("missing field `csrf`") {
        return "This form arrived without its security token, so nothing was changed. Reload \
                the page and send the form again."
            .to_owned();
    }
    if let Some(field) = detail
        .split("missing field `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
    {
        return format!(
            "This form arrived without its field '{field}', so nothing was changed. Reload the \
             page and send the form again."
        );
    }
    "This form could not be read, so nothing was changed. Reload the page and send it again."
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn the_sentences_name_what_is_missing() {
        let csrf = explain("Failed to deserialize form body: missing field `csrf`");
        assert!(csrf.contains("security token") && !csrf.contains("deserialize"));
        let title = explain("Failed to deserialize form body: missing field `title`");
        assert!(title.contains("'title'"), "{title}");
        assert!(explain("invalid digit").contains("could not be read"));
    }
}
