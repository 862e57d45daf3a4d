//! A control group per check, where this machine lets labforge make one: `pids.max` stops a
//! fork bomb (RLIMIT_NPROC cannot: it counts every process of the real uid, which inside
//! bwrap's user namespace is still labforge's own, with its threads and often PostgreSQL; and
//! it is not enforced at all for root), and a memory limit counts the check's `/tmp` and
//! `/dev/shm` pages with its processes' memory (tmpfs pages are charged to the cgroup of the
//! process that wrote them).
//!
//! Chosen once at start, in this order: cgroup v2 (the unified hierarchy, when labforge may
//! enable `pids` under its own cgroup), then cgroup v1 (`pids`, and `memory` when mounted),
//! then none (logged: checks then have no process limit). Each server makes a parent group
//! `labforge-checks-PID-RANDOM` under its own cgroup and one child per running check; the
//! child is joined between fork and exec, so nothing the check starts is ever outside it.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

/// What labforge's own cgroups are: where they are and which limits they give.
#[derive(Debug)]
pub struct Cgroups {
    version: u8,
    /// `pids` parent, then `memory` parent when separate (v1) or the same folder (v2: one).
    pids: PathBuf,
    memory: Option<PathBuf>,
}

/// One check's group(s); the check joins them in its `pre_exec`, and dropping this kills what
/// is left inside and removes them.
#[derive(Debug)]
pub struct CheckGroup {
    dirs: Vec<PathBuf>,
    procs: Vec<File>,
}

