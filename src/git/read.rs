//! Reading repositories for the web pages, in-process with gix. Owned view structs come out; no
//! gix type leaves this room. Every function here blocks: call it from `spawn_blocking`.

use std::sync::Arc;

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::{GitError, RepoDir};
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

/// What the (commit, path) memo of the pages may hold. An entry weighs its path plus ~150
/// bytes of keys and bookkeeping: a megabyte remembers ~5,000 file views.
const ENTRY_MEMO_BYTES: usize = 1 << 20;

/// A path at a commit of one repository (by folder: a commit id alone would let a page of one
/// repository answer from another's).
type EntryKey = (std::path::PathBuf, ObjectId, String);

/// Cached per-repository handles and the history pages' answers (see `history_cache`), shared
/// by all requests.
pub struct ReadCache {
    repos: super::handles::Handles,
    pub(super) history: super::history_cache::HistoryCache,
    pub(super) folder_walks: super::last_commit::FolderWalks,
    pub(super) blames: super::blame::Blames,
    /// The branch/tag switcher's names, kept while the ref folders are unchanged.
    pub(super) ref_listings: super::ref_names::RefListings,
    /// What a (commit, path) names, for the pages: true forever (a commit never changes), and
    /// it saves inflating the commit and every tree on the path on each view of a file.
    entries: std::sync::Mutex<super::lru::Lru<EntryKey, Option<(bool, ObjectId)>>>,
    /// git itself, for the blames gix's walk does not cover (see `blame`).
    pub(super) git: Option<super::GitRunner>,
    /// Which commits each repository's refs reach (see `reach`).
    pub(super) reach: super::reach::Reachability,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self::new(super::CacheLimits::default())
    }
}

impl ReadCache {
    pub fn new(limits: super::CacheLimits) -> Self {
        Self {
            repos: super::handles::Handles::default(),
            history: super::history_cache::HistoryCache::new(limits),
            folder_walks: super::jobs::Jobs::new(super::last_commit::MAX_FOLDER_WALKS),
            blames: super::jobs::Jobs::new(super::blame::MAX_BLAMES),
            ref_listings: Default::default(),
            entries: std::sync::Mutex::new(super::lru::Lru::new(ENTRY_MEMO_BYTES)),
            git: None,
            reach: Default::default(),
        }
    }

    /// Lets blame run `git blame` where a history needs it (merges that changed the file).
    pub fn with_git(mut self, git: super::GitRunner) -> Self {
        self.git = Some(git);
        self
    }

    pub fn open(self: &Arc<Self>, dir: &RepoDir) -> Result<Reader, GitError> {
        self.repos.sweep_while(self, |c| &c.repos);
        let repo = self.repos.get(dir.path())?;
        Ok(Reader {
            repo,
            cache: Arc::clone(self),
        })
    }

    /// The handle requests share on the repository at `path` (see `handles`), with its age.
    pub(super) fn shared_handle(
        &self,
        path: &std::path::Path,
    ) -> Result<(gix::Repository, super::handles::Opened), GitError> {
        self.repos.get_opened(path)
    }

    /// Drops the cached handle of a repository that is deleted or renamed, so a new repository
    /// later made at the same path is never read through the old one's handle.
    pub fn forget(&self, dir: &RepoDir) {
        self.repos.forget(dir.path());
    }

    /// Runs `f` on the repository's reader, trying a gix error once more: gix's object store,
    /// shared between threads, can briefly report an object missing while another thread loads
    /// the index of a pack that upkeep (or a push) just wrote (gitoxide discussion #1412); git
    /// itself retries a lookup once for the same reason. Reads have no side effects.
    pub fn read<T>(
        self: &Arc<Self>,
        dir: &RepoDir,
        f: impl Fn(&Reader) -> Result<T, GitError>,
    ) -> Result<T, GitError> {
        match self.open(dir).and_then(|r| f(&r)) {
            Err(GitError::Gix(e)) => {
                tracing::debug!(error = %e, "repository read failed; trying once more");
                self.open(dir).and_then(|r| f(&r))
            }
            done => done,
        }
    }
}

