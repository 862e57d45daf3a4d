//! The server side of the hook socket (`DATA_DIR/labforge.sock`, mode 0600): authenticates the
//! per-start secret, then hands the request to the domain and streams its lines back.

use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::hook_wire::{
    ChecksReply, ChecksRequest, HoldReply, HoldRequest, HookReply, HookRequest, MAX_REQUEST,
};
use crate::domain::Forge;
use crate::model::{HookName, RefUpdate, terminal_text};

/// Binds the socket (replacing one left by an earlier run); only our user may connect.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)
        .map_err(|e| anyhow::anyhow!("binding the hook socket {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(listener)
}

pub async fn serve(listener: UnixListener, forge: Arc<Forge>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "hook socket accept failed");
                    continue;
                }
            },
        };
        let forge = Arc::clone(&forge);
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &forge).await {
                tracing::warn!(error = %e, "hook request failed");
            }
        });
    }
}

async fn answer(stream: UnixStream, forge: &Forge) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut read = BufReader::new(read.take(MAX_REQUEST as u64));
    read.read_line(&mut line).await?;
    if let Ok(hold) = serde_json::from_str::<HoldRequest>(&line) {
        return hold_for_backup(hold, read, write, forge).await;
    }
    if let Ok(query) = serde_json::from_str::<ChecksRequest>(&line) {
        let checks = forge
            .check_state()
            .configs()
            .iter()
            .filter(|c| c.matches_repo(&query.checks_for))
            .map(|c| c.name.to_string())
            .collect();
        return send(&mut write, &ChecksReply { checks }).await;
    }
    let request: HookRequest = serde_json::from_str(&line)?;
    if !forge.hook_secret_is_valid(&request.secret) {
        send(
            &mut write,
            &line_for_pusher("labforge: the hook's secret is wrong; refusing"),
        )
        .await?;
        return send(&mut write, &HookReply::Done { ok: false }).await;
    }
    let updates: Option<Vec<RefUpdate>> = request
        .updates
        .iter()
        .map(|l| RefUpdate::parse_hook_line(l))
        .collect();
    let Some(updates) = updates else {
        send(
            &mut write,
            &line_for_pusher("labforge: git sent a ref update it could not read"),
        )
        .await?;
        return send(&mut write, &HookReply::Done { ok: false }).await;
    };
    let (say, mut said) = tokio::sync::mpsc::channel::<String>(64);
    // The push's request id: on the hook's log lines, and the last line of a refused push (a
    // dry run's refusal is its answer, not a failure).
    let id = forge.hook_gate().request_id(&request.nonce);
    let span = tracing::info_span!(
        "hook",
        hook = %request.hook,
        request_id = %id.as_ref().map_or("", |id| id.as_str()),
    );
    let work = async {
        let result = match request.hook {
            HookName::PreReceive => {
                let quarantine = request.quarantine.as_deref().map(Path::new);
                forge
                    .pre_receive(
                        &request.nonce,
                        &updates,
                        &request.push_options,
                        quarantine,
                        &say,
                    )
                    .await
            }
            HookName::PostReceive => forge
                .post_receive(&request.nonce, &updates, &say)
                .await
                .map(|()| true),
        };
        drop(say);
        result
    }
    .instrument(span);
    let relay = async {
        while let Some(text) = said.recv().await {
            if send(&mut write, &line_for_pusher(&text)).await.is_err() {
                break;
            }
        }
    };
    let (result, ()) = tokio::join!(work, relay);
    let ok = match result {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!(error = %e, hook = %request.hook, "hook handling failed");
            send(
                &mut write,
                &line_for_pusher("labforge: internal error; the push is refused"),
            )
            .await?;
            false
        }
    };
    let dry_run = crate::domain::push::is_dry_run(&request.push_options);
    if !ok
        && !dry_run
        && let Some(id) = id
    {
        send(
            &mut write,
            &line_for_pusher(&format!("labforge: request id {id}")),
        )
        .await?;
    }
    send(&mut write, &HookReply::Done { ok }).await
}

/// Holds ref updates until the client sends its next line or hangs up, and at most
/// `HOLD_WAIT`: a backup stuck on its side must not stop pushes for long.
async fn hold_for_backup(
    request: HoldRequest,
    mut read: impl tokio::io::AsyncBufRead + Unpin,
    mut write: tokio::net::unix::OwnedWriteHalf,
    forge: &Forge,
) -> anyhow::Result<()> {
    if request.hold != "backup" {
        return send(&mut write, &HoldReply::Refused("unknown hold".into())).await;
    }
    let hold = match forge.hold_ref_updates().await {
        Ok(hold) => hold,
        Err(e) => return send(&mut write, &HoldReply::Refused(e.to_string())).await,
    };
    tracing::info!("ref updates held for a backup");
    send(&mut write, &HoldReply::Held).await?;
    let mut line = String::new();
    let released =
        tokio::time::timeout(crate::domain::push::HOLD_WAIT, read.read_line(&mut line)).await;
    drop(hold);
    if released.is_err() {
        tracing::warn!("a backup held ref updates past its bound; released");
    }
    Ok(())
}

/// A line for the pusher's terminal (git shows it as `remote: …`). Check and deploy output,
/// ref names and commit titles reach it, so control bytes go (see `model::text`).
fn line_for_pusher(text: &str) -> HookReply {
    HookReply::Say(terminal_text(text).into_owned())
}

async fn send(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    reply: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(reply)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    Ok(())
}

/// The checks the `serve` listening on `socket` runs for `repo` (`OWNER/REPO`); None when no
/// serve answers there (none runs, or one too old to know the question) within a few seconds.
pub async fn ask_configured_checks(socket: &Path, repo: &str) -> Option<Vec<String>> {
    let ask = async {
        let stream = UnixStream::connect(socket).await.ok()?;
        let (read, mut write) = stream.into_split();
        let mut line = serde_json::to_vec(&ChecksRequest {
            checks_for: repo.to_owned(),
        })
        .ok()?;
        line.push(b'\n');
        write.write_all(&line).await.ok()?;
        let mut reply = String::new();
        BufReader::new(read.take(MAX_REQUEST as u64))
            .read_line(&mut reply)
            .await
            .ok()?;
        serde_json::from_str::<ChecksReply>(&reply)
            .ok()
            .map(|r| r.checks)
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), ask)
        .await
        .ok()
        .flatten()
}
