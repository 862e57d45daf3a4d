//! The built-in SSH server (russh): git over SSH with the stock OpenSSH client, and a small
//! command interface. Public keys only, no compression, bounded connections.

pub(crate) mod commands;
pub(crate) mod exec;
pub(crate) mod git_channel;
mod handler;
mod host_key;
pub(crate) mod upload_archive;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use russh::{MethodKind, MethodSet, Preferred, compression};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use tokio_util::sync::CancellationToken;

use super::conn_limit::{AddrPermit, Cutoff, PerAddressLimit, RareWarning};
use crate::config::Config;
use crate::domain::Forge;
use handler::SshSession;

static TOO_MANY: RareWarning = RareWarning::new("ssh connection refused: too many connections");
static TOO_MANY_KNOCKING: RareWarning =
    RareWarning::new("ssh connection refused: too many unauthenticated connections");
static TOO_MANY_FROM_ADDRESS: RareWarning = RareWarning::new(
    "ssh connection refused: too many unauthenticated connections from this address",
);

/// The slots a connection holds until it authenticates: one of all, one of its address's.
pub struct Knocking {
    _all: tokio::sync::OwnedSemaphorePermit,
    _address: AddrPermit,
}

/// What every SSH session shares.
#[derive(Clone)]
pub struct SshState {
    pub forge: Arc<Forge>,
    pub config: Arc<Config>,
}

pub struct SshServer {
    listener: TcpListener,
    russh: Arc<russh::server::Config>,
    state: SshState,
    fingerprint: String,
}

impl SshServer {
    /// Loads (or creates, on first start) the host key; serves on `listener`.
    pub fn new(
        listener: TcpListener,
        config: Arc<Config>,
        forge: Arc<Forge>,
    ) -> anyhow::Result<Self> {
        let key = host_key::load_or_create(&config.data_dir)?;
        let fingerprint = key
            .public_key()
            .fingerprint(russh::keys::HashAlg::Sha256)
            .to_string();
        let russh = russh::server::Config {
            server_id: russh::SshId::Standard("SSH-2.0-labforge".into()),
            methods: MethodSet::from(&[MethodKind::PublicKey][..]),
            keys: vec![key],
            auth_rejection_time: Duration::from_millis(300),
            auth_rejection_time_initial: Some(Duration::ZERO),
            max_auth_attempts: 6,
            inactivity_timeout: Some(config.ssh_idle_timeout),
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_max: 4,
            nodelay: true,
            preferred: Preferred {
                compression: (&[compression::NONE][..]).into(),
                ..Preferred::default()
            },
            ..Default::default()
        };
        Ok(Self {
            listener,
            russh: Arc::new(russh),
            state: SshState { forge, config },
            fingerprint,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Accepts until `shutdown`, then waits up to `grace` for running sessions (pushes).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>, grace: Duration) {
        let cfg = &self.state.config;
        let connections = Arc::new(Semaphore::new(cfg.ssh_max_connections));
        let unauthenticated = Arc::new(Semaphore::new(cfg.ssh_max_unauthenticated));
        let per_address = PerAddressLimit::new(cfg.ssh_max_unauthenticated_per_address);
        let auth_timeout = cfg.ssh_auth_timeout;
        let sessions = TaskTracker::new();
        tokio::pin!(shutdown);
        loop {
            let (socket, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "ssh accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // Caps are checked before any work: a flood costs one accept and one close each.
            let metrics = &self.state.forge.metrics();
            let Ok(conn_permit) = Arc::clone(&connections).try_acquire_owned() else {
                TOO_MANY.warn(peer.ip(), cfg.ssh_max_connections);
                metrics.refused("ssh", "connections");
                continue;
            };
            let Some(address) = per_address.try_acquire(peer.ip()) else {
                TOO_MANY_FROM_ADDRESS.warn(peer.ip(), per_address.max());
                metrics.refused("ssh", "unauthenticated_per_address");
                continue;
            };
            let Ok(all) = Arc::clone(&unauthenticated).try_acquire_owned() else {
                TOO_MANY_KNOCKING.warn(peer.ip(), cfg.ssh_max_unauthenticated);
                metrics.refused("ssh", "unauthenticated");
                continue;
            };
            let unauth_permit = Knocking {
                _all: all,
                _address: address,
            };
            let authenticated = Arc::new(AtomicBool::new(false));
            let handler = SshSession::new(
                self.state.clone(),
                Some(peer),
                unauth_permit,
                Arc::clone(&authenticated),
            );
            let config = Arc::clone(&self.russh);
            let open = metrics.ssh_connection();
            sessions.spawn(async move {
                let _conn_permit = (conn_permit, open);
                let _ = socket.set_nodelay(true);
                serve_connection(config, socket, handler, authenticated, auth_timeout).await;
            });
        }
        sessions.close();
        if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
            tracing::warn!("ssh sessions still running after the grace period");
        }
    }
}

/// Runs one connection; closes it if it has not authenticated within `auth_timeout` of the
/// accept, whatever the client sends meanwhile. russh reads the connection in a task of its own
/// and, during a key exchange, does not look at its command queue (so a client that sends its
/// banner and stalls never saw a polite disconnect); the socket is therefore wrapped in a
/// `Cutoff` that fails its reads and writes at the deadline, which ends russh's task.
async fn serve_connection(
    config: Arc<russh::server::Config>,
    socket: tokio::net::TcpStream,
    handler: SshSession,
    authenticated: Arc<AtomicBool>,
    auth_timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + auth_timeout;
    let cut = CancellationToken::new();
    let socket = Cutoff::new(socket, cut.clone());
    let session =
        match tokio::time::timeout_at(deadline, russh::server::run_stream(config, socket, handler))
            .await
        {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "ssh handshake failed");
                return;
            }
            Err(_) => return, // dropping the stream closes it
        };
    let watchdog = async {
        tokio::time::sleep_until(deadline).await;
        if !authenticated.load(std::sync::atomic::Ordering::SeqCst) {
            tracing::info!("ssh connection closed: not authenticated within the time allowed");
            cut.cancel();
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        result = session => if let Err(e) = result { tracing::debug!(error = %e, "ssh session ended with an error") },
        () = watchdog => {}
    }
}
