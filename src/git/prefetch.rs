//! Reading successive versions of one file or folder newest-first (blame, last commits) without
//! paying for a whole delta chain per version.
//!
//! A pack often stores each version as a delta against the version before it (git fast-import
//! writes history that way, and repacking keeps it), so the newest version sits at the end of a
//! chain of up to 50 deltas. gix's pack cache keeps only the object asked for, not the bases
//! decoded on the way (git's delta base cache keeps those), so reading versions newest-first
//! re-applies the whole chain for every version. When a version's chain runs through the next
//! older one, the older versions are read first, oldest first: each one's base is then the
//! version just read, found in the pack cache, and costs one delta.

use std::collections::HashMap;

use gix::ObjectId;

use super::GitError;

/// At most this many bytes of older versions are read ahead at once.
const PREFETCH_BYTES: u64 = 8 * 1024 * 1024;

/// How many changes the history walks (blame, the last-commit pass) look ahead, so the
/// objects they need can be read in a cheap order.
pub(super) const LOOKAHEAD: usize = 64;

/// Versions read ahead of their turn, by object id.
pub(super) struct Prefetched<T> {
    ready: HashMap<ObjectId, T>,
}

impl<T> Default for Prefetched<T> {
    fn default() -> Self {
        Self {
            ready: HashMap::new(),
        }
    }
}

impl<T> Prefetched<T> {
    /// Whether `id` was read ahead already.
    pub(super) fn has(&self, id: ObjectId) -> bool {
        self.ready.contains_key(&id)
    }

    /// `read(id)`, needed now; `older` are the ids the caller will ask for next, in order.
    pub(super) fn take(
        &mut self,
        repo: &gix::Repository,
        id: ObjectId,
        older: impl Iterator<Item = ObjectId>,
        read: impl Fn(ObjectId) -> Result<T, GitError>,
    ) -> Result<T, GitError> {
        if let Some(data) = self.ready.remove(&id) {
            return Ok(data);
        }
        let header = |id| repo.find_header(id).map_err(GitError::gix);
        let this = header(id)?;
        let depth = this.num_deltas().unwrap_or(0);
        let older: Vec<ObjectId> = older
            .take((depth as usize).saturating_sub(1))
            .take((PREFETCH_BYTES / this.size().max(1)) as usize)
            .collect();
        if let Some(&next) = older.first()
            && header(next)?.num_deltas().map(|d| d + 1) == Some(depth)
        {
            for &old in older.iter().rev() {
                let data = read(old)?;
                self.ready.insert(old, data);
            }
        }
        read(id)
    }
}