impl Cgroups {
    /// Makes this server's parent group(s), or says why there are none.
    pub fn detect() -> Result<Self, String> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
        let name = format!("labforge-checks-{}-{}", std::process::id(), random_suffix());
        let mut why = Vec::new();
        match try_v2(&mounts, &own, &name) {
            Ok(g) => return Ok(g),
            Err(e) => why.push(format!("cgroup v2: {e}")),
        }
        match try_v1(&mounts, &own, &name) {
            Ok(g) => return Ok(g),
            Err(e) => why.push(format!("cgroup v1: {e}")),
        }
        Err(why.join("; "))
    }

    /// For the start-up log: which mechanism and where.
    pub fn describe(&self) -> String {
        let memory = match &self.memory {
            Some(m) => format!(", memory limit in {}", m.display()),
            None => ", no memory controller (memory bound by RLIMIT_AS only)".to_owned(),
        };
        format!(
            "cgroup v{} pids.max in {}{memory}",
            self.version,
            self.pids.display()
        )
    }

    /// A new group for one check: at most `processes` tasks, and `memory` bytes where the
    /// memory controller is there.
    pub fn for_check(&self, processes: u32, memory: u64) -> std::io::Result<CheckGroup> {
        let name = format!("check-{}", random_suffix());
        let mut group = CheckGroup {
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        let pids = self.pids.join(&name);
        std::fs::create_dir(&pids)?;
        group.dirs.push(pids.clone());
        write(&pids.join("pids.max"), &processes.to_string())?;
        if let Some(parent) = &self.memory {
            let dir = if *parent == self.pids {
                pids.clone()
            } else {
                let dir = parent.join(&name);
                std::fs::create_dir(&dir)?;
                group.dirs.push(dir.clone());
                dir
            };
            let (file, value) = if self.version == 2 {
                ("memory.max", memory.to_string())
            } else {
                ("memory.limit_in_bytes", memory.to_string())
            };
            write(&dir.join(file), &value)?;
            if self.version == 2 {
                // No swap: a check over its memory is stopped, not slowed to a crawl.
                let _ = write(&dir.join("memory.swap.max"), "0");
            }
        }
        for dir in &group.dirs {
            group.procs.push(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.procs"))?,
            );
        }
        Ok(group)
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for dir in std::iter::once(&self.pids).chain(self.memory.iter()) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl CheckGroup {
    /// The open `cgroup.procs` files; writing `0` to each (in the child, before exec) moves
    /// the writer in.
    pub fn join_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// Processes now in the group (its first hierarchy).
    pub fn members(&self) -> Vec<i32> {
        let Some(dir) = self.dirs.first() else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// How many rounds of SIGKILL an emptying group gets (a fork bomb refills between reads of
/// `cgroup.procs`, but never past `pids.max`).
const KILL_ROUNDS: usize = 50;

impl Drop for CheckGroup {
    fn drop(&mut self) {
        for _ in 0..KILL_ROUNDS {
            let members = self.members();
            if members.is_empty() {
                break;
            }
            for pid in members {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.procs.clear();
        for dir in self.dirs.iter().rev() {
            // A killed task leaves the group a moment after it dies; try a few times.
            for _ in 0..KILL_ROUNDS {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(value.as_bytes())
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    // A name that collides is refused by mkdir and reported; randomness only avoids it.
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `(mount point, its root)` of each cgroup mount, with `fstype` and super options.
fn cgroup_mounts(mounts: &str) -> Vec<(String, PathBuf, PathBuf, Vec<String>)> {
    mounts
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let fstype = (*right.first()?).to_owned();
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            let options = right
                .get(2)
                .map(|o| o.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            Some((
                fstype,
                PathBuf::from(unescape(left.get(4)?)),
                PathBuf::from(unescape(left.get(3)?)),
                options,
            ))
        })
        .collect()
}

/// mountinfo writes a space as `\040`.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
}

/// This process's cgroup in the hierarchy `pick` selects from /proc/self/cgroup's lines
/// (`ID:CONTROLLERS:PATH`), as a folder under `mount` mounted from `root`.
fn own_dir(
    own: &str,
    mount: &Path,
    root: &Path,
    pick: impl Fn(&str, &str) -> bool,
) -> Option<PathBuf> {
    let path = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        pick(id, controllers).then(|| path.to_owned())
    })?;
    let path = Path::new(&path);
    let rel = path.strip_prefix(root).unwrap_or(path);
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    // A path from the kernel never climbs; refuse one that would.
    if rel.components().any(|c| c.as_os_str() == OsStr::new("..")) {
        return None;
    }
    Some(mount.join(rel))
}

/// Removes the groups of servers that are gone (`labforge-checks-PID-…` whose PID is not
/// running): a killed server cannot remove its own. Only empty groups can be removed, so a
/// group with a process in it is never touched; at most 1,000 entries are looked at.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten().take(1_000) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("labforge-checks-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        );
        if gone {
            let parent = entry.path();
            if let Ok(children) = std::fs::read_dir(&parent) {
                for child in children.flatten().take(1_000) {
                    if child.file_name().to_string_lossy().starts_with("check-") {
                        let _ = std::fs::remove_dir(child.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(&parent);
        }
    }
}

fn try_v2(mounts: &str, own: &str, name: &str) -> Result<Cgroups, String> {
    let (_, mount, root, _) = cgroup_mounts(mounts)
        .into_iter()
        .find(|(t, ..)| t == "cgroup2")
        .ok_or("not mounted")?;
    let dir = own_dir(own, &mount, &root, |id, _| id == "0").ok_or("no own cgroup")?;
    let available = std::fs::read_to_string(dir.join("cgroup.controllers"))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let has = |c: &str| available.split_whitespace().any(|x| x == c);
    if !has("pids") {
        return Err(format!(
            "the pids controller is not available in {}",
            dir.display()
        ));
    }
    let memory = has("memory");
    let wanted = if memory { "+pids +memory" } else { "+pids" };
    // Fails (EBUSY) where our own group holds processes and is not the root: cgroup v2 keeps
    // processes in leaves only; the operator can delegate a subtree (systemd Delegate=yes).
    write(&dir.join("cgroup.subtree_control"), wanted)
        .map_err(|e| format!("enabling pids below our cgroup: {e}"))?;
    remove_stale(&dir);
    let parent = dir.join(name);
    std::fs::create_dir(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    if let Err(e) = write(&parent.join("cgroup.subtree_control"), wanted) {
        let _ = std::fs::remove_dir(&parent);
        return Err(format!("enabling pids in {}: {e}", parent.display()));
    }
    Ok(Cgroups {
        version: 2,
        memory: memory.then(|| parent.clone()),
        pids: parent,
    })
}

fn try_v1(mounts: &str, own: &str, name: &str) -> Result<Cgroups, String> {
    let all = cgroup_mounts(mounts);
    let hierarchy = |controller: &str| -> Option<PathBuf> {
        let (_, mount, root, _) = all
            .iter()
            .find(|(t, _, _, o)| t == "cgroup" && o.iter().any(|x| x == controller))?;
        own_dir(own, mount, root, |_, c| {
            c.split(',').any(|x| x == controller)
        })
    };
    let pids_dir = hierarchy("pids").ok_or("no pids hierarchy mounted")?;
    remove_stale(&pids_dir);
    let pids = pids_dir.join(name);
    std::fs::create_dir(&pids).map_err(|e| format!("{}: {e}", pids.display()))?;
    let memory = hierarchy("memory").and_then(|dir| {
        remove_stale(&dir);
        let parent = dir.join(name);
        std::fs::create_dir(&parent).ok().map(|()| parent)
    });
    Ok(Cgroups {
        version: 1,
        pids,
        memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_and_own_groups_are_read() {
        let mounts = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                      39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n\
                      35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let m = cgroup_mounts(mounts);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].1, Path::new("/sys/fs/cgroup/pids"));
        assert_eq!(m[0].3, ["rw", "pids"]);
        let own = "8:pids:/\n4:memory:/api/x\n0::/user.slice\n";
        let dir = own_dir(own, &m[1].1, &m[1].2, |_, c| c == "memory").unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/memory/api/x"));
        let dir = own_dir(own, &m[2].1, &m[2].2, |id, _| id == "0").unwrap();
        assert_eq!(dir, Path::new("/sys/fs/cgroup/unified/user.slice"));
        assert!(own_dir("0::/../x\n", Path::new("/c"), Path::new("/"), |_, _| true).is_none());
    }

    #[test]
    fn only_groups_of_servers_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("labforge-checks-999999999-ab");
        std::fs::create_dir_all(gone.join("check-1")).unwrap();
        let alive = dir
            .path()
            .join(format!("labforge-checks-{}-cd", std::process::id()));
        std::fs::create_dir(&alive).unwrap();
        let other = dir.path().join("system.slice");
        std::fs::create_dir(&other).unwrap();
        remove_stale(dir.path());
        assert!(!gone.exists());
        assert!(alive.exists() && other.exists());
    }
}
