//! The client side of a backup's hold: `labforge backup` asks a running `serve` (over the hook
//! socket) to hold ref updates while it takes its instant.

use std::path::Path;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::hook_wire::{HoldReply, HoldRequest};

/// Ref updates are held while this lives; `release` (or dropping it) lets pushes go on.
pub struct RemoteHold {
    stream: BufReader<UnixStream>,
}

impl RemoteHold {
    pub async fn release(mut self) {
        // A server that is gone has released already.
        let _ = self.stream.get_mut().write_all(b"release\n").await;
    }
}

/// Holds ref updates in the `serve` listening on `socket`. None when no server listens there
/// (then nothing can push: hooks refuse every push without it).
pub async fn hold(socket: &Path) -> anyhow::Result<Option<RemoteHold>> {
    let stream = match UnixStream::connect(socket).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("connecting to serve at {}", socket.display()));
        }
    };
    let mut stream = BufReader::new(stream);
    let mut request = serde_json::to_vec(&HoldRequest {
        hold: "backup".into(),
    })?;
    request.push(b'\n');
    stream.get_mut().write_all(&request).await?;
    let mut line = String::new();
    stream
        .read_line(&mut line)
        .await
        .context("reading serve's answer to the hold")?;
    match serde_json::from_str::<HoldReply>(&line) {
        Ok(HoldReply::Held) => Ok(Some(RemoteHold { stream })),
        Ok(HoldReply::Refused(why)) => bail!("serve did not hold pushes: {why}"),
        Err(_) => bail!(
            "serve at {} did not answer the hold (an older labforge?)",
            socket.display()
        ),
    }
}
