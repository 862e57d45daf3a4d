//! What the history pages keep between requests, each part with a size the operator sets:
//! answers in memory (a folder's last commits, a file's blame, commit summaries), the
//! commit-graphs' changed-path filters in memory, and answers on disk per repository
//! (`REPO.git/labforge/cache/`) so a restart recomputes nothing. Answers are keyed by commit id,
//! so they never go stale: a push makes new commits and leaves every kept answer true.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gix::ObjectId;

use super::graph::{CommitGraph, Stamp};
use super::lru::Lru;
use super::read::CommitInfo;

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
            memory_bytes: 32 << 20,
            filter_bytes: 32 << 20,
            disk_bytes: 64 << 20,
        }
    }
}

/// A folder's entries with the commit that last changed each, sorted by name.
pub(super) type FolderAnswer = Vec<(String, ObjectId)>;

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

/// The kind of answer a kept file holds; the first bytes of the file say it.
#[derive(Clone, Copy)]
pub(super) enum Kept {
    Folder,
    Blame,
}

impl Kept {
    fn prefix(self) -> &'static str {
        match self {
            Kept::Folder => "tree",
            Kept::Blame => "blame",
        }
    }
}

pub(super) struct HistoryCache {
    pub limits: CacheLimits,
    memory: Mutex<Lru<Key, Value>>,
    graphs: Mutex<Lru<PathBuf, Arc<CommitGraph>>>,
    disk: Mutex<HashMap<PathBuf, DiskIndex>>,
}

impl Default for HistoryCache {
    fn default() -> Self {
        Self::new(CacheLimits::default())
    }
}

/// The names, sizes and write times of one repository's kept answers, read from its folder once.
#[derive(Default)]
struct DiskIndex {
    /// name → (bytes, when written: nanoseconds since the epoch, unique within the index)
    files: HashMap<String, (u64, u128)>,
    bytes: u64,
    last_stamp: u128,
}

impl DiskIndex {
    fn add(&mut self, name: String, size: u64, written: u128) {
        let stamp = written.max(self.last_stamp + 1);
        self.last_stamp = stamp;
        if let Some((old, _)) = self.files.insert(name, (size, stamp)) {
            self.bytes -= old;
        }
        self.bytes += size;
    }
}

fn nanos(t: std::time::SystemTime) -> u128 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Disk indexes for at most this many repositories stay in memory (a name each per answer).
const DISK_INDEXES: usize = 256;

impl HistoryCache {
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            limits,
            memory: Mutex::new(Lru::new(limits.memory_bytes)),
            graphs: Mutex::new(Lru::new(limits.filter_bytes)),
            disk: Mutex::new(HashMap::new()),
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
                // A graph whose filters did not fit is still kept (its weight is its filters).
                self.graphs.lock().expect("never poisoned").insert(
                    key,
                    Arc::clone(&g),
                    g.bytes().min(self.limits.filter_bytes),
                );
                Some(g)
            }
            Err(e) => {
                tracing::debug!(error = %e, "reading the commit-graph failed; walking without it");
                None
            }
        }
    }

    /// `REPO.git/labforge/cache/KIND-COMMIT-PATHHASH`.
    pub fn kept_name(kind: Kept, commit: &gix::oid, path: &str) -> String {
        format!("{}-{}-{}", kind.prefix(), commit.to_hex(), path_hash(path))
    }

    /// The commits with an answer of `kind` for `path` kept on disk.
    pub fn kept_commits(&self, repo: &Path, kind: Kept, path: &str) -> Vec<ObjectId> {
        let suffix = format!("-{}", path_hash(path));
        let prefix = format!("{}-", kind.prefix());
        self.with_index(repo, |i| {
            i.files
                .keys()
                .filter_map(|name| {
                    let hex = name.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
                    ObjectId::from_hex(hex.as_bytes()).ok()
                })
                .collect()
        })
    }

    fn folder(repo: &Path) -> PathBuf {
        repo.join("labforge/cache")
    }

    fn with_index<R>(&self, repo: &Path, f: impl FnOnce(&mut DiskIndex) -> R) -> R {
        let mut disk = self.disk.lock().expect("never poisoned");
        if !disk.contains_key(repo) {
            if disk.len() >= DISK_INDEXES {
                disk.clear();
            }
            disk.insert(repo.to_path_buf(), read_index(repo));
        }
        f(disk.get_mut(repo).expect("inserted above"))
    }

    /// Whether an answer is kept on disk (no file system access after the first look).
    pub fn is_kept(&self, repo: &Path, name: &str) -> bool {
        self.with_index(repo, |i| i.files.contains_key(name))
    }

    pub fn read_kept(&self, repo: &Path, name: &str) -> Option<Vec<u8>> {
        if !self.is_kept(repo, name) {
            return None;
        }
        std::fs::read(Self::folder(repo).join(name)).ok()
    }

    /// Keeps an answer on disk, dropping the oldest ones when the repository's share is full.
    pub fn keep(&self, repo: &Path, name: &str, data: &[u8]) {
        let dir = Self::folder(repo);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, data)?;
            std::fs::rename(&tmp, dir.join(name))
        };
        if let Err(e) = write() {
            tracing::debug!(error = %e, "could not keep a history answer on disk");
            return;
        }
        let limit = self.limits.disk_bytes;
        let now = nanos(std::time::SystemTime::now());
        self.with_index(repo, |i| {
            i.add(name.to_owned(), data.len() as u64, now);
            if i.bytes > limit {
                evict_oldest(&dir, i, limit - limit / 4);
            }
        });
    }
}

