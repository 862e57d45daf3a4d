//! What reads hand out: owned views of commits, trees, refs and blobs, no gix type among them.
//! At the bottom of the room: readers, walkers and the stores of answers all name them.

use std::sync::Arc;

use gix::ObjectId;

use super::GitError;
use crate::model::TreePath;

/// A commit id as hex; the only way commits are named outside this room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommitId(pub String);

impl CommitId {
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(10)]
    }
    pub(super) fn oid(&self) -> Result<ObjectId, GitError> {
        ObjectId::from_hex(self.0.as_bytes()).map_err(GitError::gix)
    }
}

#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub id: CommitId,
    pub subject: String,
    pub body: String,
    pub author_name: String,
    pub author_email: String,
    pub committer_name: String,
    pub committer_email: String,
    /// Seconds since the epoch (author time).
    pub time: i64,
    pub parents: Vec<CommitId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File,
    Symlink,
    Submodule,
}

#[derive(Debug, Clone)]
pub struct TreeEntry {
    pub name: String,
    pub kind: EntryKind,
    /// The commit that last changed this entry, when found within the search budget.
    /// Shared with the memory cache: a folder of 300 entries clones no commit message.
    pub last_commit: Option<Arc<CommitInfo>>,
}

/// A folder's entries; `complete` is false while some last commits are still being looked for.
#[derive(Debug, Clone)]
pub struct Folder {
    pub entries: Vec<TreeEntry>,
    pub complete: bool,
    /// The folder has more than `MAX_LISTED` entries; only the first are listed.
    pub cut: bool,
}

/// Entries a folder page lists at most (a pushed tree can hold millions).
pub const MAX_LISTED: usize = 5_000;

#[derive(Debug, Clone)]
pub struct RefInfo {
    pub name: String,
    pub commit: CommitInfo,
}

/// What a URL's `REF/PATH` part names.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// As it appears in URLs: a branch or tag name, or a commit id.
    pub rev: String,
    pub commit: CommitId,
    pub path: TreePath,
}

pub struct BlobView {
    /// The blob's id: names its content, whatever commit or branch it was read through.
    pub id: String,
    pub data: Vec<u8>,
    pub size: u64,
    pub is_binary: bool,
}
