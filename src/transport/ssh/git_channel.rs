//! A git service on an SSH channel: client data → git's stdin, git's stdout → channel data,
//! git's stderr → channel stderr, then EOF, exit status and close. The git process dies with
//! the channel: when the connection drops, the handler drops the kill switch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use russh::ChannelId;
use russh::server::Handle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

use super::SshState;
use super::upload_archive;
use tracing::Instrument;

use crate::domain::{Forge, ServiceGrant, Streams};
use crate::git::runner::GitChild;
use crate::git::{GitProtocol, Service};
use crate::metrics::RequestId;

/// Up to 64 packets (about 2 MiB) wait for git's stdin before the client is slowed down.
const STDIN_QUEUE: usize = 64;
const READ_CHUNK: usize = 32 * 1024;

/// How long a client may take to send `git archive --remote`'s request (a few packets).
const ARCHIVE_REQUEST_TIME: Duration = Duration::from_secs(30);

/// Set when a channel's git task has ended (and closed the channel): the session counts open
/// channels, and russh never reports the client's answer to a close the server sent first.
#[derive(Clone, Default)]
pub struct Ended(Arc<AtomicBool>);

impl Ended {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Sets `Ended` when the task holding it ends, however it ends.
struct EndOnDrop(Ended);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Starts the service in the background and returns its stdin feed and kill switch at once, so
/// the session keeps answering while a clone waits for an upload slot. `ended` is set when the
/// task is over.
pub fn start(
    st: &SshState,
    grant: ServiceGrant,
    protocol: Option<GitProtocol>,
    channel: ChannelId,
    handle: Handle,
    ended: Ended,
) -> (mpsc::Sender<Bytes>, oneshot::Sender<()>) {
    let (stdin_tx, mut stdin_rx) = mpsc::channel::<Bytes>(STDIN_QUEUE);
    let (kill_tx, mut kill_rx) = oneshot::channel();
    let forge = Arc::clone(&st.forge);
    let service = grant.service();
    // One id for the whole git command, as an HTTP request has (`remote: request id` on a
    // refused push; `request_id` on every log line of it).
    let id = RequestId::new();
    let span = tracing::info_span!(
        "git",
        transport = "ssh",
        service = service.name(),
        repo = %grant.repo().full_name(),
        user = %grant.actor().map_or("", |a| a.user.name.as_str()),
        request_id = %id,
    );
    let task = async move {
        let _ended = EndOnDrop(ended);
        // The same slots as smart HTTP: a clone waits for one instead of failing. An archive is
        // as heavy as a clone's pack, so upload-archive takes one too.
        let permit = match service {
            Service::UploadPack | Service::UploadArchive => {
                let _waiting = forge.metrics().upload_waiting();
                tokio::select! {
                    _ = &mut kill_rx => return,
                    permit = forge.upload_slots().acquire_owned() => Some(permit.expect("never closed")),
                }
            }
            Service::ReceivePack => None,
        };
        let mut replay = Bytes::new();
        if service == Service::UploadArchive {
            match archive_gate(&forge, &grant, &mut stdin_rx, &mut kill_rx).await {
                Gate::Pass(raw) => replay = raw,
                Gate::Refuse(reason) => {
                    let nack = Bytes::from(upload_archive::nack(&reason));
                    let _ = handle.data(channel, nack).await;
                    finish(&handle, channel, 1).await;
                    return;
                }
                Gate::Gone => {
                    finish(&handle, channel, 1).await;
                    return;
                }
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
                tracing::error!(error = ?e, "starting git for an SSH session");
                let _ = handle
                    .extended_data(channel, 1, Bytes::from_static(b"error: internal error\n"))
                    .await;
                finish(&handle, channel, 1).await;
                return;
            }
        };
        if let Some(stdin) = child.child.stdin.take() {
            tokio::spawn(feed_stdin(stdin, replay, stdin_rx));
        }
        // After a push, post-receive did the bookkeeping.
        let _ = pump(child, channel, &handle, kill_rx).await;
        drop(permit);
    };
    tokio::spawn(id.scope(task).instrument(span));
    (stdin_tx, kill_tx)
}

/// What the archive check decided.
pub(crate) enum Gate {
    /// Counted within the limits: these bytes (the request) go to git first.
    Pass(Bytes),
    /// Refused; the reason goes into git's NACK.
    Refuse(String),
    /// The client went away (or an internal error, logged) before a decision.
    Gone,
}

/// Reads `upload-archive`'s request from the client (bounded in bytes and time) and counts the
/// tree it names, before git starts.
pub(crate) async fn archive_gate(
    forge: &Arc<Forge>,
    grant: &ServiceGrant,
    rx: &mut mpsc::Receiver<Bytes>,
    kill: &mut oneshot::Receiver<()>,
) -> Gate {
    let deadline = Instant::now() + ARCHIVE_REQUEST_TIME;
    let mut buf = Vec::new();
    let request = loop {
        match upload_archive::parse(&buf) {
            Ok(Some(req)) => break req,
            Ok(None) => {}
            Err(e) => return Gate::Refuse(e.to_string()),
        }
        tokio::select! {
            _ = &mut *kill => return Gate::Gone,
            chunk = timeout_at(deadline, rx.recv()) => match chunk {
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
                Ok(None) => return Gate::Gone,
                Err(_) => return Gate::Refuse("the request did not arrive in time".into()),
            },
        }
    };
    let tree = match upload_archive::treeish(&request.args) {
        Ok(tree) => tree,
        Err(e) => return Gate::Refuse(e.to_string()),
    };
    match forge.check_archive(&grant.to_read(), &tree).await {
        Ok(Ok(_)) => Gate::Pass(Bytes::from(buf)),
        Ok(Err(refusal)) => Gate::Refuse(refusal.to_string()),
        Err(e) => {
            tracing::error!(error = ?e, "checking an SSH archive request");
            Gate::Refuse("internal error".into())
        }
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
    // Sender dropped (client EOF or channel gone): closing stdin tells git the input ended.
}

/// Ends the channel as OpenSSH does: EOF, exit status, close.
async fn finish(handle: &Handle, channel: ChannelId, code: u32) {
    let _ = handle.eof(channel).await;
    let _ = handle.exit_status_request(channel, code).await;
    let _ = handle.close(channel).await;
}

/// Sends data, giving up at the deadline: a client that stops reading (its window stays
/// closed) must not hold git and its upload slot forever.
async fn send(
    handle: &Handle,
    channel: ChannelId,
    ext: Option<u32>,
    data: &[u8],
    deadline: Instant,
) -> bool {
    let data = Bytes::copy_from_slice(data);
    let sent = match ext {
        None => timeout_at(deadline, handle.data(channel, data)).await,
        Some(code) => timeout_at(deadline, handle.extended_data(channel, code, data)).await,
    };
    matches!(sent, Ok(Ok(())))
}

/// Streams git's output to the channel until git exits; returns whether it succeeded.
async fn pump(
    mut child: GitChild,
    channel: ChannelId,
    handle: &Handle,
    mut kill: oneshot::Receiver<()>,
) -> bool {
    let (Some(mut stdout), Some(mut stderr)) =
        (child.child.stdout.take(), child.child.stderr.take())
    else {
        return false;
    };
    let deadline = child.deadline;
    let (mut out_buf, mut err_buf) = (vec![0u8; READ_CHUNK], vec![0u8; READ_CHUNK]);
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            _ = &mut kill => return false, // channel or connection gone: dropping `child` ends git
            n = stdout.read(&mut out_buf), if out_open => match n {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => {
                    child.sent.add(n);
                    if !send(handle, channel, None, &out_buf[..n], deadline).await { return false }
                }
            },
            n = stderr.read(&mut err_buf), if err_open => match n {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => if !send(handle, channel, Some(1), &err_buf[..n], deadline).await { return false },
            },
        }
    }
    // Output closed; the watchdog in GitChild bounds this wait by the deadline.
    let status = tokio::select! {
        _ = &mut kill => return false,
        status = child.child.wait() => status,
    };
    let (ok, code) = match status {
        Ok(s) => (s.success(), s.code().map_or(128, |c| c as u32)),
        Err(_) => (false, 128),
    };
    finish(handle, channel, code).await;
    ok
}
