//! The composition root: config → PostgreSQL → services → listeners → graceful shutdown.
//! The only module that sees every room.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;

use crate::domain::SystemKey;
use crate::routes::{RouteRecord, Routes};
use axum::extract::FromRef;
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::Config;
use crate::data_lock::DataLock;
use crate::domain::Forge;
use crate::postgres::ManagedCluster;
use crate::transport::http_git::GitHttpState;
use crate::transport::http_server::HttpLimits;
use crate::transport::ssh::SshServer;
use crate::web::WebState;

/// Every route the server answers, with what each needs: the one list the access-matrix test
/// enumerates (`route_table`).
fn routes() -> Routes<AppState> {
    Routes::new()
        .merge(crate::transport::http_git::router())
        .nest("/api/v1", crate::api::router())
        .merge(crate::web::router())
}

/// The routes and what each needs, for the access-matrix test and `docs/architecture.md`.
pub fn route_table() -> Vec<RouteRecord> {
    routes().table().to_vec()
}

#[derive(Clone)]
struct AppState {
    forge: Arc<Forge>,
    config: Arc<Config>,
    ssh_fingerprint: Arc<str>,
}

impl FromRef<AppState> for GitHttpState {
    fn from_ref(s: &AppState) -> Self {
        GitHttpState {
            forge: Arc::clone(&s.forge),
        }
    }
}

impl FromRef<AppState> for crate::transport::metrics_http::MetricsState {
    fn from_ref(s: &AppState) -> Self {
        crate::transport::metrics_http::MetricsState {
            forge: Arc::clone(&s.forge),
            token: s.config.metrics.token.clone(),
            upload_slots: s.config.max_upload_packs,
        }
    }
}

impl FromRef<AppState> for crate::api::ApiState {
    fn from_ref(s: &AppState) -> Self {
        crate::api::ApiState {
            forge: Arc::clone(&s.forge),
            config: Arc::clone(&s.config),
        }
    }
}

impl FromRef<AppState> for WebState {
    fn from_ref(s: &AppState) -> Self {
        WebState {
            forge: Arc::clone(&s.forge),
            config: Arc::clone(&s.config),
            ssh_fingerprint: Arc::clone(&s.ssh_fingerprint),
        }
    }
}

mod services;

pub use services::{Services, open_database, release_cluster};

