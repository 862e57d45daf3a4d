//! The commits a ref update brought in: what webhooks list in `commits[]` and what issue
//! references (`fixes #12`) are read from.

use std::time::Instant;

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::GitError;
use super::diff::WalkLimits;
use super::reader::{CommitId, CommitInfo, Reader};
use crate::model::RefUpdate;

/// The files a commit changed against its first parent (all of them for a root commit), as
/// push payloads list them. Paths are sorted; a mode-only change is not listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedPaths {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub modified: Vec<String>,
    /// The commit changes more than was listed (a cap or the deadline stopped the walk).
    pub cut: bool,
}

/// Paths listed per commit, at most: an import of a whole tree would otherwise make a payload
/// of megabytes. The rest is left out, as GitHub does past its own limit.
pub const MAX_CHANGED_PATHS: usize = 1000;

/// One commit's walk for a payload: its paths, and the tree entries it may read to find them.
const PAYLOAD_WALK: WalkLimits = WalkLimits {
    max_paths: MAX_CHANGED_PATHS,
    max_entries: 100_000,
};

impl Reader {
    /// What `id` changed against its first parent, at most [`MAX_CHANGED_PATHS`] paths, found
    /// before `deadline` (a payload lists several commits under one deadline).
    pub fn changed_paths(
        &self,
        id: &CommitId,
        deadline: Instant,
    ) -> Result<ChangedPaths, GitError> {
        let Some(oid) = self.commit_oid(id)? else {
            return Ok(ChangedPaths::default());
        };
        let changes = self.changed_files(oid, PAYLOAD_WALK, deadline)?;
        let mut out = ChangedPaths {
            cut: changes.cut,
            ..ChangedPaths::default()
        };
        for (path, old, new) in changes.files {
            match (old, new) {
                (None, _) => out.added.push(path),
                (_, None) => out.removed.push(path),
                _ => out.modified.push(path),
            }
        }
        Ok(out)
    }

    /// The object a (direct) ref points at now, as git wrote it in the push (a tag object stays
    /// a tag object); None if it does not exist or is symbolic.
    pub fn ref_target(&self, name: &str) -> Result<Option<String>, GitError> {
        let Some(r) = self
            .repository()
            .try_find_reference(name)
            .map_err(GitError::gix)?
        else {
            return Ok(None);
        };
        Ok(r.target().try_id().map(|id| id.to_hex().to_string()))
    }

    /// Commits reachable from the update's new id and not from its old one, oldest first, at most
    /// `limit` of them (the newest `limit`). For a new ref, commits already on another branch are
    /// not counted as pushed. Empty for a deletion. Call after git applied the update.
    pub fn commits_in_push(
        &self,
        update: &RefUpdate,
        limit: usize,
    ) -> Result<Vec<CommitInfo>, GitError> {
        if update.is_delete() {
            return Ok(Vec::new());
        }
        let new = ObjectId::from_hex(update.new.as_bytes()).map_err(GitError::gix)?;
        if self
            .repository()
            .find_object(new)
            .map_err(GitError::gix)?
            .peel_to_commit()
            .is_err()
        {
            return Ok(Vec::new()); // a tag of a tree or blob
        }
        let mut hidden = Vec::new();
        if update.is_create() {
            let refs = self.repository().references().map_err(GitError::gix)?;
            for r in refs.prefixed("refs/heads/").map_err(GitError::gix)? {
                let mut r = r.map_err(GitError::gix)?;
                if r.name().as_bstr().to_str_lossy() == update.name {
                    continue;
                }
                if let Ok(commit) = r.peel_to_commit() {
                    hidden.push(commit.id);
                }
            }
        } else {
            hidden.push(ObjectId::from_hex(update.old.as_bytes()).map_err(GitError::gix)?);
        }
        let walk = self
            .repository()
            .rev_walk([new])
            .with_hidden(hidden)
            .sorting(gix::revision::walk::Sorting::ByCommitTime(
                Default::default(),
            ))
            .all()
            .map_err(GitError::gix)?;
        let mut out = Vec::new();
        for info in walk.take(limit) {
            let info = info.map_err(GitError::gix)?;
            out.push(self.info(&info.object().map_err(GitError::gix)?)?);
        }
        out.reverse();
        Ok(out)
    }
}
