//! How the memory of the git processes labforge starts is bounded, chosen once at start.
//!
//! `RLIMIT_AS` is no tool for git: git maps pack files (and their indexes, bitmaps and the
//! commit-graph) into its address space, so a cap on addresses fails large clones and repacks
//! long before they use that much memory. Two mechanisms that do work:
//!
//! - a cgroup v2 memory controller (where this process may manage a cgroup of its own): every
//!   git child is moved into `labforge-git`, whose `memory.max` bounds what git uses (resident
//!   memory, not addresses; mapped pack pages are reclaimable cache); past it the kernel's OOM
//!   killer ends the largest git there, never the server or PostgreSQL;
//! - otherwise git's own limits on what it maps and caches (`GIT_PACK_LIMITS`), passed with `-c`
//!   so repository config cannot raise them. They bound pack windows, delta caches and
//!   pack-objects' delta window; git's other heap use is bounded by our pre-checks (an
//!   archive's entries and bytes) and every child's deadline.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

/// git's settings when no cgroup is available. 64-bit defaults are a 1 GiB window, a 32 GiB
/// mapping limit and an unbounded pack-objects window; with these a clone or repack of a pack
/// larger than the limit still works (git slides its windows), it maps less at once.
pub const GIT_PACK_LIMITS: &[&str] = &[
    "core.packedGitWindowSize=64m",
    "core.packedGitLimit=512m",
    "core.deltaBaseCacheLimit=96m",
    "pack.windowMemory=256m",
    "pack.deltaCacheSize=128m",
];

/// The cgroup git children are moved into (a child of this process's own cgroup).
const GIT_GROUP: &str = "labforge-git";
/// Where this process moves itself when its cgroup holds processes: cgroup v2 enables a
/// controller for child groups only in a group without processes of its own.
const SERVER_GROUP: &str = "labforge-server";

#[derive(Debug)]
pub enum MemoryCap {
    /// Every git child joins this cgroup, through its `cgroup.procs` opened once (close-on-exec).
    Cgroup {
        dir: PathBuf,
        procs: File,
        limit: u64,
    },
    /// git runs with `GIT_PACK_LIMITS`.
    GitSettings { why: String },
}

/// Where this process's cgroup v2 folder is, from `/proc/self/mountinfo` and `/proc/self/cgroup`;
/// Err says why there is none.
pub fn own_cgroup(mountinfo: &str, proc_cgroup: &str) -> Result<PathBuf, String> {
    // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTS".
    let mount = mountinfo
        .lines()
        .find_map(|line| {
            let (fields, fs) = line.split_once(" - ")?;
            let fields: Vec<&str> = fields.split(' ').collect();
            (fs.split(' ').next() == Some("cgroup2")).then(|| fields.get(4).copied())?
        })
        .ok_or("no cgroup v2 file system is mounted")?;
    let own = proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("this process is in no cgroup v2 group")?;
    if own.split('/').any(|s| s == "..") {
        return Err(format!("unexpected cgroup path {own:?}"));
    }
    Ok(Path::new(mount).join(own.trim_start_matches('/')))
}

/// Whether a cgroup's `cgroup.controllers` lists the memory controller.
pub fn has_memory(controllers: &str) -> bool {
    controllers.split_whitespace().any(|c| c == "memory")
}

impl MemoryCap {
    /// Picks the mechanism for this machine and says which in the log. `limit` is what all
    /// git children together may hold in the cgroup.
    pub fn detect(limit: u64) -> Self {
        let cap = match Self::cgroup(limit) {
            Ok(cap) => cap,
            Err(why) => MemoryCap::GitSettings { why },
        };
        match &cap {
            MemoryCap::Cgroup { dir, limit, .. } => tracing::info!(
                cgroup = %dir.display(),
                memory_max_mib = limit >> 20,
                "git children's memory: bounded by a cgroup v2 memory controller"
            ),
            MemoryCap::GitSettings { why } => tracing::info!(
                reason = %why,
                settings = %GIT_PACK_LIMITS.join(" "),
                "git children's memory: no cgroup v2 memory controller here; bounded by git's pack settings"
            ),
        }
        cap
    }

