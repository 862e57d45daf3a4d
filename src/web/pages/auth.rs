//! `/login` and `/logout`. Both POSTs are protected against cross-site requests: sign-in with a
//! double-submit token (there is no session yet), sign-out with the session's CSRF token.

use crate::routes::{Need, Routes};
use std::net::SocketAddr;

use crate::web::form::Form;
use askama::Template;
use axum::extract::{ConnectInfo, FromRef, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::render;
use crate::domain::Error;
use crate::model::{Client, Transport};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{LOGIN_COOKIE, MaybeUser, Nav, SESSION_COOKIE, cookie, set_cookie};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/login", Need::Public, show_login)
        .post("/login", Need::Public, sign_in)
        .post("/logout", Need::Public, sign_out)
}

const SESSION_SECS: i64 = 30 * 86_400;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    login_csrf: String,
    next: String,
    username: String,
    error: String,
}

/// Only paths on this site, so sign-in is no open redirect: exactly one leading `/` (never
/// `//host`), no `\\` (browsers read it as `/`), and only visible ASCII, which also rules out
/// the tab, CR, LF and NUL that browsers strip (`/\t/evil.example/` is `//evil.example/` to
/// them) or that cannot go into a `Location` header at all. Anything else becomes `/`.
pub(crate) fn safe_next(next: &str) -> String {
    let same_site = next.starts_with('/')
        && !next.starts_with("//")
        && next
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\');
    if same_site {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

fn login_form(
    st: &WebState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: &str,
) -> Result<Response, WebError> {
    let login_csrf = crate::domain::random_hex(16)?;
    let page = LoginPage {
        nav: Nav::default(),
        login_csrf: login_csrf.clone(),
        next: safe_next(next),
        username: username.to_owned(),
        error: error.to_owned(),
    };
    let mut res = render(page)?;
    *res.status_mut() = status;
    let secure = st.config.base_url.starts_with("https://");
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &login_csrf, 3600, secure),
    );
    Ok(res)
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn show_login(
    State(st): State<WebState>,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    login_form(
        &st,
        StatusCode::OK,
        q.next.as_deref().unwrap_or("/"),
        "",
        "",
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn sign_in(
    State(st): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !constant_time_eq::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes())
    {
        return Err(WebError::Forbidden(
            "The sign-in form expired or came from another site. Try again.".into(),
        ));
    }
    let next = safe_next(form.next.as_deref().unwrap_or("/"));
    match st
        .forge
        .sign_in(
            &form.username,
            &form.password,
            Client::new(peer.ip(), Transport::Web),
        )
        .await
    {
        Ok(session) => {
            let secure = st.config.base_url.starts_with("https://");
            let mut res = Redirect::to(&next).into_response();
            let h = res.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &session.token, SESSION_SECS, secure),
            );
            h.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, secure));
            Ok(res)
        }
        Err(Error::BadCredentials) => login_form(
            &st,
            StatusCode::UNAUTHORIZED,
            &next,
            &form.username,
            "Wrong user name or password.",
        ),
        Err(Error::Disabled(why)) => {
            login_form(&st, StatusCode::FORBIDDEN, &next, &form.username, &why)
        }
        Err(Error::Throttled(wait)) => {
            let mut res = login_form(
                &st,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                &form.username,
                "Too many failed sign-ins; wait a few minutes.",
            )?;
            res.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from(wait.as_secs().max(1)),
            );
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

async fn sign_out(
    State(st): State<WebState>,
    user: MaybeUser,
    headers: HeaderMap,
    Form(form): Form<crate::web::session::CsrfForm>,
) -> Result<Response, WebError> {
    let Some(session) = &user.0 else {
        return Ok(Redirect::to("/").into_response());
    };
    if !constant_time_eq::constant_time_eq(session.csrf.as_bytes(), form.csrf.as_bytes()) {
        return Err(WebError::Forbidden(
            "That request came from another site.".into(),
        ));
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        st.forge.sign_out(&token).await?;
    }
    let secure = st.config.base_url.starts_with("https://");
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::safe_next;
    use proptest::prelude::*;

    #[test]
    fn only_same_site_paths_pass() {
        for good in [
            "/",
            "/alice/dns",
            "/alice/dns/issues?state=all#c1",
            "/%2F%2Fx",
        ] {
            assert_eq!(safe_next(good), good);
        }
        for bad in [
            "//evil.example/",
            "/\t/evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/a\rb",
            "/a\nSet-Cookie: x=1",
            "/a\0b",
            "/ä",
            "/a b",
            "",
            "evil.example",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(crate::fuzz::config())]
        /// Whatever comes in, what goes out is a same-site path a `Location` header can carry.
        #[test]
        fn next_is_always_a_same_site_path(next in "\\PC{0,40}|/[ -~\t\r\n\\\\]{0,40}") {
            let out = safe_next(&next);
            prop_assert!(out.starts_with('/') && !out.starts_with("//"));
            prop_assert!(!out.contains('\\'));
            prop_assert!(axum::http::HeaderValue::from_str(&out).is_ok());
            prop_assert!(out == next || out == "/");
        }
    }
}
