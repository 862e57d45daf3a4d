//! Answers kept on disk, one file each under `REPO.git/labforge/cache/`
//! (`KIND-COMMIT-PATHHASH`), so a restart recomputes nothing. Each repository's share is
//! bounded (`[cache] disk_mib`); past it the answers written longest ago go first. The names
//! are read once per repository into a compact index, so asking whether an answer is kept
//! (a walk asks at every commit it passes) costs no file system access.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gix::ObjectId;

/// The kind of answer a kept file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// What a kept file answers: a kind of answer for a path at a commit (the path by a hash of
/// it: paths can be long and hold any byte; the file itself names the path in full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct KeptKey {
    kind: Kept,
    commit: ObjectId,
    path: u64,
}

impl KeptKey {
    pub fn new(kind: Kept, commit: ObjectId, path: &str) -> Self {
        Self {
            kind,
            commit,
            path: path_hash(path),
        }
    }

    fn file_name(&self) -> String {
        format!("{}-{}-{:016x}", self.kind.prefix(), self.commit, self.path)
    }

    fn parse(name: &str) -> Option<Self> {
        let (prefix, rest) = name.split_once('-')?;
        let kind = [Kept::Folder, Kept::Blame]
            .into_iter()
            .find(|k| k.prefix() == prefix)?;
        let (commit, path) = rest.split_once('-')?;
        Some(Self {
            kind,
            commit: ObjectId::from_hex(commit.as_bytes()).ok()?,
            path: u64::from_str_radix(path, 16).ok()?,
        })
    }
}

fn path_hash(path: &str) -> u64 {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(path.as_bytes());
    u64::from_be_bytes(hash[..8].try_into().expect("a SHA-256 has 8 bytes"))
}

/// A file counts for at least a file system block against the limit (which so also bounds the
/// number of files, and the index).
const MIN_FILE_BYTES: u64 = 4096;
/// Indexes for at most this many repositories stay in memory.
const INDEXES: usize = 64;

pub(super) struct KeptStore {
    limit: u64,
    indexes: Mutex<HashMap<PathBuf, Index>>,
}

/// One repository's kept answers: key → (bytes counted, when written), unique write stamps.
#[derive(Default)]
struct Index {
    files: HashMap<KeptKey, (u64, u128)>,
    bytes: u64,
    last_stamp: u128,
}

impl Index {
    fn add(&mut self, key: KeptKey, size: u64, written: u128) {
        let size = size.max(MIN_FILE_BYTES);
        let stamp = written.max(self.last_stamp + 1);
        self.last_stamp = stamp;
        if let Some((old, _)) = self.files.insert(key, (size, stamp)) {
            self.bytes -= old;
        }
        self.bytes += size;
    }
}

fn nanos(t: std::time::SystemTime) -> u128 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

impl KeptStore {
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            indexes: Mutex::new(HashMap::new()),
        }
    }

    fn folder(repo: &Path) -> PathBuf {
        repo.join("labforge/cache")
    }

    /// Deletes every answer kept for the repository at `repo` (after a purge: answers about
    /// deleted commits name their files). A server's index may still list them; reading one
    /// then finds no file, which is a miss.
    pub fn remove_all(repo: &Path) -> std::io::Result<()> {
        match std::fs::remove_dir_all(Self::folder(repo)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            done => done,
        }
    }

    fn with_index<R>(&self, repo: &Path, f: impl FnOnce(&mut Index) -> R) -> R {
        let mut indexes = self.indexes.lock().expect("never poisoned");
        if !indexes.contains_key(repo) {
            if indexes.len() >= INDEXES {
                indexes.clear();
            }
            indexes.insert(repo.to_path_buf(), read_index(repo));
        }
        f(indexes.get_mut(repo).expect("inserted above"))
    }

    pub fn is_kept(&self, repo: &Path, key: &KeptKey) -> bool {
        self.with_index(repo, |i| i.files.contains_key(key))
    }

    pub fn read(&self, repo: &Path, key: &KeptKey) -> Option<Vec<u8>> {
        if !self.is_kept(repo, key) {
            return None;
        }
        std::fs::read(Self::folder(repo).join(key.file_name())).ok()
    }

    /// The commits with an answer of `kind` for `path` kept.
    pub fn commits(&self, repo: &Path, kind: Kept, path: &str) -> Vec<ObjectId> {
        let path = path_hash(path);
        self.with_index(repo, |i| {
            i.files
                .keys()
                .filter(|k| k.kind == kind && k.path == path)
                .map(|k| k.commit)
                .collect()
        })
    }

    /// Keeps an answer, dropping the oldest ones when the repository's share is full.
    pub fn keep(&self, repo: &Path, key: &KeptKey, data: &[u8]) {
        let dir = Self::folder(repo);
        let name = key.file_name();
        let write = || -> std::io::Result<()> {
            // Only the folder inside the repository, never the repository's own folder: an
            // answer computed while the repository was renamed or deleted (by `labforge admin`,
            // another process) must not bring its old folder back.
            for level in [repo.join("labforge"), dir.clone()] {
                match std::fs::create_dir(&level) {
                    Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                    _ => {}
                }
            }
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, data)?;
            std::fs::rename(&tmp, dir.join(&name))
        };
        if let Err(e) = write() {
            tracing::debug!(error = %e, "could not keep a history answer on disk");
            return;
        }
        let now = nanos(std::time::SystemTime::now());
        self.with_index(repo, |i| {
            i.add(*key, data.len() as u64, now);
            if i.bytes > self.limit {
                evict_oldest(&dir, i, self.limit - self.limit / 4);
            }
        });
    }
}

