//! A git service for `labforge serv`: authorized here, spawned by this process through the one
//! runner with the same push ticket as the built-in server (so protected branches, checks,
//! deploys and `-o deploy=wait` behave the same), and relayed over the socket: `serv`'s input
//! to git's stdin, git's stdout and stderr as frames, then the exit status.

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout_at;

use super::serv_rpc::{frame, send_output};
use super::serv_wire as wire;
use super::ssh::SshState;
use super::ssh::commands::Output;
use super::ssh::git_channel::{Gate, archive_gate};
use super::ssh::upload_archive;
use crate::domain::{Error, Principal, Streams};
use crate::git::runner::GitChild;
use crate::git::{GitProtocol, Service};
use crate::model::RepoPath;

/// Chunks waiting for git's stdin before `serv` is slowed down (as the built-in server).
const STDIN_QUEUE: usize = 64;

pub(super) async fn run(
    st: &SshState,
    principal: Principal,
    service: Service,
    path: RepoPath,
    protocol: Option<GitProtocol>,
    mut input: impl AsyncRead + Unpin + Send + 'static,
    write: &mut (impl AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    let forge = &st.forge;
    // A renamed or transferred repository: the old path keeps working, with a warning.
    let (path, moved) = match forge.moved_to(&principal, &path).await {
        Ok(Some(now)) => (now.clone(), true),
        _ => (path, false),
    };
    let authorized = forge.authorize_service_as(&principal, &path, service).await;
    let grant = match authorized {
        Ok(grant) => grant,
        Err(e) => {
            let message = match e {
                Error::NotFound => format!("repository '{path}' not found"),
                Error::Forbidden(why) => why,
                Error::Internal(e) => {
                    tracing::error!(error = ?e, "authorizing a git request from the host's sshd");
                    "internal error".to_owned()
                }
                other => other.to_string(),
            };
            return send_output(write, Output::fail(message)).await;
        }
    };
    if moved {
        let warning = format!("remote: this repository moved to {path}; update your remote\n");
        frame(write, wire::STDERR, warning.as_bytes()).await?;
    }
    // `serv`'s input, chunked into the queue the built-in server's archive check reads from.
    let (stdin_tx, mut stdin_rx) = mpsc::channel::<Bytes>(STDIN_QUEUE);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; wire::MAX_FRAME];
        loop {
            match input.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stdin_tx
                        .send(Bytes::copy_from_slice(&buf[..n]))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    let _stop_reading = AbortOnDrop(reader);
    // Never fired: a caller that goes away shows as a failed write instead.
    let (_keep, mut kill) = oneshot::channel::<()>();
    let _permit = match service {
        Service::UploadPack | Service::UploadArchive => Some(
            forge
                .upload_slots()
                .acquire_owned()
                .await
                .expect("the upload slots are never closed"),
        ),
        Service::ReceivePack => None,
    };
    let mut replay = Bytes::new();
    if service == Service::UploadArchive {
        match archive_gate(forge, &grant, &mut stdin_rx, &mut kill).await {
            Gate::Pass(raw) => replay = raw,
            Gate::Refuse(reason) => {
                frame(write, wire::STDOUT, &upload_archive::nack(&reason)).await?;
                return exit(write, 1).await;
            }
            Gate::Gone => return exit(write, 1).await,
        }
    }
    let streams = Streams {
        stateless_rpc: false,
        advertise_refs: false,
        protocol,
    };
    let spawned = forge.git_service(&grant, streams);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            tracing::error!(error = ?e, "starting git for the host's sshd");
            return send_output(write, Output::fail("internal error")).await;
        }
    };
    if let Some(stdin) = child.child.stdin.take() {
        tokio::spawn(feed_stdin(stdin, replay, stdin_rx));
    }
    pump(child, write).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn feed_stdin(
    mut stdin: tokio::process::ChildStdin,
    first: Bytes,
    mut rx: mpsc::Receiver<Bytes>,
) {
    if !first.is_empty() && stdin.write_all(&first).await.is_err() {
        return;
    }
    while let Some(chunk) = rx.recv().await {
        if stdin.write_all(&chunk).await.is_err() {
            return;
        }
    }
    // `serv` half-closed (its stdin ended): closing git's stdin tells git the input ended.
}

async fn exit(write: &mut (impl AsyncWrite + Unpin), code: u32) -> anyhow::Result<()> {
    frame(write, wire::EXIT, &code.to_be_bytes()).await?;
    write.flush().await?;
    Ok(())
}

/// Relays git's output until git exits, then its status. A write that fails (`serv` gone) or
/// does not finish by git's deadline ends here, and dropping `child` ends git's process group.
async fn pump(mut child: GitChild, write: &mut (impl AsyncWrite + Unpin)) -> anyhow::Result<()> {
    let (Some(mut stdout), Some(mut stderr)) =
        (child.child.stdout.take(), child.child.stderr.take())
    else {
        anyhow::bail!("git was started without its pipes");
    };
    let deadline = child.deadline;
    let (mut out_buf, mut err_buf) = (vec![0u8; wire::MAX_FRAME], vec![0u8; wire::MAX_FRAME]);
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let (tag, data) = tokio::select! {
            n = stdout.read(&mut out_buf), if out_open => match n {
                Ok(0) | Err(_) => { out_open = false; continue }
                Ok(n) => {
                    child.sent.add(n);
                    (wire::STDOUT, &out_buf[..n])
                }
            },
            n = stderr.read(&mut err_buf), if err_open => match n {
                Ok(0) | Err(_) => { err_open = false; continue }
                Ok(n) => (wire::STDERR, &err_buf[..n]),
            },
        };
        timeout_at(deadline, frame(write, tag, data)).await??;
    }
    // Output closed; the watchdog in GitChild bounds this wait by the deadline.
    let code = match child.child.wait().await {
        Ok(s) => s.code().map_or(128, |c| c as u32),
        Err(_) => 128,
    };
    exit(write, code).await
}
