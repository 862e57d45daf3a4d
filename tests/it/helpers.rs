//! `TestApp`: a real labforge on a random port with its own database in a shared throwaway
//! PostgreSQL cluster, and typed helpers that drive the real `git` client against it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use labforge::app::App;
use labforge::config::Config;
use labforge::domain::Forge;
use labforge::model::{Email, RepoName, TokenScope, Username};
use labforge::postgres::{ClusterOptions, ManagedCluster};
use sqlx::postgres::PgConnectOptions;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One cluster for the whole test run, under /tmp so the unprivileged PostgreSQL user can reach
/// it wherever the checkout lives. Left running for the next run; `.ci/run` stops it.
pub const CLUSTER_DIR: &str = "/tmp/labforge-test-pg";

fn cluster() -> &'static ManagedCluster {
    static CLUSTER: OnceLock<ManagedCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        ManagedCluster::ensure_started(Path::new(CLUSTER_DIR), ClusterOptions { unsafe_fast: true })
            .expect("the test PostgreSQL cluster starts (are the server binaries installed?)")
    })
}

/// A fresh, empty database for one test.
pub(crate) async fn fresh_database() -> PgConnectOptions {
    let cluster = tokio::task::spawn_blocking(cluster)
        .await
        .expect("cluster thread");
    let server = cluster.connect_options("postgres");
    labforge::postgres::wait_ready(&server)
        .await
        .expect("test cluster ready");
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| drop_stale_databases(server.clone()))
        .await;
    let name = format!("t_{}_{}", unix_secs(), random_hex(8));
    labforge::storage::ensure_database(server, &name)
        .await
        .expect("create test database");
    cluster.connect_options(&name)
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Each test makes a database (`t_SECS_HEX`) and leaves it for a look after a failure; without
/// a sweep the shared cluster grows by ~9 MB a test (1.7 GB a whole run), run after run, until the
/// disk is full: with a three-hour window, a day of parallel work filled 11 GB. Once per test
/// process, databases older than an hour are dropped: no test process lasts that long (a whole
/// run takes minutes), so another one running beside this one keeps its databases.
async fn drop_stale_databases(server: PgConnectOptions) {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect_with(&server.database("postgres"))
        .await
        .expect("the test cluster accepts connections");
    let names: Vec<String> =
        sqlx::query("SELECT datname::text FROM pg_database WHERE datname LIKE 't\\_%'")
            .fetch_all(&mut conn)
            .await
            .expect("list test databases")
            .iter()
            .map(|row| row.get(0))
            .collect();
    let cutoff = unix_secs().saturating_sub(3600);
    for name in names {
        let created = name
            .strip_prefix("t_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|secs| secs < cutoff) {
            // Names are ours (t_DIGITS_HEX); a failed drop (a test still connected) waits for
            // the next sweep.
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                name.replace('"', "\"\"")
            )))
            .execute(&mut conn)
            .await;
        }
    }
    let _ = conn.close().await;
}

