//! A reader of one repository, in-process with gix, and the `Stores` it keeps answers in. At the
//! bottom of the reading part of the room: walkers build on `Reader`, and `read::ReadCache`
//! (the cache, which opens readers) implements `Stores` above them all. Owned view structs
//! come out; no gix type leaves this room. Every function here blocks: call it from
//! `spawn_blocking`.

use std::sync::Arc;

use gix::ObjectId;
use gix::bstr::ByteSlice;

use std::sync::Mutex;

use super::GitError;
use super::handles::Opened;
use super::history_cache::{Blames, FolderWalks, HistoryCache};
use super::lru::Lru;
use super::reach_set::Reachability;
use super::ref_listings::RefListings;
use crate::model::TreePath;

pub use super::view::{
    BlobView, CommitId, CommitInfo, EntryKind, Folder, MAX_LISTED, RefInfo, Resolved, TreeEntry,
};

/// A path at a commit of one repository (by folder: a commit id alone would let a page of one
/// repository answer from another's).
pub(super) type EntryKey = (std::path::PathBuf, ObjectId, String);

/// What a (commit, path) names: whether a folder, and its object.
pub(super) type EntryMemo = Mutex<Lru<EntryKey, Option<(bool, ObjectId)>>>;

/// Where a reader and the walks built on it keep what outlives one request: shared handles,
/// kept answers, running background walks. Implemented by `read::ReadCache`, which
/// this room's readers and walkers never name: they see only this, so the cache sits above
/// them and nothing in the room depends back on it.
pub(super) trait Stores: Send + Sync {
    /// Answers and commit summaries in memory and on disk, and the commit-graphs.
    fn history(&self) -> &HistoryCache;
    /// The running folder walks (`last_commit`).
    fn folder_walks(&self) -> &FolderWalks;
    /// The running blames (`blame`).
    fn blames(&self) -> &Blames;
    /// The branch/tag switcher's names, kept while the ref folders are unchanged.
    fn ref_listings(&self) -> &RefListings;
    /// What a (commit, path) names, for the pages: true forever (a commit never changes), and
    /// it saves inflating the commit and every tree on the path on each view of a file.
    fn entries(&self) -> &EntryMemo;
    /// Which commits each repository's refs reach (see `reach`).
    fn reach(&self) -> &Reachability;
    /// The handle requests share on the repository at `path` (see `handles`), with its age.
    fn shared_handle(&self, path: &std::path::Path) -> Result<(gix::Repository, Opened), GitError>;
}

/// Shortest abbreviated commit id a URL may use: git's default abbreviation. Four characters
/// are 65,536 names, few enough to scan.
pub const MIN_ID_LEN: usize = 7;

/// Whether `s` can name a commit by its id: `MIN_ID_LEN` to 40 hex digits (nothing else
/// reaches `rev_parse`, whose other syntax (`HEAD~3`, `:/text`) no URL needs).
fn is_commit_name(s: &str) -> bool {
    s.len() >= MIN_ID_LEN && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
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
    pub(super) cache: Arc<dyn Stores>,
}

impl Reader {
    /// A reader for a background walk, on a handle of its own rather than the request's:
    /// requests share theirs, and whatever the walk maps through it would stay mapped while
    /// either lives. None (logged) if the repository cannot be opened.
    pub(super) fn for_walk(dir: &std::path::Path, cache: Arc<dyn Stores>) -> Option<Self> {
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
            .history()
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
        if let Some(found) = self
            .cache
            .entries()
            .lock()
            .expect("never poisoned")
            .get(&key)
        {
            return Ok(found);
        }
        let found = self.lookup(key.1, path)?;
        let weight = key.0.as_os_str().len() + key.2.len() + 150;
        self.cache
            .entries()
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

pub(super) mod api;
mod files;

pub use files::PathEntry;
