//! Git's smart HTTP protocol at `/OWNER/REPO.git/…`: `info/refs`, `git-upload-pack`,
//! `git-receive-pack`, served by git's own programs in `--stateless-rpc` mode. Each handler
//! takes a `GitGrant` (see `git_grant`): the request is authorized before the handler runs.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::git_grant::{GitGrant, GitRoute, InfoRefs, ReceivePack, Refusal, UploadPack};
use crate::child_body::{feed_stdin, pkt_line, stdout_body};
use crate::domain::{Forge, Streams};
use crate::git::{GitProtocol, Service};
use crate::routes::{Need, Routes};

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

async fn advertise_refs(
    State(st): State<GitHttpState>,
    git: GitGrant<InfoRefs>,
) -> Result<Response, Refusal> {
    let service = git.grant.service();
    let streams = Streams {
        stateless_rpc: true,
        advertise_refs: true,
        protocol: git.protocol,
    };
    let child = st.forge.git_service(&git.grant, streams)?;
    // Protocol v2 (upload-pack only: receive-pack answers v0 whatever was asked) starts with the
    // capability advertisement itself; v0/v1 want the service line first.
    let speaks_v2 =
        service == Service::UploadPack && git.protocol.map(GitProtocol::version) == Some(2);
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
    git: GitGrant<UploadPack>,
    body: Body,
) -> Result<Response, Refusal> {
    run_rpc(st, git, body).await
}

async fn receive_pack(
    State(st): State<GitHttpState>,
    git: GitGrant<ReceivePack>,
    body: Body,
) -> Result<Response, Refusal> {
    run_rpc(st, git, body).await
}

async fn run_rpc<R: GitRoute>(
    st: GitHttpState,
    git: GitGrant<R>,
    body: Body,
) -> Result<Response, Refusal> {
    let service = git.grant.service();
    // Queue, rather than fail, when every upload-pack slot is busy.
    let permit = match service {
        Service::UploadPack => Some(
            st.forge
                .upload_slots()
                .acquire_owned()
                .await
                .expect("never closed"),
        ),
        _ => None,
    };
    let streams = Streams {
        stateless_rpc: true,
        advertise_refs: false,
        protocol: git.protocol,
    };
    let mut child = st.forge.git_service(&git.grant, streams)?;
    feed_stdin(&mut child, body, git.gzip);
    // After a push, post-receive did the bookkeeping.
    let body = stdout_body(child, None, permit, service.name());
    Ok(no_cache(
        Response::new(body),
        format!("application/x-{}-result", service.name()),
    ))
}
