//! The web room's way to a repository: one extractor for pages (`RepoPage<L>`) and one for
//! forms (`RepoForm<L, T>`). Each parses `{owner}/{repo}` from the path, finds the session,
//! asks `authorize` for level `L` and, for forms, checks the CSRF token, before the handler
//! runs; so a handler's signature says what it needs, and it holds the `Grant` the domain
//! functions take. A repository the visitor may not reach is the same 404 as a missing one.
//! The site administration pages have their twins, `AdminPage` and `AdminForm<T>`, which hold
//! the `SiteAdmin` proof instead of a grant.

use axum::body::{Body, Bytes};
use axum::extract::{FromRef, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::WebState;
use super::error::WebError;
use super::form::Form;
use super::session::{CsrfForm, MaybeUser, Nav, RequireUser};
use crate::domain::Session;
use crate::domain::{Error, Grant, Level, Principal, Read, SiteAdmin};
use crate::model::{Repo, RepoAccess, RepoName, RepoPath, Username};

/// The rest of a path after `{owner}/{repo}/…/` (`REF/PATH`, a compare spec, a commit id).
#[derive(serde::Deserialize)]
pub struct Rest {
    pub rest: String,
}

/// A numeric id after `{owner}/{repo}/…/` (a deploy run, a check run, a rule, a label).
#[derive(serde::Deserialize)]

pub struct Id {
    pub id: i64,
}

/// A repository page the visitor may see at level `L`.
pub struct RepoPage<L: Level = Read> {
    pub grant: Grant<L>,
    pub visitor: MaybeUser,
}

impl<L: Level> RepoPage<L> {
    pub fn repo(&self) -> &Repo {
        self.grant.repo()
    }

    pub fn nav(&self) -> Nav {
        self.visitor.nav()
    }
}

/// A form posted to a repository's address by a signed-in user with level `L`, its CSRF token
/// checked, its fields in `form`.
pub struct RepoForm<L: Level, T> {
    pub grant: Grant<L>,
    pub user: RequireUser,
    pub form: T,
}

/// `{owner}/{repo}` of the matched route, parsed like every name from outside.
pub async fn repo_path(parts: &mut Parts) -> Result<RepoPath, WebError> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| WebError::NotFound)?;
    let find = |key: &str| {
        params
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or(WebError::NotFound)
    };
    Ok(RepoPath {
        owner: Username::parse(find("owner")?)?,
        name: RepoName::parse_url_segment(find("repo")?)?,
    })
}

/// A repository renamed or transferred away from `path`: 301 to its new address for a visitor
/// who may read it there; for anyone else the missing repository's answer, as before.
async fn moved_or_missing(
    st: &WebState,
    visitor: &MaybeUser,
    path: &RepoPath,
    parts: &Parts,
) -> Response {
    let principal = Principal::from_actor(visitor.actor());
    match st.forge.moved_to(&principal, path).await {
        Ok(Some(now)) => {
            let to = now.moved_url(parts.uri.path(), parts.uri.query());
            moved_permanently(&to)
        }
        Ok(None) => WebError::NotFound.into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// 301 (not axum's 308): what browsers, git and Gitea's clients expect of a moved repository.
pub fn moved_permanently(to: &str) -> Response {
    (
        axum::http::StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, to.to_owned())],
    )
        .into_response()
}

/// Where a visitor who is not signed in is sent for a page that needs more than reading.
fn sign_in_first(parts: &Parts) -> Response {
    let next = super::session::encode_path(parts.uri.path());
    axum::response::Redirect::to(&format!("/login?next={next}")).into_response()
}

impl<S, L> FromRequestParts<S> for RepoPage<L>
where
    S: Send + Sync,
    WebState: FromRef<S>,
    L: Level,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let visitor = visitor_for::<L, S>(parts, state).await?;
        let path = repo_path(parts)
            .await
            .map_err(IntoResponse::into_response)?;
        let st = WebState::from_ref(state);
        let grant = match st.forge.authorize::<L>(visitor.actor(), &path).await {
            Ok(grant) => grant,
            Err(Error::NotFound) => return Err(moved_or_missing(&st, &visitor, &path, parts).await),
            Err(e) => return Err(WebError::from(e).into_response()),
        };
        Ok(RepoPage { grant, visitor })
    }
}

