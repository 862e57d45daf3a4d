//! One typed configuration: built-in defaults, then a TOML file (`--config` or `LABFORGE_CONFIG`),
//! then `LABFORGE_*` environment variables and `DATABASE_URL`. Later sources win.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod backup;
mod cache;
mod check;
mod deploy;
mod metrics;
mod mirror;
pub mod settings;
pub mod shown;
mod trigger;

pub use backup::BackupConfig;
use backup::{FileBackupConfig, backup_config};
pub use check::{Check, CheckLimits};
pub use deploy::{Deploy, DeployTrigger, parse_duration};
pub use metrics::MetricsConfig;
pub use mirror::MirrorConfig;
pub use trigger::RefTrigger;

use anyhow::{Context, bail};
use serde::Deserialize;

/// A value that must never appear in logs; `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub ssh_addr: SocketAddr,
    /// Public URL for links and clone URLs, without a trailing slash.
    pub base_url: String,
    /// An external PostgreSQL; `None` runs the managed cluster under `data_dir/pg`.
    pub database_url: Option<Secret>,
    /// Pushing to `OWNER/NEW.git` as OWNER creates the repository (private).
    pub push_to_create: bool,
    /// Every user may create organizations (otherwise site admins only).
    pub users_may_create_orgs: bool,
    /// Concurrent `upload-pack` processes; more requests queue.
    pub max_upload_packs: usize,
    /// Upper bound on one git subprocess (a clone or push over any transport).
    pub git_timeout: Duration,
    /// Quiet time after the last push before a repository is repacked.
    pub upkeep_delay: Duration,
    /// Upkeep deletes objects no ref reaches once they are this old (a deleted branch's
    /// commits stay recoverable by an operator this long; `admin repo purge` deletes at once).
    pub upkeep_prune_after_days: u32,
    /// Contexts one commit keeps statuses for, at most (Gitea's limit); more are refused.
    pub max_status_contexts: usize,
    /// How long shutdown waits for running requests (pushes) to finish.
    pub shutdown_grace: Duration,
    /// `host:port` users reach SSH at, for clone URLs; port 22 gives `git@host:OWNER/REPO.git`.
    pub ssh_public: String,
    /// Open SSH connections at most; more are refused at once.
    pub ssh_max_connections: usize,
    /// Connections still authenticating at most (OpenSSH's MaxStartups; 100 clients cloning at
    /// once must fit).
    pub ssh_max_unauthenticated: usize,
    /// Of those, from one address (IPv6: one /64) at most.
    pub ssh_max_unauthenticated_per_address: usize,
    /// A connection that has not authenticated by then (counted from accept) is closed.
    pub ssh_auth_timeout: Duration,
    /// Open HTTP connections at most; more are closed at once.
    pub http_max_connections: usize,
    /// Open HTTP connections from one address (IPv6: one /64) at most.
    pub http_max_connections_per_address: usize,
    /// Time a client has to send a request's headers, from accept and, on a kept-alive
    /// connection, from the end of the previous response (so it also ends idle connections).
    pub http_header_timeout: Duration,
    /// A connection with no traffic for this long is closed.
    pub ssh_idle_timeout: Duration,
    /// Folder of the config file, for resolving relative paths in it.
    pub config_dir: PathBuf,
    /// The `labforge` binary the repositories' hook shims exec: this executable unless
    /// `LABFORGE_PROGRAM` says otherwise (tests, where this process is the test runner).
    pub program: PathBuf,
    /// `[[deploy]]`: what pushes run, defined by the operator only.
    pub deploys: Vec<Deploy>,
    /// `[[check]]`: what must pass before a push lands, defined by the operator only.
    pub checks: Vec<Check>,
    /// `[checks]`: the checks' work folder and the bytes pushed trees may take there.
    pub check_limits: CheckLimits,
    pub webhook: WebhookConfig,
    /// `[mirror]`: where mirrors and imports may connect, and each sync's bounds.
    pub mirror: MirrorConfig,
    /// `[cache]`: sizes of the history pages' caches.
    pub cache: crate::git::CacheLimits,
    /// `[backup]`: scheduled backups from `serve`; None when no folder is configured.
    pub backup: Option<BackupConfig>,
    /// `[metrics]`: the Prometheus endpoint (off by default).
    pub metrics: MetricsConfig,
    /// Peers whose `X-Forwarded-For`/`Forwarded` name the client (reverse proxies).
    pub trusted_proxies: crate::model::TrustedProxies,
    /// Where this was read from, so a reload (SIGHUP) reads the same sources again.
    pub source: Source,
}

