//! The checks' work folder and the bytes written into it.
//!
//! The folder (`DATA_DIR/checks` unless the operator names another) must be labforge's own with
//! mode 0700: made so when missing, refused when it exists otherwise (another local user could
//! have made it first in a shared place such as `/dev/shm`, then renamed a push's folder inside
//! it mid-check and swapped the tree a check judged). It is opened once at start and held; every
//! push gets a random `push-…` folder made with `mkdirat` on that descriptor, and labforge
//! writes and removes through `/proc/self/fd/N/…`, so a later rename or swap of the folder's
//! path changes nothing it does. bubblewrap is given the folder's ordinary path: only labforge's
//! uid (or root) can change anything under a 0700 folder of labforge's.
//!
//! Every pushed tree is measured and charged before any of it is written: to its push (at most
//! `push_bytes`, all its refs together) and to all pushes being checked at once (at most
//! `total_bytes`); past either the ref is refused with the reason, and nothing of it is written.
//! The bytes are given back once the push's folder is removed.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::CheckLimits;

/// The held work folder.
#[derive(Debug, Clone)]
pub(super) struct WorkRoot {
    /// The configured path, for bubblewrap's binds and messages.
    pub path: PathBuf,
    dir: Arc<File>,
}

impl WorkRoot {
    /// Makes `path` (0700) when missing, opens it without following a link, and refuses it
    /// unless it is labforge's own with mode 0700. Removes `push-*` folders a stopped server
    /// left.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("making {}: {e}", parent.display()))?;
        }
        match std::fs::DirBuilder::new().mode(0o700).create(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("making {}: {e}", path.display())),
        }
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| {
                format!(
                    "opening {} (it must be a folder, not a link): {e}",
                    path.display()
                )
            })?;
        let meta = dir
            .metadata()
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let me = nix::unistd::geteuid().as_raw();
        let mode = meta.mode() & 0o7777;
        if meta.uid() != me || mode != 0o700 {
            return Err(format!(
                "{} belongs to uid {} with mode {mode:04o}; labforge uses it only when it is its \
                 own (uid {me}) with mode 0700: remove it (labforge makes it anew) or fix it",
                path.display(),
                meta.uid()
            ));
        }
        let root = Self {
            path: path.to_path_buf(),
            dir: Arc::new(dir),
        };
        root.remove_leftovers();
        Ok(root)
    }

    /// The folder as reached through the held descriptor.
    fn held(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd()))
    }

    fn remove_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir(self.held()) else {
            return;
        };
        for entry in entries.flatten().take(10_000) {
            if entry.file_name().to_string_lossy().starts_with("push-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// A new push folder: (as reached through the descriptor, its ordinary path).
    pub fn new_push(&self, name: &str) -> std::io::Result<PushDir> {
        let c = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
        // SAFETY: mkdirat(2) with a descriptor we hold and a NUL-terminated name.
        if unsafe { libc::mkdirat(self.dir.as_raw_fd(), c.as_ptr(), 0o700) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(PushDir {
            held: self.held().join(name),
            path: self.path.join(name),
            _root: Arc::clone(&self.dir),
        })
    }
}

/// One push's folder; keeps the work folder's descriptor open as long as it lives.
pub(super) struct PushDir {
    pub held: PathBuf,
    pub path: PathBuf,
    _root: Arc<File>,
}

impl PushDir {
    /// `p` (under `held`) as its ordinary path, for bubblewrap.
    pub fn outside(&self, p: &Path) -> PathBuf {
        p.strip_prefix(&self.held)
            .map_or_else(|_| p.to_path_buf(), |rest| self.path.join(rest))
    }
}

/// Bytes written for checks by all pushes at once, and the caps.
#[derive(Debug)]
pub(super) struct Budget {
    in_use: Arc<AtomicU64>,
    push_bytes: u64,
    total_bytes: u64,
}

impl Budget {
    pub fn new(limits: &CheckLimits) -> Self {
        Self {
            in_use: Arc::default(),
            push_bytes: limits.push_bytes,
            total_bytes: limits.total_bytes,
        }
    }

    /// A push's account, empty.
    pub fn open(&self) -> Charge {
        Charge {
            in_use: Arc::clone(&self.in_use),
            taken: 0,
            push_bytes: self.push_bytes,
            total_bytes: self.total_bytes,
        }
    }

    /// Bytes held by pushes now.
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::SeqCst)
    }
}

/// What one push has written; given back to all pushes when dropped (after its folder is gone).
#[derive(Debug)]
pub(super) struct Charge {
    in_use: Arc<AtomicU64>,
    taken: u64,
    push_bytes: u64,
    total_bytes: u64,
}

impl Charge {
    /// Takes `bytes` before they are written, or says why not.
    pub fn take(&mut self, bytes: u64) -> Result<(), String> {
        let mib = |b: u64| b >> 20;
        if self.taken.saturating_add(bytes) > self.push_bytes {
            return Err(format!(
                "writing its tree would take this push past {} MiB written for checks \
                 (the per-push limit, LABFORGE_CHECKS_PUSH_MIB)",
                mib(self.push_bytes)
            ));
        }
        let total = self.total_bytes;
        self.in_use
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                now.checked_add(bytes).filter(|&after| after <= total)
            })
            .map_err(|now| {
                format!(
                    "the pushes being checked now hold {} MiB of the {} MiB all pushes may write \
                     for checks at once (LABFORGE_CHECKS_TOTAL_MIB); try again shortly",
                    mib(now),
                    mib(total)
                )
            })?;
        self.taken += bytes;
        Ok(())
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.in_use.fetch_sub(self.taken, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(push: u64, total: u64) -> CheckLimits {
        CheckLimits {
            work_dir: PathBuf::new(),
            push_bytes: push,
            total_bytes: total,
        }
    }

    #[test]
    fn charges_stop_at_the_push_cap_and_at_the_shared_cap() {
        let budget = Budget::new(&limits(100, 150));
        let mut a = budget.open();
        a.take(60).unwrap();
        a.take(40).unwrap();
        let e = a.take(1).unwrap_err();
        assert!(e.contains("per-push limit"), "{e}");
        let mut b = budget.open();
        b.take(50).unwrap();
        let e = b.take(1).unwrap_err();
        assert!(e.contains("all pushes may write"), "{e}");
        assert_eq!(budget.in_use(), 150);
        drop(a);
        assert_eq!(budget.in_use(), 50);
        b.take(50).unwrap();
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_folder_of_another_mode_is_refused_and_ours_is_held() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let e = WorkRoot::open(&open).unwrap_err();
        assert!(e.contains("mode 0777"), "{e}");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        assert!(WorkRoot::open(&link).is_err(), "a link is never followed");

        let ours = tmp.path().join("a/checks");
        let root = WorkRoot::open(&ours).unwrap();
        let mode = std::fs::metadata(&ours).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        let push = root.new_push("push-1").unwrap();
        assert!(root.new_push("push-1").is_err(), "never an existing folder");
        std::fs::write(push.held.join("f"), "x").unwrap();
        // Renaming the folder's path away does not move where labforge writes.
        std::fs::rename(&ours, tmp.path().join("moved")).unwrap();
        std::fs::create_dir(&ours).unwrap();
        std::fs::write(push.held.join("g"), "y").unwrap();
        assert!(tmp.path().join("moved/push-1/g").exists());
        assert!(!ours.join("push-1").exists());
        assert_eq!(push.outside(&push.held.join("f")), ours.join("push-1/f"));
    }
}
