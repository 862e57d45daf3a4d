//! What the history pages keep between requests, each part with a size the operator sets:
//! answers in memory (a folder's last commits, a file's blame, log pages, commit summaries),
//! the commit-graphs' changed-path filters in memory, and answers on disk per repository
//! (`kept`) so a restart recomputes nothing. Answers are keyed by commit id,
//! so they never go stale: a push makes new commits and leaves every kept answer true.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gix::ObjectId;

use super::graph::{CommitGraph, Stamp};
use super::jobs::Jobs;
pub(super) use super::kept::{Kept, KeptKey, KeptStore, kept_body, kept_header};
use super::lru::Lru;
use super::view::CommitInfo;

/// The sizes of the history caches (`[cache]` in the config).
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// Answers and commit summaries kept in memory, all repositories together.
    pub memory_bytes: usize,
    /// Changed-path filters kept in memory, all repositories together.
    pub filter_bytes: usize,
    /// Answers kept on disk, per repository.
    pub disk_bytes: u64,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            // Answers are kept on disk as well (a miss here reads a small file): 16 MiB
            // keeps the hot ones while browsing 1,000 pages of an 80,000-commit history
            // stays under 150 MiB resident (bench/RESULTS.md).
            memory_bytes: 16 << 20,
            filter_bytes: 32 << 20,
            disk_bytes: 64 << 20,
        }
    }
}

/// A folder's entries with the commit that last changed each, sorted by name.
pub(super) type FolderAnswer = Vec<(String, ObjectId)>;

/// What a running folder walk has found so far: entry name → commit.
pub(super) type FolderProgress = std::collections::HashMap<String, ObjectId>;

/// The running folder walks (`last_commit`), by (commit, folder).
pub(super) type FolderWalks = Arc<Jobs<(ObjectId, String), FolderProgress>>;

/// The running blames (`blame`), by (commit that last changed the file, path).
pub(super) type Blames = Arc<Jobs<(ObjectId, String), BlameAnswer>>;

/// A file's blame at a commit: each line's commit, as an index into `commits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BlameAnswer {
    pub commits: Vec<ObjectId>,
    pub origin: Vec<u32>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Folder(ObjectId, String),
    Blame(ObjectId, String),
    /// The commit that last changed a file as of a commit (whose blame is the file's blame there).
    LastChange(ObjectId, String),
    /// A page of a path's log: (start, path, commits skipped, page size).
    Log(ObjectId, String, usize, usize),
    /// The same for `git log --follow` (renames followed).
    FollowLog(ObjectId, String, usize, usize),
    Info(ObjectId),
}

#[derive(Clone)]
pub(super) enum Value {
    Folder(Arc<FolderAnswer>),
    Blame(Arc<BlameAnswer>),
    LastChange(ObjectId),
    /// The page's commits and whether more follow.
    Log(Arc<(Vec<ObjectId>, bool)>),
    Info(Arc<CommitInfo>),
}

pub(super) struct HistoryCache {
    pub limits: CacheLimits,
    memory: Mutex<Lru<Key, Value>>,
    graphs: Mutex<Lru<PathBuf, Arc<CommitGraph>>>,
    /// Answers kept on disk, per repository.
    pub kept: KeptStore,
}

impl Default for HistoryCache {
    fn default() -> Self {
        Self::new(CacheLimits::default())
    }
}

/// What a kept commit-graph counts for at least, against the filter limit.
const GRAPH_OVERHEAD: usize = 64 << 10;

impl HistoryCache {
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            limits,
            memory: Mutex::new(Lru::new(limits.memory_bytes)),
            graphs: Mutex::new(Lru::new(limits.filter_bytes)),
            kept: KeptStore::new(limits.disk_bytes),
        }
    }

    pub fn get(&self, key: &Key) -> Option<Value> {
        self.memory.lock().expect("never poisoned").get(key)
    }

    pub fn put(&self, key: Key, value: Value) {
        let weight = weigh(&key, &value);
        self.memory
            .lock()
            .expect("never poisoned")
            .insert(key, value, weight);
    }

    /// The repository's commit-graph as it is on disk now (read again after upkeep rewrote it).
    pub fn commit_graph(&self, objects: &Path) -> Option<Arc<CommitGraph>> {
        let stamp = Stamp::of(objects)?;
        let key = objects.to_path_buf();
        if let Some(g) = self.graphs.lock().expect("never poisoned").get(&key)
            && *g.stamp() == stamp
        {
            return Some(g);
        }
        // Read outside the lock: other repositories' walks go on meanwhile.
        match CommitGraph::open(stamp, self.limits.filter_bytes) {
            Ok(g) => {
                let g = Arc::new(g);
                // A graph weighs its filters, and at least a little: the number kept (each
                // an open, mapped file) stays bounded even when they have no filters.
                let weight = (g.bytes() + GRAPH_OVERHEAD).min(self.limits.filter_bytes);
                self.graphs
                    .lock()
                    .expect("never poisoned")
                    .insert(key, Arc::clone(&g), weight);
                Some(g)
            }
            Err(e) => {
                tracing::debug!(error = %e, "reading the commit-graph failed; walking without it");
                None
            }
        }
    }
}

/// Roughly the bytes an entry holds, for the memory limit.
fn weigh(key: &Key, value: &Value) -> usize {
    const OVERHEAD: usize = 96;
    let key_bytes = match key {
        Key::Folder(_, p)
        | Key::Blame(_, p)
        | Key::LastChange(_, p)
        | Key::Log(_, p, _, _)
        | Key::FollowLog(_, p, _, _) => p.len(),
        Key::Info(_) => 0,
    };
    let value_bytes = match value {
        Value::Folder(a) => a.iter().map(|(n, _)| n.len() + 48).sum(),
        Value::Blame(b) => b.commits.len() * 20 + b.origin.len() * 4,
        Value::LastChange(_) => 20,
        Value::Log(page) => page.0.len() * 20,
        Value::Info(i) => {
            i.subject.len()
                + i.body.len()
                + i.author_name.len()
                + i.author_email.len()
                + i.committer_name.len()
                + i.committer_email.len()
                + i.parents.len() * 64
                + 200
        }
    };
    OVERHEAD + key_bytes + value_bytes
}
