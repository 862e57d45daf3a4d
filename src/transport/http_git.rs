//! Git's smart HTTP protocol at `/OWNER/REPO.git/…`: `info/refs`, `git-upload-pack`,
//! `git-receive-pack`, served by git's own programs in `--stateless-rpc` mode.

use crate::routes::{Need, Routes};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;

use crate::child_body::{feed_stdin, pkt_line, stdout_body};
use crate::domain::{Error, Forge};
use crate::git::runner::{GitChild, ServiceRequest};
use crate::git::{GitProtocol, Service};
use crate::model::{Actor, Client, Repo, RepoAccess, RepoName, RepoPath, Transport, Username};

#[derive(Clone)]
pub struct GitHttpState {
    pub forge: Arc<Forge>,
}

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    GitHttpState: FromRef<S>,
{
    Routes::new()
        .get(
            "/{owner}/{repo}/info/refs",
            Need::GitService,
            advertise_refs,
        )
        .post(
            "/{owner}/{repo}/git-upload-pack",
            Need::GitService,
            upload_pack,
        )
        .post(
            "/{owner}/{repo}/git-receive-pack",
            Need::GitService,
            receive_pack,
        )
}

#[derive(Deserialize)]
struct InfoRefsQuery {
    service: Option<String>,
}

/// A refusal as git's HTTP client expects it: plain text, and 401 with a challenge so git asks
/// for credentials. Anonymous callers get 401 for private and missing repositories alike.
struct Refusal {
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
            Error::Forbidden(why) | Error::Disabled(why) => (StatusCode::FORBIDDEN, why),
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

/// Reads, or pushes (which may create the repository), as the service needs.
async fn authorize(
    forge: &Forge,
    actor: Option<&Actor>,
    path: &RepoPath,
    service: Service,
) -> Result<Repo, Refusal> {
    let result = if service.writes() {
        forge.authorize_push(actor, path).await
    } else {
        forge.authorize_repo(actor, path, RepoAccess::Read).await
    };
    result.map_err(Refusal::to(actor.is_none()))
}

fn protocol(headers: &HeaderMap) -> Option<GitProtocol> {
    headers
        .get("git-protocol")
        .and_then(|v| v.to_str().ok())
        .and_then(GitProtocol::parse)
}

fn no_cache(mut res: Response, content_type: String) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).expect("service names are ASCII"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, max-age=0, must-revalidate"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `pusher` is set for a receive-pack that will run hooks; it gets a ticket that lives with git.
fn spawn(
    st: &GitHttpState,
    repo: &Repo,
    service: Service,
    advertise_refs: bool,
    protocol: Option<GitProtocol>,
    pusher: Option<&Actor>,
) -> Result<GitChild, Refusal> {
    let dir = st.forge.repo_dir(repo)?;
    let req = ServiceRequest {
        service,
        dir: &dir,
        stateless_rpc: true,
        advertise_refs,
        protocol,
        hook_env: Vec::new(),
    };
    Ok(st.forge.spawn_git_service(repo, pusher, req)?)
}

async fn advertise_refs(
    State(st): State<GitHttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<InfoRefsQuery>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let service = query.service.as_deref().and_then(Service::parse);
    let Some(service) = service.filter(|s| *s != Service::UploadArchive) else {
        return Ok((
            StatusCode::FORBIDDEN,
            "only git's smart HTTP protocol is served; use git 1.6.6 or newer\n",
        )
            .into_response());
    };
    let path = parse_path(&owner, &repo)?;
    let actor = authenticate(&st.forge, &headers, peer).await?;
    let repo = authorize(&st.forge, actor.as_ref(), &path, service).await?;
    let protocol = protocol(&headers);
    let child = spawn(&st, &repo, service, true, protocol, None)?;
    // Protocol v2 (upload-pack only: receive-pack answers v0 whatever was asked) starts with the
    // capability advertisement itself; v0/v1 want the service line first.
    let speaks_v2 = service == Service::UploadPack && protocol.map(GitProtocol::version) == Some(2);
    let prefix = (!speaks_v2).then(|| {
        [
            pkt_line(&format!("# service={}\n", service.name())),
            "0000".into(),
        ]
        .concat()
        .into()
    });
    let body = stdout_body(child, prefix, None, "advertise-refs");
    Ok(no_cache(
        Response::new(body),
        format!("application/x-{}-advertisement", service.name()),
    ))
}

async fn upload_pack(
    State(st): State<GitHttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let rpc = Rpc {
        owner: &owner,
        repo: &repo,
        peer,
        service: Service::UploadPack,
    };
    run_rpc(st, rpc, headers, body).await
}

async fn receive_pack(
    State(st): State<GitHttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let rpc = Rpc {
        owner: &owner,
        repo: &repo,
        peer,
        service: Service::ReceivePack,
    };
    run_rpc(st, rpc, headers, body).await
}

/// What a `git-upload-pack` or `git-receive-pack` POST asks for, and who asks.
struct Rpc<'a> {
    owner: &'a str,
    repo: &'a str,
    peer: SocketAddr,
    service: Service,
}

/// `Content-Encoding` of a request body: plain or gzip (git gzips large upload-pack requests).
fn is_gzip(headers: &HeaderMap) -> Result<bool, String> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("identity") => Ok(false),
        Some("gzip" | "x-gzip") => Ok(true),
        Some(other) => Err(format!("unsupported Content-Encoding {other}\n")),
    }
}

async fn run_rpc(
    st: GitHttpState,
    Rpc {
        owner,
        repo,
        peer,
        service,
    }: Rpc<'_>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let expected = format!("application/x-{}-request", service.name());
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return Ok((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected Content-Type {expected}\n"),
        )
            .into_response());
    }
    let gzip = match is_gzip(&headers) {
        Ok(g) => g,
        Err(why) => return Ok((StatusCode::UNSUPPORTED_MEDIA_TYPE, why).into_response()),
    };
    let path = parse_path(owner, repo)?;
    let actor = authenticate(&st.forge, &headers, peer).await?;
    let repo = authorize(&st.forge, actor.as_ref(), &path, service).await?;
    // Queue, rather than fail, when every upload-pack slot is busy.
    let permit = match service {
        Service::UploadPack => {
            let _waiting = st.forge.metrics.upload_waiting();
            Some(
                Arc::clone(&st.forge.upload_slots)
                    .acquire_owned()
                    .await
                    .expect("never closed"),
            )
        }
        _ => None,
    };
    let pusher = match service {
        Service::ReceivePack => actor.as_ref(),
        _ => None,
    };
    let mut child = spawn(&st, &repo, service, false, protocol(&headers), pusher)?;
    feed_stdin(&mut child, body, gzip);
    // After a push, post-receive did the bookkeeping.
    let body = stdout_body(child, None, permit, service.name());
    Ok(no_cache(
        Response::new(body),
        format!("application/x-{}-result", service.name()),
    ))
}
