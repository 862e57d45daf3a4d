//! The managed PostgreSQL cluster under `DATA_DIR/pg`, used when no `DATABASE_URL` is set.
//!
//! It listens on a unix socket only, inside a folder only its owner can enter. Started as root it
//! runs as the unprivileged `postgres` (or `nobody`) user, since PostgreSQL refuses to run as
//! root, by setting uid/gid on the child: no sudo needed. A `serve` killed with -9 leaves the
//! cluster running or leaves a stale `postmaster.pid`; `ensure_started` copes with both.

use std::fs::{self, File};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use sqlx::postgres::PgConnectOptions;

/// The superuser initdb creates; labforge connects as it over the private socket.
const SUPERUSER: &str = "labforge";
pub const DATABASE: &str = "labforge";

pub struct ManagedCluster {
    bin: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
    run_as: Option<nix::unistd::User>,
    /// True when this process started the server (rather than finding it running).
    pub started_here: bool,
}

/// Names the labforge process that started the running server (`pg/started-by`, its pid).
/// `serve` stops at exit only a server that labforge started: by itself, or by a labforge that
/// has since ended (a `serve` killed with -9, an admin command that left it to `serve`). A
/// server someone started by hand has no such file and is left running.
const STARTED_BY: &str = "started-by";

/// What the data folder's `postmaster.pid` says about the server.
enum Postmaster {
    None,
    Ours(i32),
    Stale(i32),
}

/// Extra settings for throwaway clusters (tests): durability traded for speed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterOptions {
    pub unsafe_fast: bool,
}

impl ManagedCluster {
    /// Finds the binaries, runs initdb once, and starts the server unless it already runs.
    /// Serialised with a file lock so `serve`, `admin` and parallel tests never race initdb.
    pub fn ensure_started(root: &Path, options: ClusterOptions) -> anyhow::Result<Self> {
        let bin = find_binaries()?;
        let created = !root.exists();
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let root = root.canonicalize()?;
        let lock = File::create(root.join("labforge.lock"))?;
        lock.lock().context("locking the cluster folder")?;
        let run_as = unprivileged_user()?;
        let mut cluster = Self {
            bin,
            data: root.join("data"),
            socket_dir: root.join("run"),
            log: root.join("postgres.log"),
            run_as,
            started_here: false,
        };
        let prepared = cluster.check_reachable(&root).and_then(|()| {
            if cluster.data.join("PG_VERSION").exists() {
                Ok(())
            } else {
                cluster.initdb(options)
            }
        });
        if let Err(e) = prepared {
            // Nothing of this run's making stays behind (an empty `pg` with a lock file in
            // it, a half-made cluster): the operator fixes the cause and starts again.
            if created {
                let _ = fs::remove_dir_all(&root);
            }
            return Err(e);
        }
        cluster.prepare_socket_dir()?;
        cluster.write_settings(options)?;
        if !cluster.is_running()? {
            cluster.start_with_retries()?;
            cluster.started_here = true;
        }
        Ok(cluster)
    }

    fn root(&self) -> &Path {
        self.data
            .parent()
            .expect("data lives under the cluster root")
    }

    fn started_by_path(&self) -> PathBuf {
        self.root().join(STARTED_BY)
    }

    fn note_started_by_us(&self) {
        if let Err(e) = fs::write(self.started_by_path(), format!("{}\n", std::process::id())) {
            tracing::warn!(error = %e, "writing {STARTED_BY}");
        }
    }

    /// Whether `serve` should stop this server when it leaves: it started it, or the labforge
    /// that did has ended (see `STARTED_BY`).
    pub fn belongs_to_serve(&self) -> bool {
        if self.started_here {
            return true;
        }
        let Ok(text) = fs::read_to_string(self.started_by_path()) else {
            return false; // started by hand: not ours to stop
        };
        match text.trim().parse::<i32>() {
            Ok(pid) if pid == std::process::id() as i32 => true,
            Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
            Err(_) => false,
        }
    }

