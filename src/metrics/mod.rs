//! The server's Prometheus series (`/metrics`, `[metrics]`). One `Metrics` per server, each with
//! its own registry (prometheus-client, the Prometheus project's own crate): no process-wide
//! recorder, so two servers in one process (the tests) count apart, and a scrape sees exactly
//! what its server did. Labels are bounded by construction: services, transports, outcomes and
//! route patterns are `&'static str` or operator-defined names; a repository's name appears only
//! in the `per_repo` family, which needs the token.
//!
//! Rooms record through the small methods below; numbers that already live elsewhere (upload
//! slots, the database pool, the process) are read when scraped (`Snapshot`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

mod process;
pub mod request_id;

pub use request_id::RequestId;

/// `Content-Type` of a scrape: Prometheus' text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GitLabels {
    service: &'static str,
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RepoGitLabels {
    repository: String,
    service: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MirrorLabels {
    direction: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeployLabels {
    deploy: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeployOnly {
    deploy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    transport: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds from 5 ms to about 20 minutes: a page, a clone and a long deploy all land inside.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 4.0, 10))
}

/// Numbers read at scrape time from where they already live.
#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    pub upload_slots_in_use: u64,
    pub db_pool_size: u64,
    pub db_pool_idle: u64,
    /// Deploy runs queued, webhook deliveries pending and the oldest's age in seconds; None
    /// when the database did not answer in time (the gauges keep their last value).
    pub queues: Option<(i64, i64, f64)>,
}

