//! Static files under `/-/static/` (owner names cannot start with `-`, so no repository path
//! collides): compiled into the binary, served with a content type, `nosniff` and a cache
//! lifetime. Pages load script only from here; the HTML pages' CSP allows nothing else.

use crate::routes::{Need, Routes};
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::WebError;

/// (name, content type, bytes).
const FILES: &[(&str, &str, &str)] = &[(
    "copy.js",
    "text/javascript; charset=utf-8",
    include_str!("../../static/copy.js"),
)];

/// The CSP of every HTML page: script only from this server's own files (no inline script, so
/// injected markup cannot run even if it got past escaping), no plugins, no framing, forms only
/// to this server. Styles stay inline (base.html's one `<style>`); README images may be remote.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src * data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// `res` with [`PAGE_CSP`]: every HTML page goes through here.
pub fn with_page_csp(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(PAGE_CSP),
    );
    res
}

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    Routes::new().get("/-/static/{name}", Need::Public, show_static)
}

async fn show_static(Path(name): Path<String>) -> Result<Response, WebError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or(WebError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, *content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // An hour: a new release's script reaches browsers soon enough, and a page view
            // does not refetch it.
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        *body,
    )
        .into_response())
}