impl<S, L, T> FromRequest<S> for RepoForm<L, T>
where
    S: Send + Sync,
    WebState: FromRef<S>,
    L: Level,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let user = RequireUser::from_request_parts(&mut parts, state).await?;
        let path = repo_path(&mut parts)
            .await
            .map_err(IntoResponse::into_response)?;
        let st = WebState::from_ref(state);
        let grant = st
            .forge
            .authorize::<L>(Some(&user.0.actor), &path)
            .await
            .map_err(|e| WebError::from(e).into_response())?;
        let form = csrf_checked_form(parts, body, state, &user).await?;
        Ok(RepoForm { grant, user, form })
    }
}

/// A site administration page, seen by a signed-in site admin. Everyone else (signed out, a
/// user, a stale session, a disabled or revoked admin) gets the very answer a missing page
/// gets, so the pages' existence is no one else's business.
pub struct AdminPage {
    pub admin: SiteAdmin,
    pub user: RequireUser,
}

/// A form posted to a site administration page: the admin proven first (anyone else: the
/// missing page), then the CSRF token, then the handler's fields in `form`.
pub struct AdminForm<T> {
    pub admin: SiteAdmin,
    pub user: RequireUser,
    pub form: T,
}

/// The signed-in site admin behind a request, or the missing page's response.
async fn site_admin<S>(parts: &mut Parts, state: &S) -> Result<(SiteAdmin, Session), Response>
where
    S: Send + Sync,
    WebState: FromRef<S>,
{
    let visitor = MaybeUser::from_request_parts(parts, state)
        .await
        .map_err(|_| super::not_found())?;
    let Some(session) = visitor.0 else {
        return Err(super::not_found());
    };
    let st = WebState::from_ref(state);
    let admin = st
        .forge
        .authorize_site_admin(Some(&session.actor))
        .await
        .map_err(|e| WebError::from(e).into_response())?;
    Ok((admin, session))
}

impl<S> FromRequestParts<S> for AdminPage
where
    S: Send + Sync,
    WebState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let (admin, session) = site_admin(parts, state).await?;
        Ok(AdminPage {
            admin,
            user: RequireUser(session),
        })
    }
}

impl<S, T> FromRequest<S> for AdminForm<T>
where
    S: Send + Sync,
    WebState: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let (admin, session) = site_admin(&mut parts, state).await?;
        let user = RequireUser(session);
        let form = csrf_checked_form(parts, body, state, &user).await?;
        Ok(AdminForm { admin, user, form })
    }
}

/// The visitor of a page that needs level `L`: anyone for reading, and for more a signed-in
/// user (a visitor who is not signed in is sent to sign in first).
pub(super) async fn visitor_for<L: Level, S>(
    parts: &mut Parts,
    state: &S,
) -> Result<MaybeUser, Response>
where
    S: Send + Sync,
    WebState: FromRef<S>,
{
    let visitor = MaybeUser::from_request_parts(parts, state).await?;
    if L::ACCESS > RepoAccess::Read && visitor.0.is_none() {
        return Err(sign_in_first(parts));
    }
    Ok(visitor)
}

/// A form's body after its sender was authorized: the CSRF token checked against `user`'s
/// session first, then the handler's fields. Every form extractor (repository, organization,
/// site administration) reads its body here, so none can skip the token.
pub(super) async fn csrf_checked_form<T: DeserializeOwned, S: Send + Sync>(
    parts: Parts,
    body: Body,
    state: &S,
    user: &RequireUser,
) -> Result<T, Response> {
    let content_type = parts.headers.get(header::CONTENT_TYPE).cloned();
    let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(IntoResponse::into_response)?;
    let Form(csrf) = form_of::<CsrfForm, S>(&bytes, content_type.as_ref(), state).await?;
    user.check_csrf(&csrf.csrf)
        .map_err(IntoResponse::into_response)?;
    let Form(form) = form_of::<T, S>(&bytes, content_type.as_ref(), state).await?;
    Ok(form)
}

/// Reads the same body as another form shape (the CSRF field, then the handler's fields).
async fn form_of<T: DeserializeOwned, S: Send + Sync>(
    bytes: &Bytes,
    content_type: Option<&header::HeaderValue>,
    state: &S,
) -> Result<Form<T>, Response> {
    let mut req = Request::builder().method(Method::POST);
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let req = req
        .body(Body::from(bytes.clone()))
        .expect("a method, one header and a body make a valid request");
    Form::<T>::from_request(req, state).await
}