/// The sources a configuration was read from.
#[derive(Clone, Default)]
pub enum Source {
    /// The process environment and the file `--config`/`LABFORGE_CONFIG` named, if any.
    #[default]
    Process,
    /// The process environment and this file (`--config`).
    File(PathBuf),
    /// `from_pairs`: these pairs alone (tests, embedding).
    Pairs(Vec<(String, String)>),
}

/// Names the file, never a pair's value (`DATABASE_URL` may hold a password).
impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Process => f.write_str("Process"),
            Source::File(path) => write!(f, "File({})", path.display()),
            Source::Pairs(pairs) => write!(f, "Pairs({} settings)", pairs.len()),
        }
    }
}

/// `[webhook]`: where deliveries may go and how they are retried.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `allowed_hosts` (`LABFORGE_WEBHOOK_ALLOWED_HOSTS`), checked after DNS resolution.
    pub allowed_hosts: crate::model::HostAllowList,
    /// The first retry's delay; later ones are 4, 10, 30 and 80 times it (30 s gives 30 s,
    /// 2 min, 5 min, 15 min, 40 min).
    pub retry_base: Duration,
    /// Upper bound on one delivery attempt, connecting included.
    pub timeout: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhookConfig {
    allowed_hosts: Option<String>,
    retry_base_secs: Option<u64>,
    timeout_secs: Option<u64>,
}

/// The file's shape: every field optional; `settings::SETTINGS` maps each to its variable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    http_addr: Option<SocketAddr>,
    ssh_addr: Option<SocketAddr>,
    base_url: Option<String>,
    database_url: Option<String>,
    push_to_create: Option<bool>,
    users_may_create_orgs: Option<bool>,
    max_upload_packs: Option<usize>,
    git_timeout_secs: Option<u64>,
    upkeep_delay_secs: Option<u64>,
    upkeep_prune_after_days: Option<u32>,
    max_status_contexts: Option<usize>,
    shutdown_grace_secs: Option<u64>,
    ssh_public: Option<String>,
    ssh_max_connections: Option<usize>,
    ssh_max_unauthenticated: Option<usize>,
    ssh_max_unauthenticated_per_address: Option<usize>,
    http_max_connections: Option<usize>,
    http_max_connections_per_address: Option<usize>,
    http_header_timeout_secs: Option<u64>,
    ssh_auth_timeout_secs: Option<u64>,
    ssh_idle_timeout_secs: Option<u64>,
    #[serde(default)]
    deploy: Vec<deploy::FileDeploy>,
    #[serde(default)]
    check: Vec<check::FileCheck>,
    checks: Option<check::FileCheckLimits>,
    webhook: Option<FileWebhookConfig>,
    mirror: Option<mirror::FileMirror>,
    cache: Option<cache::FileCache>,
    backup: Option<FileBackupConfig>,
    metrics: Option<metrics::FileMetrics>,
    trusted_proxies: Option<String>,
}