/// Whether `s` can name a commit by its id: `MIN_ID_LEN` to 40 hex digits (nothing else
/// reaches `rev_parse`, whose other syntax (`HEAD~3`, `:/text`) no URL needs).
fn is_commit_name(s: &str) -> bool {
    s.len() >= super::reach::MIN_ID_LEN && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A blob's bytes, or None when it is larger than `max` (then it is not read at all).
pub(super) fn blob_bytes(
    repo: &gix::Repository,
    id: ObjectId,
    max: u64,
) -> Result<Option<Vec<u8>>, GitError> {
    if repo.find_header(id).map_err(GitError::gix)?.size() > max {
        return Ok(None);
    }
    let mut blob = repo.find_blob(id).map_err(GitError::gix)?;
    Ok(Some(std::mem::take(&mut blob.data)))
}

pub struct Reader {
    pub(super) repo: gix::Repository,
    pub(super) cache: Arc<ReadCache>,
}

impl Reader {
    /// A reader for a background walk, on a handle of its own rather than the request's:
    /// requests share theirs, and whatever the walk maps through it would stay mapped while
    /// either lives. None (logged) if the repository cannot be opened.
    pub(super) fn for_walk(dir: &std::path::Path, cache: Arc<ReadCache>) -> Option<Self> {
        match super::handles::open_fresh(dir) {
            Ok(repo) => Some(Self { repo, cache }),
            Err(e) => {
                tracing::warn!(error = %e, "could not open the repository for a walk");
                None
            }
        }
    }

    /// A blob's bytes, or None when it is larger than `max` (then it is not read at all).
    pub(super) fn blob_bytes(&self, id: ObjectId, max: u64) -> Result<Option<Vec<u8>>, GitError> {
        blob_bytes(&self.repo, id, max)
    }

    pub(super) fn repository(&self) -> &gix::Repository {
        &self.repo
    }

    /// The repository's folder (`OWNER/NAME.git`), where its kept answers live.
    pub(super) fn repo_dir(&self) -> &std::path::Path {
        self.repo.path()
    }

    /// The repository's commit-graph with its changed-path filters, if it has one.
    pub(super) fn commit_graph(&self) -> Option<Arc<super::graph::CommitGraph>> {
        self.cache
            .history
            .commit_graph(self.repo.objects.store_ref().path())
    }

    /// The full id of a commit named by a full or abbreviated id (at least `MIN_ID_LEN`
    /// characters), if it exists, reachable or not: pages check `reaches` as well.
    pub(super) fn commit_oid(&self, id: &CommitId) -> Result<Option<ObjectId>, GitError> {
        let hex = is_commit_name(&id.0);
        if !hex {
            return Ok(None);
        }
        let Ok(found) = self.repo.rev_parse_single(id.0.as_str()) else {
            return Ok(None);
        };
        match found.object().map_err(GitError::gix)?.peel_to_commit() {
            Ok(commit) => Ok(Some(commit.id)),
            Err(_) => Ok(None),
        }
    }

    pub(super) fn info(&self, commit: &gix::Commit<'_>) -> Result<CommitInfo, GitError> {
        let message = commit.message().map_err(GitError::gix)?;
        let author = commit.author().map_err(GitError::gix)?;
        let committer = commit.committer().map_err(GitError::gix)?;
        Ok(CommitInfo {
            id: CommitId(commit.id.to_hex().to_string()),
            subject: message.title.to_str_lossy().trim().to_owned(),
            body: message
                .body
                .map(|b| b.to_str_lossy().trim().to_owned())
                .unwrap_or_default(),
            author_name: author.name.to_str_lossy().trim().to_owned(),
            author_email: author.email.to_str_lossy().trim().to_owned(),
            committer_name: committer.name.to_str_lossy().trim().to_owned(),
            committer_email: committer.email.to_str_lossy().trim().to_owned(),
            time: author.seconds(),
            parents: commit
                .parent_ids()
                .map(|p| CommitId(p.to_hex().to_string()))
                .collect(),
        })
    }

    pub fn commit(&self, id: &CommitId) -> Result<CommitInfo, GitError> {
        self.commit_info(id.oid()?)
    }

    /// The commit a full or abbreviated id names, if the refs reach it: what a page or the API
    /// may act on (a deploy of a commit by id).
    pub fn reachable_commit(&self, id: &CommitId) -> Result<Option<CommitInfo>, GitError> {
        match self.commit_oid(id)? {
            Some(oid) if self.reaches(oid)? => self.commit_info(oid).map(Some),
            _ => Ok(None),
        }
    }

    pub(super) fn commit_info(&self, id: ObjectId) -> Result<CommitInfo, GitError> {
        self.info(&self.repo.find_commit(id).map_err(GitError::gix)?)
    }

    fn refs(&self, prefix: &str) -> Result<Vec<RefInfo>, GitError> {
        let platform = self.repo.references().map_err(GitError::gix)?;
        let mut out = Vec::new();
        for reference in platform.prefixed(prefix).map_err(GitError::gix)? {
            // A loose ref can vanish between its listing and its read when upkeep's
            // `pack-refs` moves it into packed-refs: that ref is missed by this one listing,
            // instead of the page failing ("Could not read reference", seen in CI).
            let Ok(mut reference) = reference else {
                continue;
            };
            let name = reference.name().as_bstr().to_str_lossy();
            let name = name.strip_prefix(prefix).unwrap_or(&name).to_owned();
            let Ok(commit) = reference.peel_to_commit() else {
                continue;
            }; // tags of trees or blobs
            out.push(RefInfo {
                name,
                commit: self.info(&commit)?,
            });
        }
        out.sort_by(|a, b| b.commit.time.cmp(&a.commit.time).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    pub fn branches(&self) -> Result<Vec<RefInfo>, GitError> {
        self.refs("refs/heads/")
    }

    pub fn tags(&self) -> Result<Vec<RefInfo>, GitError> {
        self.refs("refs/tags/")
    }

    /// The commit a branch points at, if the branch exists.
    pub fn branch_head(&self, branch: &str) -> Result<Option<CommitInfo>, GitError> {
        let Ok(Some(mut reference)) = self
            .repo
            .try_find_reference(format!("refs/heads/{branch}").as_str())
        else {
            return Ok(None);
        };
        let commit = reference.peel_to_commit().map_err(GitError::gix)?;
        Ok(Some(self.info(&commit)?))
    }

    /// Splits `REF/PATH`: the longest existing branch or tag wins (branch names contain slashes;
    /// a branch beats a tag of the same name), else the first segment as a full or abbreviated
    /// commit id (`MIN_ID_LEN` characters at least) of a commit the refs reach: a deleted
    /// branch's commit is not served by its id. Linear in the URL: the candidates are the refs named like the first segment or
    /// under it (one sorted lookup in the ref store), each compared once with the URL, instead
    /// of one ref lookup per prefix of the URL (`a/`×32,000 cost seconds of CPU that way).
    pub fn resolve(&self, rest: &str) -> Result<Option<Resolved>, GitError> {
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let Some(first) = segments.first().copied() else {
            return Ok(None);
        };
        let joined = segments.join("/");
        // (segments the ref spans, is a branch, full name), longest first.
        let mut candidates: Vec<(usize, bool, gix::Reference<'_>)> = Vec::new();
        for (prefix, is_branch) in [("refs/heads/", true), ("refs/tags/", false)] {
            for (name, found) in self.refs_like(prefix, first)? {
                let short = &name[prefix.len()..];
                let covers = joined == short
                    || (joined.starts_with(short) && joined.as_bytes()[short.len()] == b'/');
                if covers {
                    candidates.push((short.split('/').count(), is_branch, found));
                }
            }
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        for (n, _, mut reference) in candidates {
            if let Some(commit) = self.commit_of(&mut reference) {
                return self.resolved(segments[..n].join("/"), commit, &segments[n..]);
            }
        }
        if is_commit_name(first)
            && let Ok(id) = self.repo.rev_parse_single(first)
            && let Ok(commit) = id.object().map_err(GitError::gix)?.peel_to_commit()
            && self.reaches(commit.id)?
        {
            return self.resolved(first.to_owned(), commit.id, &segments[1..]);
        }
        Ok(None)
    }

    /// The commit a branch or tag names. A ref naming a commit directly (every branch, most
    /// tags) is answered from the object's header, without inflating the commit.
    fn commit_of(&self, reference: &mut gix::Reference<'_>) -> Option<ObjectId> {
        if let Some(id) = reference.target().try_id()
            && self
                .repo
                .find_header(id)
                .is_ok_and(|h| h.kind() == gix::object::Kind::Commit)
        {
            return Some(id.to_owned());
        }
        reference.peel_to_commit().ok().map(|c| c.id)
    }

    /// The refs `PREFIX + first` and those under `PREFIX + first + "/"`, with their full names.
    /// A first segment that cannot be part of a ref name finds none.
    fn refs_like(
        &self,
        prefix: &str,
        first: &str,
    ) -> Result<Vec<(String, gix::Reference<'_>)>, GitError> {
        let mut names = Vec::new();
        let exact = format!("{prefix}{first}");
        if let Ok(Some(r)) = self.repo.try_find_reference(exact.as_str()) {
            names.push((r.name().as_bstr().to_str_lossy().into_owned(), r));
        }
        let platform = self.repo.references().map_err(GitError::gix)?;
        let under = format!("{exact}/");
        let Ok(iter) = platform.prefixed(under.as_str()) else {
            return Ok(names);
        };
        for r in iter.flatten() {
            names.push((r.name().as_bstr().to_str_lossy().into_owned(), r));
        }
        Ok(names)
    }

    fn resolved(
        &self,
        rev: String,
        commit: ObjectId,
        rest: &[&str],
    ) -> Result<Option<Resolved>, GitError> {
        match TreePath::parse(&rest.join("/")) {
            Ok(path) => Ok(Some(Resolved {
                rev,
                commit: CommitId(commit.to_hex().to_string()),
                path,
            })),
            Err(_) => Ok(None),
        }
    }

    /// The object at `path` in the commit's tree: (is_dir, id), or None if there is none.
    pub(super) fn lookup(
        &self,
        commit: ObjectId,
        path: &TreePath,
    ) -> Result<Option<(bool, ObjectId)>, GitError> {
        let commit = self.repo.find_commit(commit).map_err(GitError::gix)?;
        if path.is_root() {
            // The id is in the commit itself: no need to read the tree (history passes call
            // this for every commit).
            return Ok(Some((
                true,
                commit.tree_id().map_err(GitError::gix)?.detach(),
            )));
        }
        let tree = commit.tree().map_err(GitError::gix)?;
        let entry = tree
            .lookup_entry_by_path(path.as_str())
            .map_err(GitError::gix)?;
        Ok(entry.map(|e| (e.mode().is_tree(), e.object_id())))
    }

    /// `lookup` for the pages, remembered: a page view reads the commit and the trees on the
    /// path once, later views of the same (commit, path) none. History walks call `lookup`
    /// itself (thousands of commits once each would only push the pages' answers out).
    fn find_entry(
        &self,
        commit: &CommitId,
        path: &TreePath,
    ) -> Result<Option<(bool, ObjectId)>, GitError> {
        let key: EntryKey = (
            self.repo.path().to_path_buf(),
            commit.oid()?,
            path.as_str().to_owned(),
        );
        if let Some(found) = self.cache.entries.lock().expect("never poisoned").get(&key) {
            return Ok(found);
        }
        let found = self.lookup(key.1, path)?;
        let weight = key.0.as_os_str().len() + key.2.len() + 150;
        self.cache
            .entries
            .lock()
            .expect("never poisoned")
            .insert(key, found, weight);
        Ok(found)
    }

    pub fn is_dir(&self, commit: &CommitId, path: &TreePath) -> Result<Option<bool>, GitError> {
        Ok(self.find_entry(commit, path)?.map(|(dir, _)| dir))
    }

    fn entries(&self, tree_id: ObjectId) -> Result<Vec<(String, EntryKind, ObjectId)>, GitError> {
        let tree = self.repo.find_tree(tree_id).map_err(GitError::gix)?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(GitError::gix)?;
            let mode = entry.mode();
            let kind = if mode.is_tree() {
                EntryKind::Dir
            } else if mode.is_commit() {
                EntryKind::Submodule
            } else if mode.is_link() {
                EntryKind::Symlink
            } else {
                EntryKind::File
            };
            out.push((
                entry.filename().to_str_lossy().into_owned(),
                kind,
                entry.object_id(),
            ));
        }
        Ok(out)
    }

    /// A directory's entries, folders first, each with the commit that last changed it.
    pub fn list_tree(
        &self,
        commit: &CommitId,
        path: &TreePath,
    ) -> Result<Option<Folder>, GitError> {
        let Some((true, tree_id)) = self.find_entry(commit, path)? else {
            return Ok(None);
        };
        let mut entries = self.entries(tree_id)?;
        entries.sort_by(|a, b| {
            (a.1 != EntryKind::Dir)
                .cmp(&(b.1 != EntryKind::Dir))
                .then(a.0.cmp(&b.0))
        });
        let cut = entries.len() > MAX_LISTED;
        entries.truncate(MAX_LISTED);
        let names: Vec<String> = entries.iter().map(|(n, _, _)| n.clone()).collect();
        let (last, complete) = self.last_commits(commit, path, &names)?;
        // By name: a remembered answer may list the names in another order (the tree's).
        let mut last: std::collections::HashMap<String, Option<Arc<CommitInfo>>> =
            last.into_iter().collect();
        let entries: Vec<TreeEntry> = entries
            .into_iter()
            .map(|(name, kind, _)| TreeEntry {
                last_commit: last.remove(&name).flatten(),
                name,
                kind,
            })
            .collect();
        Ok(Some(Folder {
            entries,
            complete,
            cut,
        }))
    }
}

/// Git's own rule: a NUL in the first 8000 bytes makes a file binary.
pub(super) fn is_binary(data: &[u8]) -> bool {
    data.iter().take(8000).any(|b| *b == 0)
}

mod files;
#[cfg(test)]
mod tests;