/// A kept answer starts with its kind's magic line and the path it answers for, so a damaged
/// file or two paths whose names hash alike are never mistaken for the answer.
pub(super) fn kept_header(magic: &[u8], path: &str) -> Vec<u8> {
    let mut data = magic.to_vec();
    data.extend_from_slice(path.as_bytes());
    data.push(0);
    data
}

/// The body of a kept answer for `path`, after its header.
pub(super) fn kept_body<'a>(data: &'a [u8], magic: &[u8], path: &str) -> Option<&'a [u8]> {
    let rest = data.strip_prefix(magic)?;
    let end = memchr::memchr(0, rest)?;
    (&rest[..end] == path.as_bytes()).then(|| &rest[end + 1..])
}

/// Names kept answers by a short hash of their path (paths can be long and hold any byte).
fn path_hash(path: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(path.as_bytes());
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The kept answers of a repository; the folder earlier versions used (one unbounded file per
/// folder and commit) is removed on the way.
fn read_index(repo: &Path) -> DiskIndex {
    let old = repo.join("labforge/last-commit");
    if old.is_dir() {
        let _ = std::fs::remove_dir_all(&old);
    }
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(HistoryCache::folder(repo)) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = e.metadata() else { continue };
            if !name.starts_with('.') {
                found.push((meta.modified().map_or(0, nanos), name, meta.len()));
            }
        }
    }
    found.sort();
    let mut index = DiskIndex::default();
    for (written, name, size) in found {
        index.add(name, size, written);
    }
    index
}

/// Removes the least recently written answers until at most `target` bytes remain.
fn evict_oldest(dir: &Path, index: &mut DiskIndex, target: u64) {
    let mut by_age: Vec<(u128, String, u64)> = index
        .files
        .iter()
        .map(|(name, (size, stamp))| (*stamp, name.clone(), *size))
        .collect();
    by_age.sort();
    for (_, name, size) in by_age {
        if index.bytes <= target {
            break;
        }
        let _ = std::fs::remove_file(dir.join(&name));
        index.files.remove(&name);
        index.bytes -= size;
    }
}

/// Roughly the bytes an entry holds, for the memory limit.
fn weigh(key: &Key, value: &Value) -> usize {
    const OVERHEAD: usize = 96;
    let key_bytes = match key {
        Key::Folder(_, p) | Key::Blame(_, p) | Key::LastChange(_, p) | Key::Log(_, p, _, _) => {
            p.len()
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_answers_stay_within_the_disk_limit() {
        let repo = tempfile::tempdir().unwrap();
        let cache = HistoryCache::new(CacheLimits {
            disk_bytes: 1000,
            ..CacheLimits::default()
        });
        let id = ObjectId::null(gix::hash::Kind::Sha1);
        for i in 0..30 {
            let name = HistoryCache::kept_name(Kept::Folder, &id, &format!("dir{i}"));
            cache.keep(repo.path(), &name, &[7u8; 100]);
        }
        let on_disk: u64 = std::fs::read_dir(repo.path().join("labforge/cache"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(on_disk <= 1000, "{on_disk} bytes kept");
        // The newest answer is still there, and a fresh index (a restart) finds it.
        let newest = HistoryCache::kept_name(Kept::Folder, &id, "dir29");
        let restarted = HistoryCache::new(cache.limits);
        assert_eq!(
            restarted.read_kept(repo.path(), &newest).unwrap().len(),
            100
        );
    }
}
