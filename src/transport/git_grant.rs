//! The one extractor of git's smart HTTP routes: it reads the request's shape (the service
//! asked for, and for a POST its content type and encoding), parses `OWNER/REPO`, authenticates
//! HTTP Basic credentials and authorizes the level the service needs, in that order, so every
//! refusal keeps the bytes and status git's client has always had. `Refusal` is the one place
//! domain errors become git's HTTP answers (401 with a challenge for anonymous callers).

use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;

use super::http_git::GitHttpState;
use crate::domain::{Error, Forge, Principal, ServiceGrant};
use crate::git::{GitProtocol, Service};
use crate::model::{Actor, Client, RepoName, RepoPath, Transport, Username};

/// Which route a `GitGrant` serves, and so which service (and level) it authorizes.
pub trait GitRoute: Send + Sync + 'static {
    /// The service asked for, or the answer that refuses the request before anything else.
    fn service(parts: &Parts) -> Result<Service, Shape>;
    /// A POST carrying git's request body (its type and encoding are checked).
    const RPC: bool;
}

/// `GET info/refs?service=…`: the advertisement of upload-pack (read) or receive-pack (write).
pub enum InfoRefs {}
/// `POST git-upload-pack`: a fetch or clone, needs read.
pub enum UploadPack {}
/// `POST git-receive-pack`: a push, needs write.
pub enum ReceivePack {}

#[derive(Deserialize)]
struct InfoRefsQuery {
    service: Option<String>,
}

impl GitRoute for InfoRefs {
    const RPC: bool = false;
    fn service(parts: &Parts) -> Result<Service, Shape> {
        let Query(query) = Query::<InfoRefsQuery>::try_from_uri(&parts.uri)
            .map_err(|e| Shape(e.status(), e.body_text()))?;
        let service = query.service.as_deref().and_then(Service::parse);
        service
            .filter(|s| *s != Service::UploadArchive)
            .ok_or_else(|| {
                Shape(
                    StatusCode::FORBIDDEN,
                    "only git's smart HTTP protocol is served; use git 1.6.6 or newer\n".into(),
                )
            })
    }
}

impl GitRoute for UploadPack {
    const RPC: bool = true;
    fn service(_: &Parts) -> Result<Service, Shape> {
        Ok(Service::UploadPack)
    }
}

impl GitRoute for ReceivePack {
    const RPC: bool = true;
    fn service(_: &Parts) -> Result<Service, Shape> {
        Ok(Service::ReceivePack)
    }
}

/// A request git's client did not shape as the protocol wants: the status and its text.
pub struct Shape(StatusCode, String);

impl IntoResponse for Shape {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// An authorized git request: the grant the service needs, plus what the client asked of git.
pub struct GitGrant<R: GitRoute> {
    pub grant: ServiceGrant,
    pub protocol: Option<GitProtocol>,
    /// The request body is gzipped (git gzips large upload-pack requests); POSTs only.
    pub gzip: bool,
    route: PhantomData<fn() -> R>,
}

/// The path's two segments; the repository's may end in `.git`.
#[derive(Deserialize)]
struct Segments {
    owner: String,
    repo: String,
}

impl<S, R> FromRequestParts<S> for GitGrant<R>
where
    S: Send + Sync,
    GitHttpState: FromRef<S>,
    R: GitRoute,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let st = GitHttpState::from_ref(state);
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(segments) = Path::<Segments>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let service = R::service(parts).map_err(IntoResponse::into_response)?;
        let gzip = if R::RPC {
            rpc_body(&parts.headers, service).map_err(IntoResponse::into_response)?
        } else {
            false
        };
        let path =
            parse_path(&segments.owner, &segments.repo).map_err(IntoResponse::into_response)?;
        let actor = authenticate(&st.forge, &parts.headers, peer)
            .await
            .map_err(IntoResponse::into_response)?;
        // A renamed or transferred repository: git follows a 301 on its first request (and
        // prints `warning: redirecting to …`), then talks to the new address. Asked before
        // authorizing, so a push to the old path never creates a repository there.
        if !R::RPC {
            let principal = Principal::from_actor(actor.as_ref());
            let moved = st
                .forge
                .moved_to(&principal, &path)
                .await
                .map_err(|e| Refusal::from(e).into_response())?;
            if let Some(now) = moved {
                let to = now.moved_url(parts.uri.path(), parts.uri.query());
                return Err(crate::web::access::moved_permanently(&to));
            }
        }
        let grant = st
            .forge
            .authorize_service(actor.as_ref(), &path, service)
            .await
            .map_err(|error| Refusal::to(actor.is_none())(error).into_response())?;
        Ok(GitGrant {
            grant,
            protocol: protocol(&parts.headers),
            gzip,
            route: PhantomData,
        })
    }
}