impl Config {
    /// Defaults → file → environment. `file` comes from `--config`, else `LABFORGE_CONFIG`.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = Self::load_unmarked(file)?;
        config.source = file.map_or(Source::Process, |f| Source::File(f.to_path_buf()));
        Ok(config)
    }

    /// The same sources read again (the file may have changed): for a reload.
    pub fn reread(&self) -> anyhow::Result<Self> {
        match &self.source {
            Source::Process => Self::load(None),
            Source::File(path) => Self::load(Some(path)),
            Source::Pairs(pairs) => {
                let pairs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                Self::from_pairs(&pairs)
            }
        }
    }

    fn load_unmarked(file: Option<&Path>) -> anyhow::Result<Self> {
        let env_file = std::env::var_os("LABFORGE_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let (parsed, config_dir) = match &file {
            Some(path) => Self::read_file(path)?,
            None => (FileConfig::default(), PathBuf::from(".")),
        };
        Self::from_sources(parsed, config_dir, |k| std::env::var(k).ok())
    }

    /// The file alone, no environment: for `keys` and `serv`, which the host's sshd starts with
    /// the client's environment (whatever its `AcceptEnv` lets through), not the operator's.
    pub fn load_file_only(file: Option<&Path>) -> anyhow::Result<Self> {
        let (parsed, config_dir) = match file {
            Some(path) => Self::read_file(path)?,
            None => (FileConfig::default(), PathBuf::from(".")),
        };
        Self::from_sources(parsed, config_dir, |_| None)
    }

    fn read_file(path: &Path) -> anyhow::Result<(FileConfig, PathBuf)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let parsed: FileConfig = toml::from_str(&text)
            .with_context(|| format!("parsing config file {}", path.display()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((parsed, dir))
    }

    fn from_sources(
        file: FileConfig,
        config_dir: PathBuf,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        // A setting missing from the table would be missing from `serve --help` too.
        let env = |key: &str| {
            debug_assert!(
                settings::is_listed(key),
                "{key} is read but not listed in config/settings.rs"
            );
            env(key)
        };
        let parse_env = |key: &str| -> anyhow::Result<Option<String>> {
            Ok(env(key).filter(|v| !v.is_empty()))
        };
        // Every path is made absolute here, once: git runs the hooks inside the bare
        // repository, and a relative socket path there points nowhere.
        let config_dir = absolute(&config_dir)?;
        let data_dir = absolute(&match parse_env("LABFORGE_DATA_DIR")? {
            Some(v) => PathBuf::from(v),
            None => file
                .data_dir
                .map_or_else(|| PathBuf::from("./data"), |d| config_dir.join(d)),
        })?;
        let http_addr = match parse_env("LABFORGE_HTTP_ADDR")? {
            Some(v) => v
                .parse()
                .with_context(|| format!("LABFORGE_HTTP_ADDR={v}"))?,
            None => file
                .http_addr
                .unwrap_or_else(|| ([0, 0, 0, 0], 3000).into()),
        };
        let ssh_addr = match parse_env("LABFORGE_SSH_ADDR")? {
            Some(v) => v
                .parse()
                .with_context(|| format!("LABFORGE_SSH_ADDR={v}"))?,
            None => file.ssh_addr.unwrap_or_else(|| ([0, 0, 0, 0], 2222).into()),
        };
        let base_url = parse_env("LABFORGE_BASE_URL")?
            .or(file.base_url)
            .unwrap_or_else(|| default_base_url(http_addr));
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            bail!("LABFORGE_BASE_URL must start with http:// or https://, got {base_url}");
        }
        let database_url = parse_env("DATABASE_URL")?
            .or(file.database_url)
            .map(Secret::new);
        let push_to_create = match parse_env("LABFORGE_PUSH_TO_CREATE")? {
            Some(v) => parse_bool(&v).context("LABFORGE_PUSH_TO_CREATE")?,
            None => file.push_to_create.unwrap_or(true),
        };
        let users_may_create_orgs = match parse_env("LABFORGE_USERS_MAY_CREATE_ORGS")? {
            Some(v) => parse_bool(&v).context("LABFORGE_USERS_MAY_CREATE_ORGS")?,
            None => file.users_may_create_orgs.unwrap_or(false),
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let max_upload_packs = match parse_env("LABFORGE_MAX_UPLOAD_PACKS")? {
            Some(v) => v.parse().context("LABFORGE_MAX_UPLOAD_PACKS")?,
            None => file.max_upload_packs.unwrap_or(2 * cores),
        };
        let secs = |key: &str, file_value: Option<u64>, default: u64| -> anyhow::Result<Duration> {
            let v = match parse_env(key)? {
                Some(v) => v.parse().with_context(|| format!("{key}={v}"))?,
                None => file_value.unwrap_or(default),
            };
            Ok(Duration::from_secs(v))
        };
        let ssh_public = match parse_env("LABFORGE_SSH_PUBLIC")?.or(file.ssh_public) {
            Some(v) => v,
            None => format!("{}:{}", host_of(&base_url), ssh_addr.port()),
        };
        let count =
            |key: &str, file_value: Option<usize>, default: usize| -> anyhow::Result<usize> {
                Ok(match parse_env(key)? {
                    Some(v) => v.parse().with_context(|| format!("{key}={v}"))?,
                    None => file_value.unwrap_or(default),
                })
            };
        let file_webhook = file.webhook.unwrap_or_default();
        let allowed_hosts = match parse_env("LABFORGE_WEBHOOK_ALLOWED_HOSTS")? {
            Some(v) => crate::model::HostAllowList::parse(&v).map_err(anyhow::Error::msg)?,
            None => match &file_webhook.allowed_hosts {
                Some(v) => crate::model::HostAllowList::parse(v).map_err(anyhow::Error::msg)?,
                None => crate::model::HostAllowList::default(),
            },
        };
        let webhook = WebhookConfig {
            allowed_hosts,
            retry_base: secs(
                "LABFORGE_WEBHOOK_RETRY_BASE_SECS",
                file_webhook.retry_base_secs,
                30,
            )?
            .max(Duration::from_secs(1)),
            timeout: secs(
                "LABFORGE_WEBHOOK_TIMEOUT_SECS",
                file_webhook.timeout_secs,
                10,
            )?
            .max(Duration::from_secs(1)),
        };
        let backup = backup_config(file.backup.unwrap_or_default(), &config_dir, &parse_env)?;
        let check_limits = check::parse_check_limits(file.checks, &config_dir, &data_dir, &env)?;
        Ok(Self {
            cache: cache::parse_cache(file.cache, env)?,
            mirror: mirror::parse_mirror(file.mirror, env)?,
            metrics: metrics::parse_metrics(file.metrics, env)?,
            trusted_proxies: match parse_env("LABFORGE_TRUSTED_PROXIES")?.or(file.trusted_proxies) {
                Some(v) => crate::model::TrustedProxies::parse(&v).map_err(anyhow::Error::msg)?,
                None => crate::model::TrustedProxies::default(),
            },
            backup,
            webhook,
            ssh_max_connections: count(
                "LABFORGE_SSH_MAX_CONNECTIONS",
                file.ssh_max_connections,
                512,
            )?
            .max(1),
            ssh_max_unauthenticated: count(
                "LABFORGE_SSH_MAX_UNAUTHENTICATED",
                file.ssh_max_unauthenticated,
                128,
            )?
            .max(1),
            ssh_max_unauthenticated_per_address: count(
                "LABFORGE_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS",
                file.ssh_max_unauthenticated_per_address,
                100,
            )?
            .max(1),
            http_max_connections: count(
                "LABFORGE_HTTP_MAX_CONNECTIONS",
                file.http_max_connections,
                2048,
            )?
            .max(1),
            http_max_connections_per_address: count(
                "LABFORGE_HTTP_MAX_CONNECTIONS_PER_ADDRESS",
                file.http_max_connections_per_address,
                128,
            )?
            .max(1),
            http_header_timeout: secs(
                "LABFORGE_HTTP_HEADER_TIMEOUT_SECS",
                file.http_header_timeout_secs,
                15,
            )?
            .max(Duration::from_secs(1)),
            ssh_auth_timeout: secs(
                "LABFORGE_SSH_AUTH_TIMEOUT_SECS",
                file.ssh_auth_timeout_secs,
                30,
            )?,
            ssh_idle_timeout: secs(
                "LABFORGE_SSH_IDLE_TIMEOUT_SECS",
                file.ssh_idle_timeout_secs,
                600,
            )?,
            ssh_public,
            data_dir,
            http_addr,
            ssh_addr,
            base_url,
            database_url,
            push_to_create,
            users_may_create_orgs,
            max_upload_packs: max_upload_packs.max(1),
            git_timeout: secs("LABFORGE_GIT_TIMEOUT_SECS", file.git_timeout_secs, 3600)?,
            upkeep_delay: secs("LABFORGE_UPKEEP_DELAY_SECS", file.upkeep_delay_secs, 60)?,
            upkeep_prune_after_days: match parse_env("LABFORGE_UPKEEP_PRUNE_AFTER_DAYS")? {
                Some(v) => v
                    .parse()
                    .with_context(|| format!("LABFORGE_UPKEEP_PRUNE_AFTER_DAYS={v}"))?,
                None => file.upkeep_prune_after_days.unwrap_or(14),
            },
            max_status_contexts: count(
                "LABFORGE_MAX_STATUS_CONTEXTS",
                file.max_status_contexts,
                1000,
            )?
            .max(1),
            shutdown_grace: secs("LABFORGE_SHUTDOWN_GRACE_SECS", file.shutdown_grace_secs, 30)?,
            program: match parse_env("LABFORGE_PROGRAM")? {
                Some(p) => absolute(Path::new(&p))?,
                None => std::env::current_exe().context("finding this program's path")?,
            },
            deploys: deploy::parse_deploys(file.deploy, &config_dir)?,
            checks: check::parse_checks(file.check, &config_dir)?,
            check_limits,
            config_dir,
            source: Source::default(),
        })
    }

    /// Builds a config from `KEY=value` pairs alone (no file, no process environment): for
    /// tests and embedding, where the caller's environment must not leak in.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> anyhow::Result<Self> {
        let lookup = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        };
        // A LABFORGE_CONFIG pair names a file to read, as the variable does for `serve`.
        let (file, dir) = match lookup("LABFORGE_CONFIG") {
            Some(path) => Self::read_file(Path::new(&path))?,
            None => (FileConfig::default(), PathBuf::from(".")),
        };
        let mut config = Self::from_sources(file, dir, lookup)?;
        config.source = Source::Pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        Ok(config)
    }

    /// After binding: a configured port 0 (tests) becomes the real port in the public addresses
    /// derived from it, so clone URLs point somewhere real.
    pub fn with_bound_ports(mut self, http: u16, ssh: u16) -> Self {
        if let Some(stem) = self.base_url.strip_suffix(":0") {
            self.base_url = format!("{stem}:{http}");
        }
        if let Some(stem) = self.ssh_public.strip_suffix(":0") {
            self.ssh_public = format!("{stem}:{ssh}");
        }
        self
    }

    pub fn repos_dir(&self) -> PathBuf {
        self.data_dir.join("repos")
    }

    /// Every command but `serve` and `restore` works on a forge that exists already. A missing
    /// data folder means it was run from the wrong folder (or with the wrong settings); going on
    /// would start a second, empty forge there and report success against it.
    pub fn require_data_dir(&self) -> anyhow::Result<()> {
        if self.data_dir.is_dir() {
            return Ok(());
        }
        bail!(
            "no labforge data folder at {} (nothing was created); only `labforge serve` (or \
             `restore`) makes one. Run this where serve runs, or point at the forge's data \
             folder with LABFORGE_DATA_DIR=/path/to/data or --config FILE (data_dir = ...)",
            self.data_dir.display()
        )
    }
}

/// `path` from the current folder, without resolving symlinks (the folder may not exist yet).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::path::absolute(path).with_context(|| format!("making {} absolute", path.display()))
}

fn default_base_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}", addr.port())
}

/// The host part of a URL (`https://git.lab:8443/x` → `git.lab`), for the default SSH address.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

impl Config {
    pub fn http_clone_url(&self, owner: &str, repo: &str) -> String {
        format!("{}/{owner}/{repo}.git", self.base_url)
    }

    /// `ssh://git@host:2222/OWNER/REPO.git`, or the short `git@host:OWNER/REPO.git` on port 22.
    pub fn ssh_clone_url(&self, owner: &str, repo: &str) -> String {
        match self.ssh_public.rsplit_once(':') {
            Some((host, "22")) => format!("git@{host}:{owner}/{repo}.git"),
            Some((host, port)) => format!("ssh://git@{host}:{port}/{owner}/{repo}.git"),
            None => format!("git@{}:{owner}/{repo}.git", self.ssh_public),
        }
    }
}

fn parse_bool(v: &str) -> anyhow::Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("expected true or false, got {v}"),
    }
}

#[cfg(test)]
mod tests;