/// Every series; see the module doc.
pub struct Metrics {
    registry: Registry,
    /// Off (`[metrics] enabled = false`): nothing is counted, so off costs nothing.
    enabled: bool,
    per_repo: bool,
    started: Instant,
    git_operations: Family<GitLabels, Counter>,
    git_duration: Histograms<GitLabels>,
    git_sent: Family<GitLabels, Counter>,
    git_by_repo: Family<RepoGitLabels, Counter>,
    http_requests: Family<RouteLabels, Counter>,
    http_duration: Histograms<RouteOnly>,
    ssh_open: Gauge,
    ssh_auth: Family<Outcome, Counter>,
    upload_in_use: Gauge,
    upload_waiting: Gauge,
    deploy_runs: Family<DeployLabels, Counter>,
    deploy_duration: Histograms<DeployOnly>,
    webhook_deliveries: Family<Outcome, Counter>,
    mirror_syncs: Family<MirrorLabels, Counter>,
    mirror_last_success: Gauge,
    backups: Family<Outcome, Counter>,
    backup_last_success: Gauge,
    checks: Family<CheckLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    db_size: Gauge,
    deploy_queue: Gauge,
    webhook_queue: Gauge,
    webhook_oldest: Gauge<f64, std::sync::atomic::AtomicU64>,
    db_idle: Gauge,
    process: process::ProcessGauges,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("per_repo", &self.per_repo)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch, for "last success" gauges.
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Metrics {
    /// A fresh registry; `per_repo` adds the one family that names repositories.
    pub fn new(enabled: bool, per_repo: bool) -> Self {
        let mut r = Registry::with_prefix("labforge");
        let m = Self {
            registry: Registry::default(),
            enabled,
            per_repo,
            started: Instant::now(),
            git_operations: Family::default(),
            git_duration: Family::new_with_constructor(duration_histogram),
            git_sent: Family::default(),
            git_by_repo: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(duration_histogram),
            ssh_open: Gauge::default(),
            ssh_auth: Family::default(),
            upload_in_use: Gauge::default(),
            upload_waiting: Gauge::default(),
            deploy_runs: Family::default(),
            deploy_duration: Family::new_with_constructor(duration_histogram),
            webhook_deliveries: Family::default(),
            mirror_syncs: Family::default(),
            mirror_last_success: Gauge::default(),
            backups: Family::default(),
            backup_last_success: Gauge::default(),
            checks: Family::default(),
            refusals: Family::default(),
            db_size: Gauge::default(),
            deploy_queue: Gauge::default(),
            webhook_queue: Gauge::default(),
            webhook_oldest: Gauge::default(),
            db_idle: Gauge::default(),
            process: process::ProcessGauges::default(),
        };
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        r.register("build_info", "labforge's version (always 1)", build);
        r.register(
            "git_operations",
            "git services run (upload-pack, receive-pack, upload-archive) by transport; over HTTP each request that runs git counts (protocol v2 clones ask twice: ls-refs, fetch)",
            m.git_operations.clone(),
        );
        r.register_with_unit(
            "git_operation_duration",
            "time from git's start to its end",
            Unit::Seconds,
            m.git_duration.clone(),
        );
        r.register_with_unit(
            "git_sent",
            "bytes git's output sent to clients",
            Unit::Bytes,
            m.git_sent.clone(),
        );
        if per_repo {
            r.register(
                "git_repository_operations",
                "git services run, by repository (per_repo = true)",
                m.git_by_repo.clone(),
            );
        }
        r.register(
            "http_requests",
            "HTTP requests by route pattern and status class",
            m.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "time to answer an HTTP request (until the headers; a streamed body continues)",
            Unit::Seconds,
            m.http_duration.clone(),
        );
        r.register(
            "ssh_connections_open",
            "SSH connections open now",
            m.ssh_open.clone(),
        );
        r.register(
            "ssh_authentications",
            "SSH connections by authentication outcome (failed: the connection ended without authenticating after a refused attempt)",
            m.ssh_auth.clone(),
        );
        r.register(
            "upload_slots_in_use",
            "clones, fetches and archives running (max_upload_packs bounds them)",
            m.upload_in_use.clone(),
        );
        r.register(
            "upload_slots_waiting",
            "clones, fetches and archives waiting for a slot",
            m.upload_waiting.clone(),
        );
        r.register(
            "deploy_runs",
            "finished deploy runs by deploy and status",
            m.deploy_runs.clone(),
        );
        r.register_with_unit(
            "deploy_run_duration",
            "time a deploy run took",
            Unit::Seconds,
            m.deploy_duration.clone(),
        );
        r.register(
            "deploy_queue_length",
            "deploy runs queued (not yet running)",
            m.deploy_queue.clone(),
        );
        r.register(
            "webhook_queue_length",
            "webhook deliveries not yet delivered or given up",
            m.webhook_queue.clone(),
        );
        r.register_with_unit(
            "webhook_oldest_pending_age",
            "age of the oldest of those (0 when none)",
            Unit::Seconds,
            m.webhook_oldest.clone(),
        );
        r.register(
            "webhook_deliveries",
            "webhook delivery attempts by outcome",
            m.webhook_deliveries.clone(),
        );
        r.register(
            "mirror_syncs",
            "mirror syncs by direction (push, pull) and outcome",
            m.mirror_syncs.clone(),
        );
        r.register_with_unit(
            "mirror_last_success_timestamp",
            "when a mirror sync last succeeded (0: not since start)",
            Unit::Seconds,
            m.mirror_last_success.clone(),
        );
        r.register("backups", "scheduled backups by outcome", m.backups.clone());
        r.register_with_unit(
            "backup_last_success_timestamp",
            "when a scheduled backup last succeeded (0: not since start)",
            Unit::Seconds,
            m.backup_last_success.clone(),
        );
        r.register(
            "checks",
            "push checks by check and outcome",
            m.checks.clone(),
        );
        r.register(
            "refusals",
            "connections and attempts refused by a cap or the password throttle",
            m.refusals.clone(),
        );
        r.register(
            "db_pool_connections",
            "PostgreSQL connections the pool holds",
            m.db_size.clone(),
        );
        r.register(
            "db_pool_idle_connections",
            "of those, idle",
            m.db_idle.clone(),
        );
        m.process.register(&mut r);
        m.start_at_zero();
        Self { registry: r, ..m }
    }

    /// The series whose labels are known in advance start at 0, so `rate()` and alerts see them
    /// from the first scrape rather than from their first event.
    fn start_at_zero(&self) {
        for (service, transport) in [
            ("upload-pack", "http"),
            ("upload-pack", "ssh"),
            ("receive-pack", "http"),
            ("receive-pack", "ssh"),
            ("upload-archive", "ssh"),
        ] {
            let labels = GitLabels { service, transport };
            self.git_operations.get_or_create_owned(&labels);
            self.git_duration.get_or_create_owned(&labels);
            self.git_sent.get_or_create_owned(&labels);
        }
        for outcome in ["succeeded", "failed"] {
            self.ssh_auth.get_or_create_owned(&Outcome { outcome });
            self.backups.get_or_create_owned(&Outcome { outcome });
            for direction in ["push", "pull"] {
                self.mirror_syncs
                    .get_or_create_owned(&MirrorLabels { direction, outcome });
            }
        }
        for outcome in ["delivered", "failed"] {
            self.webhook_deliveries
                .get_or_create_owned(&Outcome { outcome });
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The whole registry in Prometheus' text format, with the scrape-time numbers filled in.
    pub fn render(&self, now: Snapshot) -> String {
        set(&self.upload_in_use, now.upload_slots_in_use);
        set(&self.db_size, now.db_pool_size);
        set(&self.db_idle, now.db_pool_idle);
        if let Some((deploys, webhooks, oldest)) = now.queues {
            self.deploy_queue.set(deploys);
            self.webhook_queue.set(webhooks);
            self.webhook_oldest.set(oldest);
        }
        self.process.refresh(self.started.elapsed());
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// A git service starting; the answer records its end when dropped (attach it to the child).
    pub fn git_started(
        &self,
        service: &'static str,
        transport: &'static str,
        repository: &str,
    ) -> GitOperation {
        if !self.enabled {
            return GitOperation(None);
        }
        let labels = GitLabels { service, transport };
        self.git_operations.get_or_create(&labels).inc();
        if self.per_repo {
            self.git_by_repo
                .get_or_create(&RepoGitLabels {
                    repository: repository.to_owned(),
                    service,
                })
                .inc();
        }
        GitOperation(Some(Running {
            started: Instant::now(),
            duration: self.git_duration.get_or_create_owned(&labels),
            sent: SentBytes(Some(self.git_sent.get_or_create_owned(&labels))),
        }))
    }

    /// One answered HTTP request: `route` is the matched pattern (or a fixed word), never a URL.
    pub fn http_answered(&self, route: &str, status: u16, took: Duration) {
        if !self.enabled {
            return;
        }
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_requests
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteOnly {
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// An SSH connection accepted; the gauge goes down when the answer is dropped.
    pub fn ssh_connection(self: &Arc<Self>) -> OpenConnection {
        if !self.enabled {
            return OpenConnection(None);
        }
        self.ssh_open.inc();
        OpenConnection(Some(Arc::clone(self)))
    }

    /// `succeeded` or `failed`, once per connection.
    pub fn ssh_authenticated(&self, outcome: &'static str) {
        if !self.enabled {
            return;
        }
        self.ssh_auth.get_or_create(&Outcome { outcome }).inc();
    }

    /// A clone waiting for an upload slot; counted until the answer is dropped.
    pub fn upload_waiting(self: &Arc<Self>) -> Waiting {
        if !self.enabled {
            return Waiting(None);
        }
        self.upload_waiting.inc();
        Waiting(Some(Arc::clone(self)))
    }

    pub fn deploy_finished(&self, deploy: &str, status: &'static str, took: Duration) {
        if !self.enabled {
            return;
        }
        self.deploy_runs
            .get_or_create(&DeployLabels {
                deploy: deploy.to_owned(),
                status,
            })
            .inc();
        self.deploy_duration
            .get_or_create(&DeployOnly {
                deploy: deploy.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn webhook_delivered(&self, outcome: &'static str) {
        if !self.enabled {
            return;
        }
        self.webhook_deliveries
            .get_or_create(&Outcome { outcome })
            .inc();
    }

    /// `direction`: `push` or `pull`.
    pub fn mirror_synced(&self, direction: &'static str, ok: bool) {
        if !self.enabled {
            return;
        }
        let outcome = if ok { "succeeded" } else { "failed" };
        self.mirror_syncs
            .get_or_create(&MirrorLabels { direction, outcome })
            .inc();
        if ok {
            self.mirror_last_success.set(now_unix());
        }
    }

    pub fn backup_finished(&self, ok: bool) {
        if !self.enabled {
            return;
        }
        let outcome = if ok { "succeeded" } else { "failed" };
        self.backups.get_or_create(&Outcome { outcome }).inc();
        if ok {
            self.backup_last_success.set(now_unix());
        }
    }

    pub fn check_finished(&self, check: &str, outcome: &'static str) {
        if !self.enabled {
            return;
        }
        self.checks
            .get_or_create(&CheckLabels {
                check: check.to_owned(),
                outcome,
            })
            .inc();
    }

    /// `transport`: `http`, `ssh` or `login`; `reason`: which cap (or `throttle`).
    pub fn refused(&self, transport: &'static str, reason: &'static str) {
        if !self.enabled {
            return;
        }
        self.refusals
            .get_or_create(&RefusalLabels { transport, reason })
            .inc();
    }
}

fn set(gauge: &Gauge, value: u64) {
    gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
}

/// Records a git service's duration when dropped (it lives as long as the git process).
pub struct GitOperation(Option<Running>);

struct Running {
    started: Instant,
    duration: Histogram,
    sent: SentBytes,
}

impl GitOperation {
    /// Where the transport counts git's output as it relays it.
    pub fn sent(&self) -> SentBytes {
        self.0.as_ref().map(|r| r.sent.clone()).unwrap_or_default()
    }
}

impl Drop for GitOperation {
    fn drop(&mut self) {
        if let Some(r) = &self.0 {
            r.duration.observe(r.started.elapsed().as_secs_f64());
        }
    }
}

/// Bytes relayed to a client; the default counts nowhere (git runs nobody measures).
#[derive(Clone, Default, Debug)]
pub struct SentBytes(Option<Counter>);

impl SentBytes {
    pub fn add(&self, n: usize) {
        if let Some(c) = &self.0 {
            c.inc_by(n as u64);
        }
    }
}

/// An open SSH connection (see `Metrics::ssh_connection`).
pub struct OpenConnection(Option<Arc<Metrics>>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(m) = &self.0 {
            m.ssh_open.dec();
        }
    }
}

/// A request waiting for an upload slot (see `Metrics::upload_waiting`).
pub struct Waiting(Option<Arc<Metrics>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(m) = &self.0 {
            m.upload_waiting.dec();
        }
    }
}

#[cfg(test)]
mod tests;