/// A POST's body must be git's request for the service, plain or gzip; returns whether gzip.
fn rpc_body(headers: &HeaderMap, service: Service) -> Result<bool, Shape> {
    let expected = format!("application/x-{}-request", service.name());
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return Err(Shape(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected Content-Type {expected}\n"),
        ));
    }
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("identity") => Ok(false),
        Some("gzip" | "x-gzip") => Ok(true),
        Some(other) => Err(Shape(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {other}\n"),
        )),
    }
}

/// A refusal as git's HTTP client expects it: plain text, and 401 with a challenge so git asks
/// for credentials. Anonymous callers get 401 for private and missing repositories alike.
pub struct Refusal {
    error: Error,
    anonymous: bool,
}

impl Refusal {
    fn to(anonymous: bool) -> impl FnOnce(Error) -> Refusal {
        move |error| Refusal { error, anonymous }
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal {
            error,
            anonymous: false,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self.error {
            Error::NotFound | Error::Forbidden(_) if self.anonymous => {
                return challenge("authentication required");
            }
            Error::BadCredentials => return challenge("authentication failed"),
            Error::Throttled(wait) => {
                let mut res = (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed attempts; try again later\n",
                )
                    .into_response();
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(wait.as_secs().max(1)),
                );
                return res;
            }
            Error::NotFound => (StatusCode::NOT_FOUND, "repository not found".to_owned()),
            Error::Forbidden(why) | Error::Disabled(why) | Error::Archived(why) => {
                (StatusCode::FORBIDDEN, why)
            }
            Error::InvalidInput(why) => (StatusCode::BAD_REQUEST, why),
            Error::Conflict(why) => (StatusCode::CONFLICT, why),
            Error::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Error::Unavailable.to_string(),
            ),
            Error::Internal(e) => {
                tracing::error!(error = ?e, "git over HTTP failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        (status, format!("{text}\n")).into_response()
    }
}

fn challenge(text: &str) -> Response {
    let mut res = (StatusCode::UNAUTHORIZED, format!("{text}\n")).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"labforge\""),
    );
    res
}

fn parse_path(owner: &str, repo: &str) -> Result<RepoPath, Refusal> {
    let owner = Username::parse(owner).map_err(Error::from)?;
    let name = RepoName::parse_url_segment(repo).map_err(Error::from)?;
    Ok(RepoPath { owner, name })
}

/// HTTP Basic credentials, if sent. A malformed header is a failed login, not anonymous.
async fn authenticate(
    forge: &Forge,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<Option<Actor>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let client = Client::new(peer.ip(), Transport::HttpGit);
    let bad = || {
        forge.authentication_failed("", client);
        Refusal {
            error: Error::BadCredentials,
            anonymous: true,
        }
    };
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(bad)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, password) = decoded.split_once(':').ok_or_else(bad)?;
    let actor = forge
        .authenticate_basic(user, password, client)
        .await
        .map_err(Refusal::to(true))?;
    tracing::Span::current().record("user", actor.user.name.as_str());
    Ok(Some(actor))
}

fn protocol(headers: &HeaderMap) -> Option<GitProtocol> {
    headers
        .get("git-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(GitProtocol::parse)
}