    /// Whether the server runs now, without side effects (for the supervisor's polling).
    pub fn is_alive(&self) -> bool {
        matches!(self.postmaster(), Postmaster::Ours(_))
    }

    /// Starts the server again if it died under a running `serve` (killed, OOM); serialised
    /// with `ensure_started` by the same file lock. Returns whether it had to start it.
    pub fn restart_if_stopped(&self) -> anyhow::Result<bool> {
        let lock = File::create(self.root().join("labforge.lock"))?;
        lock.lock().context("locking the cluster folder")?;
        if self.is_running()? {
            return Ok(false);
        }
        self.start_with_retries()?;
        Ok(true)
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(SUPERUSER)
            .database(database)
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    fn serve_lock_path(&self) -> PathBuf {
        self.data
            .parent()
            .expect("data lives under the cluster root")
            .join("serve.lock")
    }

    /// Held (shared) by `serve` for its whole life, so an admin command that started the
    /// cluster before `serve` came up knows not to stop it under `serve`.
    pub fn hold_for_serve(&self) -> anyhow::Result<File> {
        let file = File::create(self.serve_lock_path())?;
        file.lock_shared().context("taking the serve lock")?;
        Ok(file)
    }

    /// Whether a `serve` holds the cluster.
    pub fn serve_is_using(&self) -> bool {
        match File::create(self.serve_lock_path()) {
            Ok(file) => file.try_lock().is_err(),
            Err(_) => false,
        }
    }

    /// Fast shutdown: running transactions are rolled back, the cluster is consistent.
    pub fn stop(&self) -> anyhow::Result<()> {
        let _ = fs::remove_file(self.started_by_path());
        // Captured, not inherited: an admin command's stdout is for its own output only.
        let out = self
            .pg_ctl()
            .args(["stop", "-m", "fast", "-w", "-t", "60", "-D"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .output()
            .context("running pg_ctl stop")?;
        if !out.status.success() {
            bail!(
                "pg_ctl stop failed ({}): {}; see {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                self.log.display()
            );
        }
        Ok(())
    }

    fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(name));
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LC_ALL", "C")
            .current_dir(
                self.data
                    .parent()
                    .expect("data lives under the cluster root"),
            );
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    fn pg_ctl(&self) -> Command {
        self.command("pg_ctl")
    }

    /// PostgreSQL running as another user needs to enter every folder above its data.
    fn check_reachable(&self, root: &Path) -> anyhow::Result<()> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        for dir in root.ancestors().skip(1) {
            let meta = fs::metadata(dir)?;
            let mode = meta.permissions().mode();
            use std::os::unix::fs::MetadataExt;
            let can_enter = mode & 0o001 != 0
                || (meta.uid() == user.uid.as_raw() && mode & 0o100 != 0)
                || (meta.gid() == user.gid.as_raw() && mode & 0o010 != 0);
            if !can_enter {
                bail!(
                    "PostgreSQL runs as user '{}', which cannot enter {} (mode {:o}).\n\
                     Put LABFORGE_DATA_DIR somewhere it can reach (for example /var/lib/labforge), \
                     run `chmod o+x {}`, or set DATABASE_URL to use an existing server.",
                    user.name,
                    dir.display(),
                    mode & 0o777,
                    dir.display()
                );
            }
        }
        Ok(())
    }

    fn give_to_run_as(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(user) = &self.run_as {
            chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .with_context(|| format!("chown {} to {}", path.display(), user.name))?;
        }
        Ok(())
    }

    fn initdb(&self, options: ClusterOptions) -> anyhow::Result<()> {
        tracing::info!(data = %self.data.display(), "creating PostgreSQL cluster (initdb)");
        let root = self
            .data
            .parent()
            .expect("data lives under the cluster root");
        self.give_to_run_as(root)?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))?;
        // initdb refuses a non-empty folder; a half-finished earlier initdb is moved aside.
        if self.data.exists() {
            let aside = root.join(format!("data.failed-initdb.{}", std::process::id()));
            fs::rename(&self.data, &aside)?;
        }
        let mut cmd = self.command("initdb");
        cmd.args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
        ])
        .args(["--auth-host=reject", "-D"])
        .arg(&self.data);
        if options.unsafe_fast {
            cmd.arg("--no-sync");
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let conf = self.data.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf)?;
        text.push_str("\n# labforge writes its own settings here at every start\ninclude_if_exists = 'labforge.conf'\n");
        fs::write(&conf, text)?;
        Ok(())
    }

    fn prepare_socket_dir(&self) -> anyhow::Result<()> {
        fs::create_dir_all(&self.socket_dir)?;
        self.give_to_run_as(&self.socket_dir)?;
        fs::set_permissions(&self.socket_dir, fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    /// Rewritten at every start, so a moved data folder still gets the right socket path.
    fn write_settings(&self, options: ClusterOptions) -> anyhow::Result<()> {
        let dir = self
            .socket_dir
            .to_str()
            .ok_or_else(|| anyhow!("socket path is not UTF-8"))?;
        if dir.len() > 90 {
            bail!(
                "the socket folder path {dir} is too long for a unix socket; use a shorter LABFORGE_DATA_DIR"
            );
        }
        let mut text = format!(
            "listen_addresses = ''\nunix_socket_directories = '{}'\nunix_socket_permissions = 0700\n",
            dir.replace('\'', "''")
        );
        if options.unsafe_fast {
            text.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.data.join("labforge.conf");
        fs::write(&path, text)?;
        self.give_to_run_as(&path)
    }

    /// What `postmaster.pid` says: running means it names a live postgres whose working
    /// folder is our data folder. A pid file naming anything else is stale (the pid may have
    /// been reused after a crash).
    fn postmaster(&self) -> Postmaster {
        let Ok(text) = fs::read_to_string(self.data.join("postmaster.pid")) else {
            return Postmaster::None;
        };
        let pid: i32 = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        // The data folder may be a symlink (moved to another disk); compare real paths.
        let data = self
            .data
            .canonicalize()
            .unwrap_or_else(|_| self.data.clone());
        let ours = pid > 0
            && fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd == data || cwd.canonicalize().is_ok_and(|c| c == data));
        if ours {
            Postmaster::Ours(pid)
        } else {
            Postmaster::Stale(pid)
        }
    }

    /// Whether the server runs; a stale pid file is removed, which is exactly what PostgreSQL
    /// would do for a dead pid.
    fn is_running(&self) -> anyhow::Result<bool> {
        match self.postmaster() {
            Postmaster::None => Ok(false),
            Postmaster::Ours(pid) => {
                tracing::info!(pid, "PostgreSQL cluster already running; using it");
                Ok(true)
            }
            Postmaster::Stale(pid) => {
                tracing::warn!(pid, "removing stale postmaster.pid left by a crash");
                fs::remove_file(self.data.join("postmaster.pid"))?;
                Ok(false)
            }
        }
    }

    /// After a crash, backends of the killed server can hold its shared memory for a moment
    /// and the first start is refused; a few spaced retries ride that out.
    fn start_with_retries(&self) -> anyhow::Result<()> {
        const ATTEMPTS: u32 = 5;
        for attempt in 1.. {
            match self.start() {
                Ok(()) => return Ok(()),
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "PostgreSQL did not start; retrying");
                    std::thread::sleep(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }

    fn start(&self) -> anyhow::Result<()> {
        tracing::info!(data = %self.data.display(), "starting PostgreSQL");
        let log = File::options().create(true).append(true).open(&self.log)?;
        self.give_to_run_as(&self.log)?;
        let status = self
            .pg_ctl()
            .args(["start", "-w", "-t", "120", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            // Its own process group: a Ctrl-C meant for `serve` must not stop the database
            // under running pushes; `serve` stops it itself, last.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .context("running pg_ctl start")?;
        if status.success() {
            self.note_started_by_us();
        } else {
            let tail = fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            bail!(
                "PostgreSQL did not start ({status}); last lines of {}:\n{}",
                self.log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }
}

/// Looks on PATH first, then in Debian's and other distributions' versioned folders (newest first).
fn find_binaries() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_binaries_in(&path, Path::new("/usr/lib/postgresql"))
}

fn find_binaries_in(path: &std::ffi::OsStr, versioned_root: &Path) -> anyhow::Result<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::split_paths(path).find(|d| has_all(d)) {
        return Ok(dir);
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir(versioned_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_all(dir))
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, dir)| dir).ok_or_else(|| {
        anyhow!(
            "no PostgreSQL server binaries found (initdb, pg_ctl, postgres on PATH or under \
             /usr/lib/postgresql/*/bin). Install them (Debian: apt-get install postgresql) or set \
             DATABASE_URL to an existing server."
        )
    })
}

/// Our own account for PostgreSQL when the system has no `postgres` one.
const OWN_PG_USER: &str = "labforge-pg";

/// As root, PostgreSQL must run as someone else: the system's `postgres` account, else our own
/// `labforge-pg` system account (created once with `useradd`). Never a shared account such as
/// `nobody`: with trust authentication on the socket, any daemon running as that account could
/// use the database. As anyone else, it runs as us.
fn unprivileged_user() -> anyhow::Result<Option<nix::unistd::User>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", OWN_PG_USER] {
        if let Some(user) = nix::unistd::User::from_name(name)? {
            return Ok(Some(user));
        }
    }
    let created = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            OWN_PG_USER,
        ])
        .stdin(Stdio::null())
        .output();
    match created {
        Ok(out) if out.status.success() => {}
        _ => bail!(
            "running as root, PostgreSQL needs an unprivileged account: there is no 'postgres' user and \
             creating '{OWN_PG_USER}' with useradd failed. Create one of them, or set DATABASE_URL."
        ),
    }
    nix::unistd::User::from_name(OWN_PG_USER)?
        .ok_or_else(|| anyhow!("useradd did not create {OWN_PG_USER}"))
        .map(Some)
}

