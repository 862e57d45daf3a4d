//! The browser-facing room: pages rendered with askama from `templates/`.

use crate::routes::{Need, Routes};
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::config::Config;
use crate::domain::Forge;

pub(crate) mod access;
mod assets;
mod error;
mod form;
mod highlight;
mod markdown;
mod org_access;
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

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/healthz", Need::Public, show_health)
        .merge(assets::router())
        .merge(pages::auth::router())
        .merge(pages::home::router())
        .merge(pages::repo::router())
        .merge(pages::edit::router())
        .merge(pages::history::router())
        .merge(pages::compare::router())
        .merge(pages::feeds::router())
        .merge(pages::issues::router())
        .merge(pages::settings::router())
        .merge(pages::orgs::router())
        .merge(pages::repo_settings::router())
        .merge(pages::deploys::router())
        .merge(pages::checks::router())
        .merge(pages::repo_hooks::router())
        .merge(pages::repo_deploy_keys::router())
        .merge(pages::repo_mirrors::router())
        .merge(pages::admin::router())
        .map_router(|r| {
            r.fallback(show_not_found)
                .layer(axum::middleware::from_fn(sign_in_hint))
        })
}

/// 200 when the database answers; load balancers and compose health checks poll this.
/// `?verbose` answers JSON with the scheduled backups' last outcome as well.
async fn show_health(
    State(st): State<WebState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let database = st.forge.ping_database().await;
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
            .backup_status()
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
    not_found()
}

const NOT_FOUND: &str = "There is nothing at this address.";

/// Marks the one "nothing here" page, for `sign_in_hint` to find among the responses.
#[derive(Clone, Copy)]
struct NotFoundPage;

/// The 404 page, for a missing address and for one the visitor may not see alike.
pub fn not_found() -> Response {
    let mut res = error_page(StatusCode::NOT_FOUND, NOT_FOUND);
    res.extensions_mut().insert(NotFoundPage);
    res
}

/// A visitor who is not signed in and finds nothing is offered to sign in (and come back), as a
/// private repository's page is a 404 to them. Every such 404 gets the same offer, whatever
/// the address held, so the page still does not tell a private repository from a missing one.
async fn sign_in_hint(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let signed_out = req.method() == axum::http::Method::GET
        && session::cookie(req.headers(), session::SESSION_COOKIE).is_none();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    if !(signed_out && res.extensions().get::<NotFoundPage>().is_some()) {
        return res;
    }
    let login = format!("/login?next={}", session::encode_path(&path));
    render_error(StatusCode::NOT_FOUND, NOT_FOUND, Some(&login))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: session::Nav,
    status: u16,
    message: &'a str,
    /// The sign-in link (back to this address after), for a signed-out visitor's 404.
    sign_in: Option<&'a str>,
}

/// An HTML error page; the message is for people and never carries internal details.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    render_error(status, message, None)
}

fn render_error(status: StatusCode, message: &str, sign_in: Option<&str>) -> Response {
    let page = ErrorPage {
        nav: session::Nav::default(),
        status: status.as_u16(),
        message,
        sign_in,
    };
    match page.render() {
        Ok(html) => assets::with_page_csp((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            (status, message.to_owned()).into_response()
        }
    }
}