pub struct App {
    listener: TcpListener,
    hook_socket: tokio::net::UnixListener,
    /// For `labforge keys` / `labforge serv` run by the host's sshd (port 22 shared with it).
    serv_socket: crate::transport::serv_rpc::ServListener,
    ssh: SshServer,
    router: Router,
    /// `[metrics] addr`: `/metrics` alone on its own listener.
    metrics: Option<(TcpListener, Router)>,
    services: Services,
    config: Arc<Config>,
    /// This process serves the data folder (see `data_lock`); released when it ends.
    _folder: DataLock,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_database(config, None).await
    }

    /// As `build`, with an explicit database (tests give each app its own).
    pub async fn build_with_database(
        config: Config,
        database: Option<PgConnectOptions>,
    ) -> anyhow::Result<Self> {
        // Before the socket or the cluster is touched: one serve per data folder.
        let mut folder = DataLock::acquire(&config.data_dir)?;
        crate::startup::check_config(&config)?;
        let database_text = crate::startup::describe_database(&config, database.as_ref());
        // The database first (a failed start-up below stops a cluster started here), then the
        // listeners: their ports (0 in tests) make the base URL, and the services are built
        // with it, so nothing is patched into them once they run.
        let (options, cluster) = open_database(&config, database).await?;
        let cluster = cluster.map(Arc::new);
        let mut unwind = StopOnFailure(cluster.clone().filter(|c| c.started_here));
        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {}", config.http_addr))?;
        let ssh_listener = TcpListener::bind(config.ssh_addr)
            .await
            .with_context(|| format!("binding SSH on {}", config.ssh_addr))?;
        let config = Arc::new(config.with_bound_ports(
            listener.local_addr()?.port(),
            ssh_listener.local_addr()?.port(),
        ));
        let mut services = Services::open_on(&config, options, cluster).await?;
        if let Some(cluster) = &services.cluster {
            services.serve_lock = Some(cluster.hold_for_serve()?);
        }
        // The sandbox first: the report says whether checks run in it.
        services.forge.check_state().start(sandbox_for(&config));
        crate::startup::report(
            &services.forge,
            &services.system_key,
            &config,
            &database_text,
        )
        .await?;
        let forge = Arc::clone(&services.forge);
        prepare_repositories(&forge).await?;
        crate::worker::deploys::recover(&forge, &services.system_key).await?;
        crate::transport::http_server::raise_open_file_limit();
        let hook_socket = crate::transport::hook_rpc::bind(&forge.hook_gate().socket)?;
        let serv_socket = crate::transport::serv_rpc::bind(&config.data_dir)?;
        let ssh = SshServer::new(
            ssh_listener,
            Arc::clone(&config),
            Arc::clone(&services.forge),
        )?;
        let state = AppState {
            forge: Arc::clone(&services.forge),
            config: Arc::clone(&config),
            ssh_fingerprint: ssh.fingerprint().into(),
        };
        let (metrics, on_web_port) = metrics_listener(&config, state.clone()).await?;
        let router = routes()
            .merge(on_web_port)
            .into_router()
            .route_layer(axum::middleware::from_fn(
                crate::transport::http_server::note_route,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::api::with_docs_url,
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .with_state(state);
        unwind.0 = None;
        folder.keep();
        Ok(Self {
            listener,
            hook_socket,
            serv_socket,
            ssh,
            router,
            metrics,
            services,
            config,
            _folder: folder,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn ssh_port(&self) -> u16 {
        self.ssh.local_addr().port()
    }

    /// `[metrics] addr`'s bound address, when metrics have their own listener.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn forge(&self) -> Arc<Forge> {
        Arc::clone(&self.services.forge)
    }

    /// The key behind `Grant::for_operator`/`for_system`, for whoever owns this `App` (the
    /// `serve` command's workers, tests acting as the operator); never in a request's reach.
    pub fn system_key(&self) -> Arc<SystemKey> {
        Arc::clone(&self.services.system_key)
    }

    /// Serves HTTP and SSH until `shutdown` resolves, then lets running requests and sessions
    /// (pushes) finish for up to the grace period, then closes the database (stopping a managed
    /// cluster).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(
            http = %self.local_addr(),
            ssh = %self.ssh.local_addr(),
            ssh_host_key = %self.ssh.fingerprint(),
            base_url = %self.config.base_url,
            "labforge is serving"
        );
        // Warm every repository's front page in the background, one at a time (cheap when the
        // answer is already kept on disk).
        let forge = Arc::clone(&self.services.forge);
        tokio::spawn(async move {
            match forge.list_repos().await {
                Ok(repos) => {
                    for repo in &repos {
                        if let Some(task) = forge.warm_pages(repo) {
                            let _ = task.await;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing repositories to warm their pages"),
            }
        });
        crate::memory::give_back_freed_memory();
        let stop = CancellationToken::new();
        // Pushes the last run left half-done are settled in the background, each with its own
        // budget: the server answers meanwhile, and one bad event cannot hold the start. A stop
        // meanwhile drops the event in hand (its transaction rolls back; the next start has it).
        let forge = Arc::clone(&self.services.forge);
        let stopping = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = forge.recover_pushes() => {}
                () = stopping.cancelled() => {}
            }
        });
        let trigger = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: waiting for running requests and sessions");
            crate::systemd::notify_stopping();
            trigger.cancel();
        });
        // Listening, migrated, hooks repaired: systemd may call the start done.
        crate::systemd::notify_ready();
        if let Some(interval) = crate::systemd::watchdog_interval() {
            tokio::spawn(crate::systemd::keep_watchdog_fed(interval));
        }
        tokio::spawn(crate::reload::on_sighup(
            Arc::clone(&self.services.forge),
            Arc::clone(&self.config),
            stop.clone(),
        ));
        // Hooks answer until the last push has finished, so they stop after HTTP and SSH.
        let after_transports = CancellationToken::new();
        let hooks = tokio::spawn(crate::transport::hook_rpc::serve(
            self.hook_socket,
            Arc::clone(&self.services.forge),
            after_transports.clone(),
        ));
        let deploys = tokio::spawn(crate::worker::deploys::run(
            Arc::clone(&self.services.forge),
            Arc::clone(&self.services.system_key),
            after_transports.clone(),
        ));
        let supervising = CancellationToken::new();
        let supervisor = self
            .services
            .cluster()
            .map(|cluster| tokio::spawn(crate::postgres::supervise(cluster, supervising.clone())));
        let grace = self.config.shutdown_grace;
        let limits = HttpLimits {
            max_connections: self.config.http_max_connections,
            max_connections_per_address: self.config.http_max_connections_per_address,
            header_timeout: self.config.http_header_timeout,
            trusted_proxies: Arc::new(self.config.trusted_proxies.clone()),
            metrics: Arc::clone(self.services.forge.metrics()),
        };
        if let Some((listener, router)) = self.metrics {
            let limits = HttpLimits {
                max_connections: 64,
                max_connections_per_address: 64,
                ..limits.clone()
            };
            let serving =
                crate::transport::http_server::serve(listener, router, limits, stop.clone());
            tokio::spawn(serving);
        }
        let http =
            crate::transport::http_server::serve(self.listener, self.router, limits, stop.clone());
        let http = async {
            tokio::select! {
                () = http => Ok::<(), anyhow::Error>(()),
                () = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
                    tracing::warn!(?grace, "HTTP requests still running after the grace period; stopping anyway");
                    Ok(())
                }
            }
        };
        let ssh = self
            .ssh
            .run_until_stopped(stop.clone().cancelled_owned(), grace);
        let serv = crate::transport::serv_rpc::serve(
            self.serv_socket,
            crate::transport::ssh::SshState {
                forge: Arc::clone(&self.services.forge),
                config: Arc::clone(&self.config),
            },
            stop.clone(),
            grace,
        );
        let webhooks = crate::worker::webhooks::run(Arc::clone(&self.services.forge), stop.clone());
        tokio::spawn(crate::worker::mirrors::run(
            Arc::clone(&self.services.forge),
            stop.clone(),
        ));
        if let Some(backup) = self.config.backup.clone() {
            let job = crate::backup::schedule::Scheduled {
                forge: Arc::clone(&self.services.forge),
                pg: self.services.database.clone(),
                data_dir: self.config.data_dir.clone(),
                status: self.services.forge.backup_status(),
                config: backup,
            };
            tokio::spawn(crate::backup::schedule::run(job, stop.clone()));
        }
        let (http_result, (), (), ()) = tokio::join!(http, ssh, serv, webhooks);
        after_transports.cancel();
        let _ = tokio::join!(hooks, deploys);
        supervising.cancel();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
        http_result?;
        self.services.close(true).await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `/metrics` when `[metrics] enabled`: on its own listener when `addr` is set (the first
/// answer), else as a route of the web port (the second; empty when off).
async fn metrics_listener(
    config: &Config,
    state: AppState,
) -> anyhow::Result<(Option<(TcpListener, Router)>, Routes<AppState>)> {
    let routes = crate::transport::metrics_http::routes::<AppState>;
    match (config.metrics.enabled, config.metrics.addr) {
        (false, _) => Ok((None, Routes::new())),
        (true, None) => Ok((None, routes())),
        (true, Some(addr)) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding metrics on {addr}"))?;
            tracing::info!(metrics = %listener.local_addr()?, "metrics have their own address");
            let router = routes()
                .into_router()
                .route_layer(axum::middleware::from_fn(
                    crate::transport::http_server::note_route,
                ))
                .with_state(state);
            Ok((Some((listener, router)), Routes::new()))
        }
    }
}