/// How often `serve` looks whether its managed server still runs.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);

/// Runs beside `serve` until `stop`: if the managed server dies (killed, OOM) it is started
/// again within seconds. The pool's connections to the dead server fail meanwhile (`/healthz`
/// answers 503) and new ones reach the restarted server: nothing else restarts.
pub async fn supervise(
    cluster: std::sync::Arc<ManagedCluster>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(SUPERVISE_EVERY) => {}
        }
        if cluster.is_alive() {
            continue;
        }
        tracing::warn!("PostgreSQL is not running; starting it again");
        let c = std::sync::Arc::clone(&cluster);
        match tokio::task::spawn_blocking(move || c.restart_if_stopped()).await {
            Ok(Ok(true)) => tracing::info!("PostgreSQL is running again"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{e:#}"), "restarting PostgreSQL failed; trying again")
            }
            Err(e) => tracing::error!(error = %e, "restarting PostgreSQL panicked"),
        }
    }
}

/// Waits until the server accepts connections (it may still be recovering after a crash).
pub async fn wait_ready(options: &PgConnectOptions) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let mut last = None;
    for _ in 0..240 {
        match options.connect().await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(anyhow!(
        "PostgreSQL did not accept connections within 60 s: {last:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        for b in ["initdb", "pg_ctl", "postgres"] {
            fs::write(dir.join(b), "").unwrap();
        }
    }

    #[test]
    fn missing_binaries_say_what_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_binaries_in(empty.path().as_os_str(), empty.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("apt-get install postgresql"), "{err}");
        assert!(err.contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn path_wins_then_the_newest_versioned_folder() {
        let root = tempfile::tempdir().unwrap();
        fake_bin(&root.path().join("13/bin"));
        fake_bin(&root.path().join("15/bin"));
        let none = std::ffi::OsString::new();
        assert_eq!(
            find_binaries_in(&none, root.path()).unwrap(),
            root.path().join("15/bin")
        );
        let on_path = root.path().join("custom");
        fake_bin(&on_path);
        assert_eq!(
            find_binaries_in(on_path.as_os_str(), root.path()).unwrap(),
            on_path
        );
    }
}
