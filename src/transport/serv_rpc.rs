//! The server side of `labforge keys` and `labforge serv`, the programs the host's OpenSSH runs
//! when labforge shares port 22 with it. Access is decided here, never in those programs: they
//! forward what sshd gave them and relay what comes back. A caller must be this process's own
//! user (or root) by the socket's peer credentials (`SO_PEERCRED`) and know the secret this
//! start wrote beside the socket, both of which only that user can read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::serv_wire::{self as wire, KeysReply, ServRequest};
use super::ssh::SshState;
use super::ssh::commands::{self, Output};
use super::ssh::exec::{self, ExecRequest};
use crate::domain::Principal;
use crate::git::GitProtocol;
use crate::model::terminal_text;

/// How long a caller may take to send its request line.
const REQUEST_TIME: Duration = Duration::from_secs(10);

/// The bound socket and the secret written beside it for this start.
pub struct ServListener {
    listener: UnixListener,
    secret: String,
    paths: (PathBuf, PathBuf),
}

/// Binds `DATA_DIR/labforge-serv.sock` (replacing one left by an earlier run) and writes a new
/// secret to `DATA_DIR/labforge-serv.secret`; both 0600.
pub fn bind(data_dir: &Path) -> anyhow::Result<ServListener> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness for a secret: {e}"))?;
    let secret: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let secret_path = data_dir.join(wire::SECRET);
    let _ = std::fs::remove_file(&secret_path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret_path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", secret_path.display()))?;
    file.write_all(secret.as_bytes())?;
    let socket = data_dir.join(wire::SOCKET);
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .map_err(|e| anyhow::anyhow!("binding the sshd socket {}: {e}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    Ok(ServListener {
        listener,
        secret,
        paths: (socket, secret_path),
    })
}

/// Answers until `stop`, then lets running sessions (pushes) finish for up to `grace`. The
/// socket and the secret go when it returns: a `serv` started afterwards is refused clearly.
pub async fn serve(listener: ServListener, st: SshState, stop: CancellationToken, grace: Duration) {
    let sessions = TaskTracker::new();
    let me = nix::unistd::geteuid().as_raw();
    // The built-in server's cap on open connections, counted apart: sshd's sessions are
    // bounded by sshd's own settings first, and this keeps them from piling up here regardless.
    let open = Arc::new(Semaphore::new(st.config.ssh_max_connections));
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "sshd socket accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let uid = stream.peer_cred().map(|c| c.uid());
        if !matches!(uid, Ok(u) if u == me || u == 0) {
            tracing::warn!(
                ?uid,
                "refused a caller of the sshd socket: not this server's user"
            );
            continue;
        }
        let st = st.clone();
        let secret = listener.secret.clone();
        let permit = Arc::clone(&open).try_acquire_owned().ok();
        sessions.spawn(async move {
            if let Err(e) = answer(stream, &st, &secret, permit.is_some()).await {
                tracing::info!(error = %e, "sshd socket request failed");
            }
        });
    }
    let _ = std::fs::remove_file(&listener.paths.0);
    let _ = std::fs::remove_file(&listener.paths.1);
    sessions.close();
    if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
        tracing::warn!("sessions from the host's sshd still running after the grace period");
    }
}

/// Answers one caller; `room` is false when the cap on open sessions is reached, and then the
/// request is read only to refuse it in the caller's terms.
async fn answer(stream: UnixStream, st: &SshState, secret: &str, room: bool) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    let mut limited = (&mut read).take(wire::MAX_REQUEST as u64);
    tokio::time::timeout(REQUEST_TIME, limited.read_until(b'\n', &mut line)).await??;
    let request: ServRequest = serde_json::from_slice(&line)?;
    let given = match &request {
        ServRequest::Keys { secret, .. } | ServRequest::Serv { secret, .. } => secret,
    };
    if !room {
        const BUSY: &str = "too many connections to labforge; try again later";
        return match request {
            ServRequest::Keys { .. } => {
                reply_line(&mut write, &KeysReply::Refused(BUSY.into())).await
            }
            ServRequest::Serv { .. } => send_output(&mut write, Output::fail(BUSY)).await,
        };
    }
    if !constant_time_eq::constant_time_eq(given.as_bytes(), secret.as_bytes()) {
        return match request {
            ServRequest::Keys { .. } => {
                reply_line(&mut write, &KeysReply::Refused("wrong secret".into())).await
            }
            ServRequest::Serv { .. } => {
                let out = Output::fail(
                    "labforge refused this program's secret; is it the forge's own `serv`?",
                );
                send_output(&mut write, out).await
            }
        };
    }
    match request {
        ServRequest::Keys { kind, key, .. } => {
            let reply = match st.forge.sshd_key(&kind, &key).await {
                Ok(Some(k)) => KeysReply::Known {
                    id: k.id,
                    openssh: k.openssh,
                    deploy: k.deploy,
                },
                Ok(None) => KeysReply::Unknown,
                Err(e) => {
                    tracing::error!(error = ?e, "looking up a key for sshd");
                    KeysReply::Refused("internal error".into())
                }
            };
            reply_line(&mut write, &reply).await
        }
        ServRequest::Serv {
            key_id,
            deploy_key: true,
            command,
            git_protocol,
            ..
        } => serv_deploy_key(st, key_id, command, git_protocol, read, &mut write).await,
        ServRequest::Serv {
            key_id,
            command,
            git_protocol,
            ..
        } => serv(st, key_id, command, git_protocol, read, &mut write).await,
    }
}