/// A fresh database in the shared test cluster, as a `DATABASE_URL` for the real binary.
pub async fn fresh_database_url() -> String {
    let options = fresh_database().await;
    let cluster = tokio::task::spawn_blocking(cluster)
        .await
        .expect("cluster thread");
    format!(
        "postgres://labforge@localhost/{}?host={}",
        options.get_database().expect("a database name"),
        cluster.socket_dir().display()
    )
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("random");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct TestApp {
    pub base: String,
    pub ssh_port: u16,
    pub forge: Arc<Forge>,
    /// The operator's key (see `grant`).
    pub system_key: Arc<labforge::domain::SystemKey>,
    pub data: TempDir,
    /// Work folder for client-side clones.
    pub work: TempDir,
    db: PgConnectOptions,
    /// The configuration pairs the app was started with, kept for restarts.
    extra: Vec<(String, String)>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The servers' warnings and errors (a 500's cause) go to the test's captured output, which
/// is shown for a failing test: a failure seen once in CI can then be explained. `RUST_LOG`
/// widens it.
fn log_server_warnings() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("labforge=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        Self::spawn_on(data, fresh_database().await, extra).await
    }

    /// Starts on a data folder and database prepared by the test (an upgrade from an old schema).
    pub async fn spawn_on(data: TempDir, db: PgConnectOptions, extra: &[(&str, &str)]) -> Self {
        log_server_warnings();
        let work = tempfile::tempdir().expect("tempdir");
        let running = Running::start(&data, &db, extra).await;
        Self {
            base: running.base,
            ssh_port: running.ssh_port,
            forge: running.forge,
            system_key: running.system_key,
            data,
            work,
            db,
            extra: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            stop: Some(running.stop),
            task: Some(running.task),
        }
    }

    /// Stops the server gracefully and starts it again on the same data, database and config.
    pub async fn restart(&mut self) {
        let extra = self.extra.clone();
        self.restart_with_owned(extra).await;
    }

    /// As `restart`, with other configuration pairs from now on (the operator edited the file).
    pub async fn restart_with(&mut self, extra: &[(&str, &str)]) {
        let extra = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.restart_with_owned(extra).await;
    }

    async fn restart_with_owned(&mut self, extra: Vec<(String, String)>) {
        self.extra = extra;
        self.shutdown().await;
        let extra: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let running = Running::start(&self.data, &self.db, &extra).await;
        self.base = running.base;
        self.ssh_port = running.ssh_port;
        self.forge = running.forge;
        self.system_key = running.system_key;
        self.stop = Some(running.stop);
        self.task = Some(running.task);
    }

    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }

    pub async fn create_user(&self, name: &str, password: &str) {
        self.forge
            .create_user(
                &Username::parse(name).unwrap(),
                &Email::parse(&format!("{name}@lab.test")).unwrap(),
                password,
                false,
            )
            .await
            .expect("create user");
    }

    pub async fn create_token(&self, user: &str, scope: TokenScope) -> String {
        let title = format!("t-{}", random_hex(4));
        self.forge
            .create_token(&Username::parse(user).unwrap(), &title, scope, None)
            .await
            .expect("token")
            .0
    }

    pub async fn create_repo(&self, owner: &str, name: &str, private: bool) {
        self.forge
            .create_repo(
                &Username::parse(owner).unwrap(),
                &RepoName::parse(name).unwrap(),
                private,
                "",
            )
            .await
            .expect("create repo");
    }

    pub async fn add_collaborator(&self, repo: &str, user: &str, access: &str) {
        self.forge
            .add_collaborator(
                &self.grant(repo).await,
                &Username::parse(user).unwrap(),
                access.parse().unwrap(),
            )
            .await
            .expect("collaborator");
    }

    /// The test's own connection to this app's database, for looking at rows the pages do not
    /// show (the forge's own pool is private to its domain).
    pub async fn store(&self) -> labforge::storage::Db {
        labforge::storage::Db::connect(self.db.clone())
            .await
            .expect("the test database answers")
    }

    /// An admin grant on `repo` as the operator has it (`labforge admin …`), for tests that
    /// call domain functions directly.
    pub async fn grant(&self, repo: &str) -> labforge::domain::Grant<labforge::domain::Admin> {
        self.forge
            .grant_for_operator(
                &self.system_key,
                &labforge::model::RepoPath::parse(repo).unwrap(),
            )
            .await
            .expect("the repository exists")
    }

    /// `DATABASE_URL` for this app's database, so the real binary's admin commands can work on
    /// it beside the running app.
    pub fn database_url(&self) -> String {
        let socket = self
            .db
            .get_socket()
            .expect("the test cluster listens on a socket");
        let name = self.db.get_database().expect("each test has its database");
        format!(
            "postgres://{}@localhost/{name}?host={}",
            self.db.get_username(),
            socket.display()
        )
    }

    /// `http://user:pass@host/OWNER/REPO.git`, or anonymous when `creds` is None.
    pub fn url(&self, creds: Option<(&str, &str)>, repo: &str) -> String {
        let host = self.base.trim_start_matches("http://");
        match creds {
            Some((u, p)) => format!("http://{u}:{p}@{host}/{repo}.git"),
            None => format!("{}/{repo}.git", self.base),
        }
    }

    /// `git push -q` of `refs` from `dir` over HTTP as `user` (password or token); must succeed.
    pub async fn push(
        &self,
        dir: &Path,
        (user, password): (&str, &str),
        repo: &str,
        refs: &[&str],
    ) {
        let url = self.url(Some((user, password)), repo);
        let mut args = vec!["push", "-q", url.as_str()];
        args.extend_from_slice(refs);
        git_ok(dir, &args).await;
    }

    /// The bare repository on the server's disk.
    pub fn server_repo(&self, repo: &str) -> PathBuf {
        self.data.path().join("repos").join(format!("{repo}.git"))
    }

    pub fn workdir(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }
}

