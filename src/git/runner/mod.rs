//! The one place that starts git. Every git process gets a cleared environment with a short
//! allowlist, server-side settings on the command line (where repository config cannot override
//! them), `--end-of-options` before the repository path, its own process group, and a deadline.
//! Dropping a `GitChild` (the client went away) or passing the deadline (even while nobody reads
//! its output) ends the whole group: git's helpers such as `pack-objects` go too, not just the
//! process we started.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use tokio::process::{Child, Command};

use super::RepoDir;
use super::memory_cap::MemoryCap;
use crate::model::is_object_id;

mod capture;
mod scratch;
mod streams;

pub use scratch::{IndexChange, Scratch, Signature, git_date};

/// The PATH every child labforge starts gets (git here, deploy commands in the worker).
pub const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Settings every git process runs with. `-c` outranks every config file.
const SERVER_CONFIG: &[&str] = &[
    "uploadpack.allowFilter=true",
    "uploadpack.allowAnySHA1InWant=false",
    "receive.advertisePushOptions=true",
    "receive.advertiseAtomic=true",
    "receive.fsckObjects=true",
    // upkeep repacks on its own schedule; a push must not pay for `gc --auto`.
    "receive.autogc=false",
    "gc.auto=0",
    "core.fsync=committed",
    "repack.writeBitmaps=true",
    "pack.writeBitmapHashCache=true",
    // upload-archive serves branches and tags only (its default, stated where config cannot
    // change it): the tree a client names is one our pre-check can resolve the same way.
    "uploadArchive.allowUnreachable=false",
];

/// The three programs a client may ask for, over HTTP or SSH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    UploadPack,
    ReceivePack,
    UploadArchive,
}

impl Service {
    /// Parses the names clients use (`git-upload-pack`, as in `?service=` and SSH exec lines).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "git-upload-pack" => Some(Service::UploadPack),
            "git-receive-pack" => Some(Service::ReceivePack),
            "git-upload-archive" => Some(Service::UploadArchive),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::UploadPack => "git-upload-pack",
            Service::ReceivePack => "git-receive-pack",
            Service::UploadArchive => "git-upload-archive",
        }
    }

    fn subcommand(self) -> &'static str {
        match self {
            Service::UploadPack => "upload-pack",
            Service::ReceivePack => "receive-pack",
            Service::UploadArchive => "upload-archive",
        }
    }

    pub fn writes(self) -> bool {
        matches!(self, Service::ReceivePack)
    }
}

/// The client's `GIT_PROTOCOL` (or `Git-Protocol` header), the only client-set variable that
/// reaches git, and only as `version=0|1|2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GitProtocol(u8);

impl GitProtocol {
    pub fn parse(s: &str) -> Option<Self> {
        // Clients may send several colon-separated parameters; only the version is kept.
        s.split(':').find_map(|part| match part.trim() {
            "version=0" => Some(GitProtocol(0)),
            "version=1" => Some(GitProtocol(1)),
            "version=2" => Some(GitProtocol(2)),
            _ => None,
        })
    }

    pub fn version(self) -> u8 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    TarGz,
    Zip,
}

impl ArchiveFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::Zip => "zip",
        }
    }
}

/// How long a `git archive` process may run, download included: minutes, not the git
/// timeout's hour (`archive_size::ArchiveLimits::DEFAULT` uses it too).
pub const ARCHIVE_DEADLINE: Duration = Duration::from_secs(600);

/// How a service should run for one request.
pub struct ServiceRequest<'a> {
    pub service: Service,
    pub dir: &'a RepoDir,
    /// HTTP's one-request-one-response mode.
    pub stateless_rpc: bool,
    /// Only print the ref advertisement (HTTP `info/refs`).
    pub advertise_refs: bool,
    pub protocol: Option<GitProtocol>,
    /// Variables the server sets for its own hooks (never client-supplied).
    pub hook_env: Vec<(&'static str, String)>,
}

/// A running git service; its process group is ended when this is dropped or at the deadline.
pub struct GitChild {
    pub child: Child,
    pub deadline: tokio::time::Instant,
    watchdog: tokio::task::AbortHandle,
    /// Things that must live exactly as long as the process (a push's hook ticket).
    attached: Vec<Box<dyn Send + Sync>>,
    /// Where the transport relaying stdout counts the bytes (`/metrics`); counts nowhere unless set.
    pub sent: crate::metrics::SentBytes,
}

impl GitChild {
    fn new(child: Child, deadline: tokio::time::Instant) -> Self {
        let pid = child.id();
        let watchdog = tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            if let Some(pid) = pid {
                tracing::warn!(pid, "git ran past its deadline; ending its process group");
                signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
        })
        .abort_handle();
        Self {
            child,
            deadline,
            watchdog,
            attached: Vec::new(),
            sent: crate::metrics::SentBytes::default(),
        }
    }

    /// Keeps `guard` alive until this child is dropped.
    pub fn attach(&mut self, guard: impl Send + Sync + 'static) {
        self.attached.push(Box::new(guard));
    }
}