/// The span every request's log lines share: method, URI, the client's address (a trusted
/// proxy's client), the request's id, and the user once git over HTTP has authenticated one.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req
        .extensions()
        .get::<crate::metrics::RequestId>()
        .map_or("", |id| id.as_str());
    let addr = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    tracing::info_span!(
        "request",
        method = %req.method(),
        uri = %req.uri(),
        version = ?req.version(),
        addr = addr.map(tracing::field::display),
        request_id = %id,
        user = tracing::field::Empty,
    )
}

/// Stops the cluster it holds when dropped: armed while `serve` starts, so an early `?` leaves
/// no PostgreSQL running that this start-up began; disarmed once start-up has succeeded.
struct StopOnFailure(Option<Arc<ManagedCluster>>);

impl Drop for StopOnFailure {
    fn drop(&mut self) {
        if let Some(cluster) = self.0.take() {
            tracing::info!("start-up failed: stopping the PostgreSQL it started");
            if let Err(e) = cluster.stop() {
                tracing::warn!(error = %e, "stopping PostgreSQL after a failed start-up");
            }
        }
    }
}

/// Every repository gets the current hook shims (a moved binary, an edited hook file or a
/// repository restored from backup is repaired here), before any push can arrive.
async fn prepare_repositories(forge: &Arc<Forge>) -> anyhow::Result<()> {
    let Some(program) = forge.hook_program().map(Path::to_path_buf) else {
        return Ok(());
    };
    let mut dirs = Vec::new();
    for repo in forge.list_repos().await? {
        dirs.push(forge.repo_dir(&repo)?);
    }
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut rewritten = 0;
        for dir in &dirs {
            if !dir.path().exists() {
                tracing::warn!(path = %dir.path().display(), "repository folder is missing");
                continue;
            }
            if dir.install_hook_shims(&program)? {
                rewritten += 1;
            }
            // No push can be running yet: a quarantine folder is what a killed receive-pack
            // left behind.
            dir.remove_quarantine_folders();
        }
        if rewritten > 0 {
            tracing::info!(rewritten, "installed git hook shims");
        }
        Ok(())
    })
    .await?
}