    fn cgroup(limit: u64) -> Result<Self, String> {
        let read =
            |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        let own = own_cgroup(
            &read(Path::new("/proc/self/mountinfo"))?,
            &read(Path::new("/proc/self/cgroup"))?,
        )?;
        if !has_memory(&read(&own.join("cgroup.controllers"))?) {
            return Err(format!(
                "the memory controller is not available in {} (cgroup v1 or not delegated)",
                own.display()
            ));
        }
        let group = own.join(GIT_GROUP);
        make_dir(&group)?;
        let enable = |own: &Path| write(&own.join("cgroup.subtree_control"), "+memory");
        if enable(&own).is_err() {
            // Our group holds processes (us): move this process into a leaf of its own first.
            let server = own.join(SERVER_GROUP);
            make_dir(&server)?;
            write(
                &server.join("cgroup.procs"),
                &std::process::id().to_string(),
            )?;
            enable(&own)?;
        }
        write(&group.join("memory.max"), &limit.to_string())?;
        // No swap accounting on some kernels; the cap holds for resident memory regardless.
        let _ = write(&group.join("memory.swap.max"), "0");
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(group.join("cgroup.procs"))
            .map_err(|e| format!("opening {}/cgroup.procs: {e}", group.display()))?;
        Ok(MemoryCap::Cgroup {
            dir: group,
            procs,
            limit,
        })
    }

    /// The `-c` settings git runs with under this cap.
    pub fn git_settings(&self) -> &'static [&'static str] {
        match self {
            MemoryCap::Cgroup { .. } => &[],
            MemoryCap::GitSettings { .. } => GIT_PACK_LIMITS,
        }
    }

    /// The descriptor a child writes "0" to before exec, joining the cgroup.
    pub fn procs_fd(&self) -> Option<RawFd> {
        match self {
            MemoryCap::Cgroup { procs, .. } => Some(procs.as_raw_fd()),
            MemoryCap::GitSettings { .. } => None,
        }
    }
}

/// Half the machine's memory: the server, PostgreSQL and the page cache keep the rest.
pub fn default_limit() -> u64 {
    let pages = nix::unistd::sysconf(nix::unistd::SysconfVar::_PHYS_PAGES)
        .ok()
        .flatten()
        .unwrap_or(0);
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096);
    let total = u64::try_from(pages.saturating_mul(page)).unwrap_or(0);
    (total / 2).max(1 << 30)
}

fn make_dir(p: &Path) -> Result<(), String> {
    match std::fs::create_dir(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("creating {}: {e}", p.display())),
    }
}

fn write(p: &Path, value: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| format!("writing {value:?} to {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's shape (a hybrid: cgroup v2 mounted without controllers beside v1
    /// memory) and a plain cgroup v2 host, as the kernel lists them.
    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";
    const UNIFIED: &str = "\
25 20 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn the_own_cgroup_is_found_from_mountinfo_and_proc_cgroup() {
        assert_eq!(
            own_cgroup(UNIFIED, "0::/system.slice/labforge.service\n"),
            Ok(PathBuf::from(
                "/sys/fs/cgroup/system.slice/labforge.service"
            ))
        );
        assert_eq!(
            own_cgroup(HYBRID, "4:memory:/x\n0::/\n"),
            Ok(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert!(
            own_cgroup(
                "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n",
                "0::/\n"
            )
            .is_err()
        );
        assert!(own_cgroup(UNIFIED, "4:memory:/x\n").is_err());
        assert!(own_cgroup(UNIFIED, "0::/a/../../etc\n").is_err());
        assert!(has_memory("cpuset cpu io memory pids"));
        assert!(!has_memory(""));
        assert!(!has_memory("memory_recursiveprot"));
    }

    #[test]
    fn without_a_cgroup_git_gets_its_pack_limits_and_with_one_none() {
        let fallback = MemoryCap::GitSettings { why: "test".into() };
        assert_eq!(fallback.git_settings(), GIT_PACK_LIMITS);
        assert!(fallback.procs_fd().is_none());
        assert!(
            GIT_PACK_LIMITS
                .iter()
                .any(|s| s.starts_with("core.packedGitLimit="))
        );
        let file = tempfile::tempfile().unwrap();
        let cgroup = MemoryCap::Cgroup {
            dir: PathBuf::from("/sys/fs/cgroup/x/labforge-git"),
            procs: file,
            limit: 1 << 30,
        };
        assert!(cgroup.git_settings().is_empty());
        assert!(cgroup.procs_fd().is_some());
    }
}