/// The kept answers of a repository (files that are not answers are removed); the folder
/// earlier versions used (one unbounded file per folder and commit) is removed on the way.
fn read_index(repo: &Path) -> Index {
    let old = repo.join("labforge/last-commit");
    if old.is_dir() {
        let _ = std::fs::remove_dir_all(&old);
    }
    let dir = KeptStore::folder(repo);
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = e.metadata() else { continue };
            match KeptKey::parse(&name) {
                Some(key) => found.push((meta.modified().map_or(0, nanos), key, meta.len())),
                // A temporary file left by a crash, or something else: not ours to keep.
                None => {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    found.sort_by_key(|(written, _, _)| *written);
    let mut index = Index::default();
    for (written, key, size) in found {
        index.add(key, size, written);
    }
    index
}

/// Removes the least recently written answers until at most `target` bytes remain.
fn evict_oldest(dir: &Path, index: &mut Index, target: u64) {
    let mut by_age: Vec<(u128, KeptKey, u64)> = index
        .files
        .iter()
        .map(|(key, (size, stamp))| (*stamp, *key, *size))
        .collect();
    by_age.sort_by_key(|(stamp, _, _)| *stamp);
    for (_, key, size) in by_age {
        if index.bytes <= target {
            break;
        }
        let _ = std::fs::remove_file(dir.join(key.file_name()));
        index.files.remove(&key);
        index.bytes -= size;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_answers_stay_within_the_disk_limit() {
        let repo = tempfile::tempdir().unwrap();
        let store = KeptStore::new(10 * MIN_FILE_BYTES);
        let id = ObjectId::null(gix::hash::Kind::Sha1);
        for i in 0..30 {
            let key = KeptKey::new(Kept::Folder, id, &format!("dir{i}"));
            store.keep(repo.path(), &key, &[7u8; 100]);
        }
        let files = std::fs::read_dir(repo.path().join("labforge/cache"))
            .unwrap()
            .count() as u64;
        assert!(files <= 10, "{files} answers kept");
        // The newest answer is still there, and a fresh index (a restart) finds it.
        let newest = KeptKey::new(Kept::Folder, id, "dir29");
        let restarted = KeptStore::new(10 * MIN_FILE_BYTES);
        assert_eq!(restarted.read(repo.path(), &newest).unwrap().len(), 100);
        assert_eq!(restarted.commits(repo.path(), Kept::Folder, "dir29"), [id]);
        assert!(
            restarted
                .commits(repo.path(), Kept::Blame, "dir29")
                .is_empty()
        );
    }

    /// `labforge admin repo rename` moves the folder from another process while the server may
    /// still be computing an answer about the old name: keeping it must not recreate the folder.
    #[test]
    fn keeping_an_answer_never_brings_a_moved_repository_back() {
        let parent = tempfile::tempdir().unwrap();
        let moved = parent.path().join("dns.git");
        let store = KeptStore::new(10 * MIN_FILE_BYTES);
        let key = KeptKey::new(Kept::Folder, ObjectId::null(gix::hash::Kind::Sha1), "");
        store.keep(&moved, &key, &[7u8; 100]);
        assert!(!moved.exists(), "the old folder came back");
        std::fs::create_dir(&moved).unwrap();
        store.keep(&moved, &key, &[7u8; 100]);
        assert_eq!(store.read(&moved, &key).unwrap().len(), 100);
    }

    #[test]
    fn names_round_trip_and_strangers_are_not_answers() {
        let id = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        let key = KeptKey::new(Kept::Blame, id, "src/main.rs");
        assert_eq!(KeptKey::parse(&key.file_name()), Some(key));
        for stranger in ["", "blame", "tree-xyz-00", ".blame-1.tmp", "notes-0123-00"] {
            assert_eq!(KeptKey::parse(stranger), None, "{stranger}");
        }
    }
}