impl Drop for GitChild {
    fn drop(&mut self) {
        self.watchdog.abort();
        // `id()` is None once the child was reaped, so a finished git's (reusable) pid is
        // never signalled. SIGTERM lets git's helpers remove their lock and temporary files;
        // tokio's kill_on_drop then SIGKILLs the leader.
        if let Some(pid) = self.child.id() {
            signal_group(pid, nix::sys::signal::Signal::SIGTERM);
        }
    }
}

/// Sends `signal` to the process group led by `pid` (children start their own groups).
pub fn signal_group(pid: u32, signal: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
    }
}

#[derive(Debug, Clone)]
pub struct GitRunner {
    git: PathBuf,
    timeout: Duration,
    /// How every child's memory is bounded (see `memory_cap`): picked once, logged.
    memory: Arc<MemoryCap>,
}

impl GitRunner {
    /// Finds `git` on PATH once at start; an absolute path means a later PATH change (or a
    /// client) cannot swap the binary.
    pub fn detect(timeout: Duration) -> anyhow::Result<Self> {
        let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from(SAFE_PATH));
        let git = std::env::split_paths(&path)
            .map(|d| d.join("git"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                anyhow!("git was not found on PATH; install git (Debian: apt-get install git)")
            })?;
        let memory = Arc::new(MemoryCap::detect(super::memory_cap::default_limit()));
        Ok(Self {
            git,
            timeout,
            memory,
        })
    }

    pub(super) fn base_command(&self) -> Command {
        let mut cmd = Command::from(self.blocking_command());
        cmd.kill_on_drop(true);
        cmd
    }

    /// The same command for a thread outside the async runtime (the history walks): the
    /// environment, settings and process group of every git labforge starts.
    fn blocking_command(&self) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(&self.git);
        cmd.env_clear()
            .env("PATH", SAFE_PATH)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for setting in SERVER_CONFIG.iter().chain(self.memory.git_settings()) {
            cmd.arg("-c").arg(setting);
        }
        if let Some(fd) = self.memory.procs_fd() {
            // SAFETY: between fork and exec only `write(2)` runs, which is async-signal-safe;
            // the descriptor stays open for as long as the runner (and so the fork) exists.
            unsafe {
                cmd.pre_exec(move || {
                    // "0" moves the writing process (the child, before it becomes git).
                    let done = libc::write(fd, b"0".as_ptr().cast(), 1);
                    if done == 1 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        cmd
    }

    /// Starts upload-pack, receive-pack or upload-archive with piped stdio.
    pub fn spawn_service(&self, req: ServiceRequest<'_>) -> std::io::Result<GitChild> {
        let mut cmd = self.base_command();
        cmd.arg(req.service.subcommand());
        if req.stateless_rpc {
            cmd.arg("--stateless-rpc");
        }
        if req.advertise_refs {
            cmd.arg("--advertise-refs");
        }
        // upload-archive takes exactly one argument and no options parser; the path is absolute
        // (the root is canonical), so it can never be read as an option there.
        if req.service != Service::UploadArchive {
            cmd.arg("--end-of-options");
        }
        cmd.arg(req.dir.path());
        if let Some(p) = req.protocol {
            cmd.env("GIT_PROTOCOL", format!("version={}", p.version()));
        }
        for (k, v) in req.hook_env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped());
        let child = cmd.spawn()?;
        // An archive is bounded in minutes, like the web's; the hour is for clones and pushes.
        let deadline = match req.service {
            Service::UploadArchive => self.deadline().min(self.archive_deadline()),
            _ => self.deadline(),
        };
        Ok(GitChild::new(child, deadline))
    }

    /// `git archive` of `commit` (a full id from the reader) as `tar.gz` or `zip`, every path
    /// under `prefix/`; stdout is the archive. The caller counted the tree first
    /// (`Reader::archive_size`); git is ended at `archive_deadline`.
    pub fn spawn_archive(
        &self,
        dir: &RepoDir,
        format: ArchiveFormat,
        prefix: &str,
        commit: &str,
    ) -> std::io::Result<GitChild> {
        let mut cmd = self.base_command();
        cmd.arg("archive")
            .arg(format!("--format={}", format.as_str()))
            .arg(format!("--prefix={prefix}/"))
            .arg("--end-of-options")
            .arg(commit)
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path());
        let child = cmd.spawn()?;
        Ok(GitChild::new(
            child,
            self.deadline().min(self.archive_deadline()),
        ))
    }

    /// Runs a fixed maintenance command (`args` are ours, never a client's) in `dir`.
    pub async fn run_in(&self, dir: &RepoDir, args: &[&str]) -> anyhow::Result<()> {
        let mut cmd = self.base_command();
        cmd.args(args)
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path());
        self.run_to_end(cmd, args).await
    }

    /// Makes `work_tree` hold exactly the files of `commit`: a deploy's working folder, kept
    /// from run to run. `git clean` drops what the last run left that is not tracked, then
    /// `read-tree --reset -u` writes only what differs from `commit`: changed, added and
    /// removed files, and tracked files the last run touched (found by their stat data in
    /// `index`, which lives outside the folder). So a push costs the files it changed, not
    /// the whole tree: creating thousands of files per deploy took 100-400 ms for a 600-file
    /// tree here (ext4 without a journal scans past every recently deleted inode).
    /// `quarantine` (a push's, checked to be this repository's) lets git read objects a push
    /// has not landed yet, the way receive-pack's own hooks do: `-o deploy=gate`.
    pub async fn sync_work_tree(
        &self,
        dir: &RepoDir,
        commit: &str,
        work_tree: &Path,
        index: &Path,
        quarantine: Option<&Path>,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(is_object_id(commit), "not a commit id: {commit}");
        let quarantine = quarantine.map(|q| dir.quarantine(q)).transpose()?;
        let steps: [&[&str]; 2] = [
            &["clean", "-ffdxq"],
            &["read-tree", "--reset", "-u", "--end-of-options", commit],
        ];
        for args in steps {
            let mut cmd = self.base_command();
            cmd.args(args)
                .env("GIT_DIR", dir.path())
                .env("GIT_WORK_TREE", work_tree)
                .env("GIT_INDEX_FILE", index)
                .current_dir(work_tree);
            if let Some(quarantine) = &quarantine {
                cmd.env("GIT_OBJECT_DIRECTORY", quarantine).env(
                    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                    dir.path().join("objects"),
                );
            }
            self.run_to_end(cmd, args).await?;
        }
        Ok(())
    }

    /// Whether `old` is an ancestor of `new` (a fast-forward), during a push: the pushed objects
    /// are still in receive-pack's quarantine folder, which must be a folder of the repository's
    /// own `objects/` (checked here, since the path comes from a hook).
    pub async fn is_ancestor(
        &self,
        dir: &RepoDir,
        quarantine: Option<&Path>,
        old: &str,
        new: &str,
    ) -> anyhow::Result<bool> {
        anyhow::ensure!(
            is_object_id(old) && is_object_id(new),
            "not object ids: {old} {new}"
        );
        let mut cmd = self.base_command();
        cmd.args(["merge-base", "--is-ancestor", old, new])
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path());
        if let Some(q) = quarantine {
            let q = dir.quarantine(q)?;
            cmd.env("GIT_OBJECT_DIRECTORY", &q)
                .env(
                    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                    dir.path().join("objects"),
                )
                .env("GIT_QUARANTINE_PATH", &q);
        }
        let (status, _) = self.wait_for(cmd, "git merge-base").await?;
        match status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(anyhow!(
                "git merge-base --is-ancestor {old} {new} failed ({status})"
            )),
        }
    }

    /// When a service started now will be ended.
    pub fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.timeout
    }

    /// When an archive (web or `upload-archive`) started now will be ended.
    pub fn archive_deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + ARCHIVE_DEADLINE
    }

    /// How git children's memory is bounded here.
    pub fn memory_cap(&self) -> &MemoryCap {
        &self.memory
    }

    pub fn git_path(&self) -> &Path {
        &self.git
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_version_passes() {
        assert_eq!(GitProtocol::parse("version=2"), Some(GitProtocol(2)));
        assert_eq!(GitProtocol::parse("version=0"), Some(GitProtocol(0)));
        assert_eq!(
            GitProtocol::parse("foo=bar:version=1"),
            Some(GitProtocol(1))
        );
        assert_eq!(GitProtocol::parse("version=3"), None);
        assert_eq!(GitProtocol::parse("version=2 LD_PRELOAD=x"), None);
        assert_eq!(GitProtocol::parse(""), None);
    }

    #[test]
    fn services_parse_strictly() {
        assert_eq!(Service::parse("git-upload-pack"), Some(Service::UploadPack));
        assert_eq!(
            Service::parse("git-receive-pack"),
            Some(Service::ReceivePack)
        );
        assert_eq!(Service::parse("git-upload-pack "), None);
        assert_eq!(Service::parse("upload-pack"), None);
        assert!(Service::ReceivePack.writes() && !Service::UploadPack.writes());
    }

    /// Without a cgroup, every git the runner starts gets git's pack limits on its command
    /// line, and git reads them (the values a repository's config cannot raise).
    #[test]
    fn without_a_cgroup_every_git_runs_with_the_pack_limits() {
        let runner = GitRunner {
            memory: Arc::new(MemoryCap::GitSettings { why: "test".into() }),
            ..GitRunner::detect(Duration::from_secs(60)).unwrap()
        };
        let mut cmd = runner.blocking_command();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for setting in super::super::memory_cap::GIT_PACK_LIMITS {
            assert!(
                args.windows(2).any(|w| w[0] == "-c" && w[1] == *setting),
                "{setting} in {args:?}"
            );
        }
        let out = cmd
            .args(["config", "--get", "core.packedGitLimit"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "512m");
        // With a cgroup, git keeps its own defaults (the cgroup bounds it).
        let capped = GitRunner {
            memory: Arc::new(MemoryCap::Cgroup {
                dir: PathBuf::from("/nonexistent"),
                procs: tempfile::tempfile().unwrap(),
                limit: 1 << 30,
            }),
            ..runner
        };
        let args: Vec<String> = capped
            .blocking_command()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(!args.iter().any(|a| a.starts_with("core.packedGitLimit")));
    }
}
