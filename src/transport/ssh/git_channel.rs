//! A git service on an SSH channel: client data → git's stdin, git's stdout → channel data,
//! git's stderr → channel stderr, then EOF, exit status and close. The git process dies with
//! the channel: when the connection drops, the handler drops the kill switch.

use std::sync::Arc;

use axum::body::Bytes;
use russh::ChannelId;
use russh::server::Handle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::SshState;
use crate::git::runner::{GitChild, ServiceRequest};
use crate::git::{GitProtocol, Service};
use crate::model::Repo;

/// Up to 64 packets (about 2 MiB) wait for git's stdin before the client is slowed down.
const STDIN_QUEUE: usize = 64;
const READ_CHUNK: usize = 32 * 1024;

pub async fn start(
    st: &SshState,
    repo: Repo,
    service: Service,
    protocol: Option<GitProtocol>,
    channel: ChannelId,
    handle: Handle,
) -> anyhow::Result<(mpsc::Sender<Bytes>, oneshot::Sender<()>)> {
    let dir = st.forge.repo_dir(&repo)?;
    // The same slots as smart HTTP: a clone waits for one instead of failing.
    let permit = match service {
        Service::UploadPack => Some(Arc::clone(&st.forge.upload_slots).acquire_owned().await?),
        _ => None,
    };
    let mut child = st.forge.runner.spawn_service(ServiceRequest {
        service,
        dir: &dir,
        stateless_rpc: false,
        advertise_refs: false,
        protocol,
        hook_env: Vec::new(),
    })?;
    let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(STDIN_QUEUE);
    if let Some(stdin) = child.child.stdin.take() {
        tokio::spawn(feed_stdin(stdin, stdin_rx));
    }
    let (kill_tx, kill_rx) = oneshot::channel();
    let forge = Arc::clone(&st.forge);
    tokio::spawn(async move {
        let ok = pump(child, channel, handle, kill_rx).await;
        drop(permit);
        if ok
            && service.writes()
            && let Err(e) = forge.after_push(&repo).await
        {
            tracing::warn!(error = %e, "after-push bookkeeping failed");
        }
    });
    Ok((stdin_tx, kill_tx))
}

async fn feed_stdin(mut stdin: tokio::process::ChildStdin, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(chunk) = rx.recv().await {
        if stdin.write_all(&chunk).await.is_err() {
            return;
        }
    }
    // Sender dropped (client EOF or channel gone): closing stdin tells git the input ended.
}

/// Streams git's output to the channel until git exits; returns whether it succeeded.
async fn pump(
    mut child: GitChild,
    channel: ChannelId,
    handle: Handle,
    mut kill: oneshot::Receiver<()>,
) -> bool {
    let (Some(mut stdout), Some(mut stderr)) =
        (child.child.stdout.take(), child.child.stderr.take())
    else {
        return false;
    };
    let (mut out_buf, mut err_buf) = (vec![0u8; READ_CHUNK], vec![0u8; READ_CHUNK]);
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            _ = &mut kill => return false, // channel or connection gone: dropping `child` kills git
            () = tokio::time::sleep_until(child.deadline) => {
                tracing::warn!("git over SSH ran past its deadline; killed");
                let _ = handle.extended_data(channel, 1, Bytes::from_static(b"error: timed out\n")).await;
                let _ = child.child.start_kill();
                out_open = false;
                err_open = false;
            }
            n = stdout.read(&mut out_buf), if out_open => match n {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => if handle.data(channel, Bytes::copy_from_slice(&out_buf[..n])).await.is_err() { return false },
            },
            n = stderr.read(&mut err_buf), if err_open => match n {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => if handle.extended_data(channel, 1, Bytes::copy_from_slice(&err_buf[..n])).await.is_err() { return false },
            },
        }
    }
    let status = tokio::select! {
        _ = &mut kill => return false,
        status = child.child.wait() => status,
    };
    let (ok, code) = match status {
        Ok(s) => (s.success(), s.code().map_or(128, |c| c as u32)),
        Err(_) => (false, 128),
    };
    let _ = handle.eof(channel).await;
    let _ = handle.exit_status_request(channel, code).await;
    let _ = handle.close(channel).await;
    ok
}