/// The same steps as the built-in server's session: who (by the key sshd verified), still
/// enabled, then the exec line through the one parser.
async fn serv(
    st: &SshState,
    key_id: i64,
    command: Option<Vec<u8>>,
    git_protocol: Option<String>,
    input: impl AsyncRead + Unpin + Send + 'static,
    write: &mut (impl AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    let (actor, key) = match st.forge.authenticate_key_id(key_id).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::info!(
                key_id,
                "refused a key at the host's sshd: removed, or its user disabled"
            );
            let out = Output::fail(
                "this key is not known to labforge (removed, or its account is disabled)",
            );
            return send_output(write, out).await;
        }
        Err(e) => {
            tracing::error!(error = ?e, "authenticating a key for sshd");
            return send_output(write, Output::fail("internal error")).await;
        }
    };
    tracing::info!(user = %actor.user.name, key = %key, "ssh login through the host's sshd");
    let Some(command) = command else {
        let text = commands::greeting(st, &actor, &key).await;
        let out = Output {
            stdout: text,
            stderr: String::new(),
            code: 0,
        };
        return send_output(write, out).await;
    };
    match exec::parse(&command) {
        Ok(ExecRequest::Git { service, path }) => {
            let protocol = git_protocol.as_deref().and_then(GitProtocol::parse);
            // One id for the command, as the built-in server gives (see `git_channel`).
            let id = crate::metrics::RequestId::new();
            let span = tracing::info_span!(
                "git",
                transport = "sshd",
                service = service.name(),
                repo = %path,
                user = %actor.user.name,
                request_id = %id,
            );
            let principal = Principal::User(actor);
            let run = super::serv_git::run(st, principal, service, path, protocol, input, write);
            tracing::Instrument::instrument(id.scope(run), span).await
        }
        Ok(ExecRequest::Command(words)) => {
            let out = commands::run(st, &actor, &key, &words).await;
            send_output(write, out).await
        }
        Err(e) => {
            tracing::info!(user = %actor.user.name, error = %e, "refused SSH exec request");
            send_output(write, Output::fail(format!("refused: {e}"))).await
        }
    }
}

/// As `serv`, for a deploy key: git on its repositories only, never the SSH commands or the
/// greeting (the same refusals as the built-in server gives it).
async fn serv_deploy_key(
    st: &SshState,
    key_id: i64,
    command: Option<Vec<u8>>,
    git_protocol: Option<String>,
    input: impl AsyncRead + Unpin + Send + 'static,
    write: &mut (impl AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    let (principal, key) = match st.forge.authenticate_deploy_key_id(key_id).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            tracing::info!(key_id, "refused a deploy key at the host's sshd: removed");
            let out = Output::fail("this deploy key is not known to labforge (removed)");
            return send_output(write, out).await;
        }
        Err(e) => {
            tracing::error!(error = ?e, "authenticating a deploy key for sshd");
            return send_output(write, Output::fail("internal error")).await;
        }
    };
    tracing::info!(key = %key, "deploy key login through the host's sshd");
    let Some(command) = command else {
        return send_output(write, Output::fail(commands::DEPLOY_KEY_GIT_ONLY)).await;
    };
    match exec::parse(&command) {
        Ok(ExecRequest::Git { service, path }) => {
            let protocol = git_protocol.as_deref().and_then(GitProtocol::parse);
            let id = crate::metrics::RequestId::new();
            let span = tracing::info_span!(
                "git",
                transport = "sshd",
                service = service.name(),
                repo = %path,
                user = "deploy key",
                key = %key,
                request_id = %id,
            );
            let run = super::serv_git::run(st, principal, service, path, protocol, input, write);
            tracing::Instrument::instrument(id.scope(run), span).await
        }
        Ok(ExecRequest::Command(_)) => {
            send_output(write, Output::fail(commands::DEPLOY_KEY_GIT_ONLY)).await
        }
        Err(e) => {
            tracing::info!(key = %key, error = %e, "refused SSH exec request");
            send_output(write, Output::fail(format!("refused: {e}"))).await
        }
    }
}

async fn reply_line(
    write: &mut (impl AsyncWrite + Unpin),
    reply: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(reply)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    Ok(())
}

/// A finished command's output, cleaned for a terminal as the built-in server does, then its
/// exit status.
pub(super) async fn send_output(
    write: &mut (impl AsyncWrite + Unpin),
    out: Output,
) -> anyhow::Result<()> {
    for (tag, text) in [(wire::STDOUT, out.stdout), (wire::STDERR, out.stderr)] {
        for chunk in terminal_text(&text).as_bytes().chunks(wire::MAX_FRAME) {
            frame(write, tag, chunk).await?;
        }
    }
    frame(write, wire::EXIT, &out.code.to_be_bytes()).await?;
    write.flush().await?;
    Ok(())
}

/// One frame: tag, length, bytes (at most `MAX_FRAME`, which callers respect).
pub(super) async fn frame(
    write: &mut (impl AsyncWrite + Unpin),
    tag: u8,
    data: &[u8],
) -> std::io::Result<()> {
    debug_assert!(data.len() <= wire::MAX_FRAME);
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&(data.len() as u32).to_be_bytes());
    write.write_all(&head).await?;
    write.write_all(data).await
}
