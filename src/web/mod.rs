//! The browser-facing room: pages rendered with askama from `templates/`.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::config::Config;
use crate::domain::Forge;

mod assets;
mod error;
mod form;
mod highlight;
mod markdown;
mod pages;
mod session;
mod view;

#[derive(Clone)]
pub struct WebState {
    pub forge: Arc<Forge>,
    pub config: Arc<Config>,
    /// The SSH host key's fingerprint, shown on the keys page.
    pub ssh_fingerprint: Arc<str>,
}

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new()
        .route("/healthz", get(show_health))
        .merge(assets::router())
        .merge(pages::auth::router())
        .merge(pages::home::router())
        .merge(pages::repo::router())
        .merge(pages::history::router())
        .merge(pages::issues::router())
        .merge(pages::settings::router())
        .merge(pages::repo_settings::router())
        .merge(pages::deploys::router())
        .merge(pages::repo_hooks::router())
        .merge(pages::repo_mirrors::router())
        .fallback(show_not_found)
}

/// 200 when the database answers; load balancers and compose health checks poll this.
/// `?verbose` answers JSON with the scheduled backups' last outcome as well.
async fn show_health(
    State(st): State<WebState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let database = st.forge.db.ping().await;
    if let Err(e) = &database {
        tracing::error!(error = %e, "health check: database unreachable");
    }
    let status = if database.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let verbose = query.is_some_and(|q| {
        q.split('&')
            .any(|p| p == "verbose" || p.starts_with("verbose="))
    });
    if verbose {
        let backup = st
            .forge
            .backup_status
            .lock()
            .expect("backup status is never poisoned: no code panics while holding it")
            .clone();
        let body = serde_json::json!({
            "status": if database.is_ok() { "ok" } else { "unavailable" },
            "database": if database.is_ok() { "ok" } else { "unreachable" },
            "backup": backup,
        });
        return (status, axum::Json(body)).into_response();
    }
    match database {
        Ok(()) => (status, "ok\n").into_response(),
        Err(_) => (status, "database unreachable\n").into_response(),
    }
}

async fn show_not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is nothing at this address.")
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: session::Nav,
    status: u16,
    message: &'a str,
}

/// An HTML error page; the message is for people and never carries internal details.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        nav: session::Nav::default(),
        status: status.as_u16(),
        message,
    };
    match page.render() {
        Ok(html) => assets::with_page_csp((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            (status, message.to_owned()).into_response()
        }
    }
}