/// bubblewrap for the checks, when there are checks and it works here; the reason it does not is
/// logged (then checks run unsandboxed).
pub(crate) fn sandbox_for(config: &Config) -> Option<crate::job::Sandbox> {
    if config.checks.is_empty() {
        return None;
    }
    match crate::job::Sandbox::detect() {
        Ok(sandbox) => Some(sandbox),
        Err(why) => {
            tracing::warn!("checks run unsandboxed: {why}");
            None
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

#[cfg(test)]
mod key_tests {
    /// Rust's visibility cannot keep the web room from calling a `pub(crate)` function, so this
    /// test does: the key that grants without a visitor's decision is minted in this file only.
    #[test]
    fn only_app_mints_the_system_key() {
        let mut minted_in: Vec<String> = crate::source_scan::rust_sources()
            .into_iter()
            .filter(|(_, text)| text.contains(concat!("mint_for", "_app()")))
            .map(|(path, _)| path.display().to_string())
            .collect();
        minted_in.sort();
        assert_eq!(
            minted_in,
            ["src/app/services.rs", "src/domain/authorize/grant.rs"],
            "only app (its services) mints the SystemKey (grant.rs defines it and its doc test tries and fails)"
        );
    }
}

#[cfg(test)]
mod reserved_name_tests {
    /// Owners share the first path segment with the site's own routes: every literal first
    /// segment the route table uses (`/new`, `/org/…`, `/-/…`, `/api/…`) is a reserved owner
    /// name, so no user or organization can be created whose page a route would shadow.
    #[test]
    fn every_first_segment_of_the_route_table_is_reserved() {
        let mut firsts: Vec<String> = super::route_table()
            .iter()
            .filter_map(|r| {
                r.path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .map(str::to_owned)
            })
            .filter(|s| !s.is_empty() && !s.starts_with('{'))
            .collect();
        firsts.sort();
        firsts.dedup();
        assert!(firsts.len() >= 5, "{firsts:?}");
        let missing: Vec<&String> = firsts
            .iter()
            .filter(|s| !crate::model::names::is_reserved_owner(s))
            .collect();
        assert!(
            missing.is_empty(),
            "first path segments not in RESERVED_OWNER_NAMES: {missing:?}"
        );
    }
}
