//! Who is looking: the session cookie, read by the `MaybeUser` extractor. A cookie that names no
//! live session is refused (and cleared) rather than silently treated as anonymous.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::WebState;
use super::error::WebError;
use crate::domain::Session;
use crate::model::Actor;

pub const SESSION_COOKIE: &str = "labforge_session";
/// Double-submit token for the sign-in form, which has no session yet.
pub const LOGIN_COOKIE: &str = "labforge_login";

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` for `name`: HttpOnly, SameSite=Lax, Secure when the site is served over https.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).expect("cookie names and hex values are valid header text")
}

pub struct MaybeUser(pub Option<Session>);

impl MaybeUser {
    pub fn actor(&self) -> Option<&Actor> {
        self.0.as_ref().map(|s| &s.actor)
    }

    /// What the page header needs.
    pub fn nav(&self) -> Nav {
        match &self.0 {
            Some(s) => Nav {
                user: Some(s.actor.user.name.clone()),
                csrf: s.csrf.clone(),
                admin: s.actor.user.role == crate::model::SiteRole::Admin,
            },
            None => Nav::default(),
        }
    }
}

/// The signed-in user's name and CSRF token, for the header's sign-out form.
#[derive(Default)]
pub struct Nav {
    pub user: Option<String>,
    pub csrf: String,
    /// A site admin: the header links the administration pages.
    pub admin: bool,
}

impl<S> FromRequestParts<S> for MaybeUser
where
    S: Send + Sync,
    WebState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(MaybeUser(None));
        };
        let st = WebState::from_ref(state);
        match st.forge.session(&token).await {
            Ok(Some(session)) => Ok(MaybeUser(Some(session))),
            Ok(None) => {
                let secure = st.config.base_url.starts_with("https://");
                let mut res = super::error_page(
                    StatusCode::UNAUTHORIZED,
                    "Your session has ended. Please sign in again.",
                );
                res.headers_mut().append(
                    header::SET_COOKIE,
                    set_cookie(SESSION_COOKIE, "", 0, secure),
                );
                Err(res)
            }
            Err(e) => Err(WebError::from(e).into_response()),
        }
    }
}

/// A page that needs a signed-in user: anyone else is sent to the sign-in form, and back after.
pub struct RequireUser(pub Session);

/// `path` percent-encoded for a `next=` query value (kept readable: `/` stays).
pub(super) fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl<S> FromRequestParts<S> for RequireUser
where
    S: Send + Sync,
    WebState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match MaybeUser::from_request_parts(parts, state).await?.0 {
            Some(session) => Ok(RequireUser(session)),
            None => {
                let next = encode_path(parts.uri.path());
                Err(axum::response::Redirect::to(&format!("/login?next={next}")).into_response())
            }
        }
    }
}

/// A form whose only field is the CSRF token (remove, cancel, re-run buttons).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

impl RequireUser {
    /// Every state-changing form carries the session's CSRF token; a mismatch is a cross-site
    /// request (or a stale page) and changes nothing.
    pub fn check_csrf(&self, sent: &str) -> Result<(), WebError> {
        if constant_time_eq::constant_time_eq(self.0.csrf.as_bytes(), sent.as_bytes()) {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "That request came from another site or an old page; reload and try again.".into(),
            ))
        }
    }

    pub fn nav(&self) -> Nav {
        Nav {
            user: Some(self.0.actor.user.name.clone()),
            csrf: self.0.csrf.clone(),
            admin: self.0.actor.user.role == crate::model::SiteRole::Admin,
        }
    }
}
