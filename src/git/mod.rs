//! Everything that touches a repository on disk: gix for creating and reading, and the one
//! function that spawns git (`runner`). No gix type leaves this room.

pub mod archive_size;
pub mod blame;
pub mod bundle;
mod changed_paths;
mod commits;
pub mod compare;
mod create;
pub mod diff;
mod disk_usage;
mod follow;
mod graph;
mod handles;
mod history_cache;
mod hooks;
mod jobs;
mod kept;
mod last_commit;
mod lru;
pub mod memory_cap;
pub mod mirror;
mod path_log;
mod path_walk;
mod prefetch;
mod push_commits;
pub mod pushed;
mod reach;
mod reach_set;
pub mod read;
mod reader;
pub mod receive_wire;
mod ref_listings;
mod ref_names;
pub mod ref_push;
mod renames;
pub mod repo_facts;
pub mod runner;
#[cfg(test)]
mod testing;
pub mod upkeep;
mod view;

use std::path::{Path, PathBuf};

use crate::model::{RepoName, Username};

pub use disk_usage::DiskUsage;
pub use handles::retire_open_handles;
pub use history_cache::CacheLimits;
pub use push_commits::ChangedPaths;
pub use runner::{GitProtocol, GitRunner, Service};
pub use upkeep::Upkeep;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("repository folder {0} is not valid")]
    BadPath(String),
    #[error("git: {0}")]
    Gix(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl GitError {
    /// Wraps any gix error (gix has many error types; the message is what we keep).
    pub(crate) fn gix(e: impl std::fmt::Display) -> Self {
        GitError::Gix(e.to_string())
    }
}

/// A bare repository's folder. Built only from parsed names, so it always lies under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoDir(PathBuf);

impl RepoDir {
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Removes `objects/tmp_objdir-incoming-*` (and older git's `incoming-*`): the pushed objects
    /// receive-pack keeps apart until its hooks accept them, left behind when it was killed.
    /// Call only when no push into this repository can be running.
    pub fn remove_quarantine_folders(&self) -> usize {
        let objects = self.0.join("objects");
        let Ok(entries) = std::fs::read_dir(&objects) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let quarantine = name.to_str().is_some_and(|n| {
                n.starts_with("tmp_objdir-incoming-") || n.starts_with("incoming-")
            });
            if !quarantine || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    removed += 1;
                    tracing::info!(folder = %entry.path().display(), "removed a quarantine folder a stopped push left");
                }
                Err(e) => {
                    tracing::warn!(error = %e, folder = %entry.path().display(), "removing a stale quarantine folder failed")
                }
            }
        }
        removed
    }
}

/// Where the bare repositories live: `DATA_DIR/repos/OWNER/NAME.git`.
#[derive(Debug, Clone)]
pub struct RepoStore {
    root: PathBuf,
    /// The program the hook shims exec (`labforge`); None leaves repositories without hooks
    /// (admin commands that never receive pushes).
    hook_program: Option<PathBuf>,
}

impl RepoStore {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            hook_program: None,
        }
    }

    pub fn with_hook_program(mut self, program: PathBuf) -> Self {
        self.hook_program = Some(program);
        self
    }

    pub fn hook_program(&self) -> Option<&Path> {
        self.hook_program.as_deref()
    }

    pub fn dir(&self, owner: &Username, name: &RepoName) -> RepoDir {
        RepoDir(
            self.root
                .join(owner.as_str())
                .join(format!("{}.git", name.as_str())),
        )
    }

    /// Folder for names read back from the database (they were parsed before they were stored;
    /// parsing again keeps a hand-edited row from pointing outside the root).
    pub fn dir_for_stored(&self, owner: &str, name: &str) -> Result<RepoDir, GitError> {
        let bad = || GitError::BadPath(format!("{owner}/{name}"));
        let owner = Username::parse(owner).map_err(|_| bad())?;
        let name = RepoName::parse(name).map_err(|_| bad())?;
        Ok(self.dir(&owner, &name))
    }

    /// Where half-made repositories are built before they are moved into place.
    fn staging(&self) -> PathBuf {
        self.root.join(".staging")
    }

    /// Where a folder found in the way of a new repository is moved; nothing is ever deleted.
    fn trash(&self) -> PathBuf {
        self.root.join(".trash")
    }
}