struct Running {
    base: String,
    ssh_port: u16,
    forge: Arc<Forge>,
    system_key: Arc<labforge::domain::SystemKey>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn start(data: &TempDir, db: &PgConnectOptions, extra: &[(&str, &str)]) -> Self {
        let data_dir = data.path().to_str().expect("utf-8 temp path").to_owned();
        let mut pairs = vec![
            ("LABFORGE_DATA_DIR", data_dir.as_str()),
            ("LABFORGE_HTTP_ADDR", "127.0.0.1:0"),
            ("LABFORGE_SSH_ADDR", "127.0.0.1:0"),
            ("LABFORGE_UPKEEP_DELAY_SECS", "0"),
            ("LABFORGE_SHUTDOWN_GRACE_SECS", "10"),
            // The hook shims exec the real binary (this process is the test runner).
            ("LABFORGE_PROGRAM", env!("CARGO_BIN_EXE_labforge")),
        ];
        pairs.extend_from_slice(extra);
        let config = Config::from_pairs(&pairs).expect("test config");
        let app = App::build_with_database(config, Some(db.clone()))
            .await
            .expect("app builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let ssh_port = app.ssh_port();
        let forge = app.forge();
        let system_key = app.system_key();
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self {
            base,
            ssh_port,
            forge,
            system_key,
            stop,
            task,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs the real `git` with a clean, fixed environment (no user config, no prompts).
pub async fn git(dir: &Path, args: &[&str]) -> Output {
    git_env(dir, args, &[]).await
}

pub async fn git_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    std::fs::create_dir_all(dir).expect("git work dir");
    let mut cmd = tokio::process::Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@lab.test")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@lab.test")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .args(["-c", "init.defaultBranch=main", "-c", "credential.helper="])
        .args(args)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("git runs")
}

/// Runs git and panics with its stderr unless it succeeds; returns stdout.
pub async fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args).await;
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 git output")
}

/// A local repository with `commits` commits on main, each adding a file.
pub async fn local_repo(dir: &Path, commits: usize) {
    git_ok(dir, &["init", "-q", "-b", "main"]).await;
    for i in 0..commits {
        std::fs::write(dir.join(format!("file{i}.txt")), format!("content {i}\n")).unwrap();
        git_ok(dir, &["add", "."]).await;
        git_ok(dir, &["commit", "-q", "-m", &format!("commit {i}")]).await;
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one way tests wait: polls `check` every 50 ms until it gives `Some`, and panics naming
/// `what` once `secs` have passed. Never a sleep followed by an assertion: the bound is generous
/// because it only matters when something is broken, and a passing run waits no longer than the
/// thing takes.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `eventually` for a plain condition.
pub async fn eventually_true(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    eventually(secs, what, || std::future::ready(check().then_some(()))).await
}

/// Waits for `GET /healthz` on `port` to answer 200.
pub async fn wait_healthy(port: u16) {
    eventually(120, "labforge to answer /healthz", || async move {
        let res = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
        res.ok().filter(|r| r.status() == 200).map(|_| ())
    })
    .await
}
