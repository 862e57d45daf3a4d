//! A commit's changes against its first parent: which files changed (by comparing trees, only
//! descending into folders whose ids differ) and their line diffs (imara-diff, histogram).
//! Bounded: past the limits the rest is summarised, and the page links the full patch instead.
//! The tree walk itself is bounded too (paths listed, tree entries visited, time): a commit of a
//! few dozen bytes can name 10^9 paths by nesting one folder in itself, so the walk never builds
//! the whole list before it takes the first N; it stops at a cap and says it was cut.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gix::ObjectId;
use gix::bstr::ByteSlice;
use imara_diff::{Algorithm, BasicLineDiffPrinter, Diff, InternedInput, UnifiedDiffConfig};

use super::GitError;
use super::reader::{CommitId, CommitInfo, Reader, is_binary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug, Clone)]
pub struct FileDiff {
    pub path: String,
    pub change: Change,
    pub additions: u32,
    pub deletions: u32,
    /// Unified diff hunks (`@@ … @@` and `+`/`-`/` ` lines); empty for binary or skipped files.
    pub hunks: String,
    pub binary: bool,
    /// Too large to diff here (or past the page's budget); the patch has it.
    pub skipped: bool,
}

pub struct CommitDiff {
    pub commit: CommitInfo,
    pub files: Vec<FileDiff>,
    /// Some files were left out of the diff because of the limits.
    pub truncated: bool,
    /// The list of changed files itself was cut (see `TreeBudget`): there are more than listed.
    pub listing_cut: bool,
}

/// What one diff may cost.
#[derive(Clone, Copy)]
pub struct DiffLimits {
    /// Files diffed; the rest are listed as skipped.
    pub max_files: usize,
    pub max_blob: u64,
    pub max_lines: usize,
    /// Blob bytes read for the whole diff.
    pub max_bytes: u64,
    /// The walk that finds the changed files.
    pub walk: WalkLimits,
    /// The whole diff, walk included.
    pub time: Duration,
}

impl DiffLimits {
    pub const PAGE: DiffLimits = DiffLimits {
        max_files: 300,
        max_blob: 1024 * 1024,
        max_lines: 20_000,
        max_bytes: 16 << 20,
        walk: WalkLimits {
            max_paths: 5_000,
            max_entries: 200_000,
        },
        time: Duration::from_secs(5),
    };
    pub const PATCH: DiffLimits = DiffLimits {
        max_files: 100_000,
        max_blob: 64 * 1024 * 1024,
        max_lines: usize::MAX,
        max_bytes: 256 << 20,
        walk: WalkLimits {
            max_paths: 100_000,
            max_entries: 2_000_000,
        },
        time: Duration::from_secs(20),
    };
}

/// Caps on one walk over two trees.
#[derive(Clone, Copy, Debug)]
pub struct WalkLimits {
    /// Changed paths collected.
    pub max_paths: usize,
    /// Tree entries read, over every folder visited.
    pub max_entries: usize,
}

/// The changed files a bounded walk found; `cut` when it stopped at a cap.
pub(super) struct Changes {
    pub files: Vec<FileChange>,
    pub cut: bool,
}

/// A changed file: its path, its blob before (None: added) and after (None: removed).
pub(super) type FileChange = (String, Option<ObjectId>, Option<ObjectId>);

impl Reader {
    pub fn commit_diff(
        &self,
        id: &CommitId,
        limits: DiffLimits,
    ) -> Result<Option<CommitDiff>, GitError> {
        let Some(oid) = self.commit_oid(id)? else {
            return Ok(None);
        };
        // Only a commit the refs reach: a deleted branch's is not shown by its id.
        if !self.reaches(oid)? {
            return Ok(None);
        }
        let deadline = Instant::now() + limits.time;
        let info = self.commit_info(oid)?;
        let changes = self.changed_files(oid, limits.walk, deadline)?;
        let listing_cut = changes.cut;
        let (files, truncated) = self.diff_changes(changes, limits, deadline)?;
        Ok(Some(CommitDiff {
            commit: info,
            files,
            truncated,
            listing_cut,
        }))
    }

    /// Line diffs of the changed files a walk found, within `limits` and `deadline`; the second
    /// value says some were left out (or the listing itself was cut).
    pub(super) fn diff_changes(
        &self,
        changes: Changes,
        limits: DiffLimits,
        deadline: Instant,
    ) -> Result<(Vec<FileDiff>, bool), GitError> {
        let listing_cut = changes.cut;
        let mut files = Vec::new();
        let mut lines_left = limits.max_lines;
        let mut bytes_left = limits.max_bytes;
        let mut truncated = listing_cut;
        for (i, (path, old, new)) in changes.files.into_iter().enumerate() {
            let change = match (old, new) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Deleted,
                _ => Change::Modified,
            };
            let mut file = FileDiff {
                path,
                change,
                additions: 0,
                deletions: 0,
                hunks: String::new(),
                binary: false,
                skipped: false,
            };
            if i >= limits.max_files || lines_left == 0 || Instant::now() >= deadline {
                file.skipped = true;
                truncated = true;
                files.push(file);
                continue;
            }
            let max_blob = limits.max_blob.min(bytes_left);
            let before = self.blob_for_diff(old, max_blob)?;
            let after = self.blob_for_diff(new, max_blob)?;
            let read = [&before, &after]
                .iter()
                .map(|b| b.as_ref().map_or(0, |b| b.len() as u64))
                .sum::<u64>();
            bytes_left = bytes_left.saturating_sub(read);
            match (before, after) {
                (Some(b), Some(a)) if !is_binary(&b) && !is_binary(&a) => {
                    let (b, a) = (String::from_utf8_lossy(&b), String::from_utf8_lossy(&a));
                    let input = InternedInput::new(b.as_ref(), a.as_ref());
                    let mut diff = Diff::compute(Algorithm::Histogram, &input);
                    diff.postprocess_lines(&input);
                    file.additions = diff.count_additions();
                    file.deletions = diff.count_removals();
                    let printer = BasicLineDiffPrinter(&input.interner);
                    file.hunks = diff
                        .unified_diff(&printer, UnifiedDiffConfig::default(), &input)
                        .to_string();
                    let n = file.hunks.lines().count();
                    if n > lines_left {
                        file.hunks.clear();
                        file.skipped = true;
                        truncated = true;
                        lines_left = 0;
                    } else {
                        lines_left -= n;
                    }
                }
                (Some(_), Some(_)) => file.binary = true,
                _ => {
                    file.skipped = true;
                    truncated = true;
                }
            }
            files.push(file);
        }
        Ok((files, truncated))
    }

    /// (path, old blob, new blob) of the files `commit` changed against its first parent (all
    /// of them for a root commit), sorted by path: all of them, or as many as the walk found
    /// before a cap or `deadline` (then `cut`).
    pub(super) fn changed_files(
        &self,
        commit: ObjectId,
        limits: WalkLimits,
        deadline: Instant,
    ) -> Result<Changes, GitError> {
        let (old_tree, new_tree) = self.parent_and_own_tree(commit)?;
        self.changed_between(old_tree, new_tree, limits, deadline)
    }

    /// (path, old blob, new blob) of the files that differ between two trees (all of `new`'s
    /// when there is no `old`), sorted by path, bounded as [`Reader::changed_files`] is.
    pub(super) fn changed_between(
        &self,
        old_tree: Option<ObjectId>,
        new_tree: ObjectId,
        limits: WalkLimits,
        deadline: Instant,
    ) -> Result<Changes, GitError> {
        let mut walk = Walk {
            limits,
            deadline,
            entries: 0,
            files: Vec::new(),
        };
        let cut = self.compare_trees(old_tree, new_tree, &mut walk)?;
        let mut files = walk.files;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Changes { files, cut })
    }

    /// The first parent's tree (None for a root commit) and the commit's own.
    fn parent_and_own_tree(
        &self,
        commit: ObjectId,
    ) -> Result<(Option<ObjectId>, ObjectId), GitError> {
        let commit = self
            .repository()
            .find_commit(commit)
            .map_err(GitError::gix)?;
        let own = commit.tree_id().map_err(GitError::gix)?.detach();
        let parent = match commit.parent_ids().next() {
            Some(p) => Some(
                self.repository()
                    .find_commit(p.detach())
                    .map_err(GitError::gix)?
                    .tree_id()
                    .map_err(GitError::gix)?
                    .detach(),
            ),
            None => None,
        };
        Ok((parent, own))
    }

    /// Collects (path, old blob, new blob) for every file that differs, descending only into
    /// folders whose ids differ. Iterative (a deep tree cannot exhaust the stack) and bounded by
    /// `walk`'s caps; true when it stopped at one.
    fn compare_trees(
        &self,
        old: Option<ObjectId>,
        new: ObjectId,
        walk: &mut Walk,
    ) -> Result<bool, GitError> {
        let mut folders = vec![(old, Some(new), String::new())];
        while let Some((old, new, prefix)) = folders.pop() {
            if old == new {
                continue;
            }
            if Instant::now() >= walk.deadline {
                return Ok(true);
            }
            let (Some(olds), Some(news)) = (self.read_tree(old, walk)?, self.read_tree(new, walk)?)
            else {
                return Ok(true);
            };
            let mut names: Vec<&String> = olds
                .iter()
                .map(|e| &e.0)
                .chain(news.iter().map(|e| &e.0))
                .collect();
            names.sort();
            names.dedup();
            // By name: a folder of thousands of entries must not cost a scan per entry.
            let (old_at, new_at) = (by_name(&olds), by_name(&news));
            let mut below = Vec::new();
            for name in names {
                let (o_tree, o_blob) = split(old_at.get(name.as_str()).copied());
                let (n_tree, n_blob) = split(new_at.get(name.as_str()).copied());
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                if o_blob != n_blob {
                    if walk.files.len() >= walk.limits.max_paths {
                        return Ok(true);
                    }
                    walk.files.push((path.clone(), o_blob, n_blob));
                }
                if (o_tree.is_some() || n_tree.is_some()) && o_tree != n_tree {
                    below.push((o_tree, n_tree, path));
                }
            }
            // Reversed, so folders are popped (and paths found) in name order.
            folders.extend(below.into_iter().rev());
        }
        Ok(false)
    }

    /// A tree's entries (none for a missing side), counted against `walk`; None past its cap.
    fn read_tree(
        &self,
        id: Option<ObjectId>,
        walk: &mut Walk,
    ) -> Result<Option<Entries>, GitError> {
        let Some(id) = id else {
            return Ok(Some(Vec::new()));
        };
        let tree = self.repository().find_tree(id).map_err(GitError::gix)?;
        let mut entries = Vec::new();
        for e in tree.iter() {
            walk.entries += 1;
            if walk.entries > walk.limits.max_entries {
                return Ok(None);
            }
            let e = e.map_err(GitError::gix)?;
            if e.mode().is_commit() {
                continue; // submodules: their commits are not in this repository
            }
            entries.push((
                e.filename().to_str_lossy().into_owned(),
                e.mode().is_tree(),
                e.object_id(),
            ));
        }
        Ok(Some(entries))
    }

    /// The blob's bytes; `Some(empty)` for a missing side, `None` when larger than `max`.
    fn blob_for_diff(&self, id: Option<ObjectId>, max: u64) -> Result<Option<Vec<u8>>, GitError> {
        let Some(id) = id else {
            return Ok(Some(Vec::new()));
        };
        self.blob_bytes(id, max)
    }
}

/// A folder's entries: (name, is a folder, id).
type Entries = Vec<(String, bool, ObjectId)>;

fn by_name(entries: &Entries) -> HashMap<&str, &(String, bool, ObjectId)> {
    entries.iter().map(|e| (e.0.as_str(), e)).collect()
}

/// One walk's progress against its caps.
struct Walk {
    limits: WalkLimits,
    deadline: Instant,
    entries: usize,
    files: Vec<FileChange>,
}

fn split(entry: Option<&(String, bool, ObjectId)>) -> (Option<ObjectId>, Option<ObjectId>) {
    match entry {
        Some((_, true, id)) => (Some(*id), None),
        Some((_, false, id)) => (None, Some(*id)),
        None => (None, None),
    }
}

impl CommitDiff {
    /// The whole change as a patch `git apply` and `git am` accept.
    pub fn to_patch(&self) -> String {
        let c = &self.commit;
        let date = time::OffsetDateTime::from_unix_timestamp(c.time)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc2822)
                    .ok()
            })
            .unwrap_or_default();
        let mut out = format!(
            "From {} Mon Sep 17 00:00:00 2001\nFrom: {} <{}>\nDate: {date}\nSubject: [PATCH] {}\n\n",
            c.id.0, c.author_name, c.author_email, c.subject
        );
        if !c.body.is_empty() {
            out.push_str(&c.body);
            out.push('\n');
        }
        out.push_str("---\n");
        if self.listing_cut {
            // Between `---` and the first `diff`: git am and git apply skip this text.
            out.push_str(&format!(
                "labforge: this patch is cut after {} files: the commit changes more than one \
                 request reads. Fetch the commit and run `git show` for all of it.\n",
                self.files.len()
            ));
        }
        out.push('\n');
        for f in &self.files {
            out.push_str(&format!("diff --git a/{0} b/{0}\n", f.path));
            match f.change {
                Change::Added => out.push_str("new file mode 100644\n"),
                Change::Deleted => out.push_str("deleted file mode 100644\n"),
                Change::Modified => {}
            }
            if f.binary || f.skipped {
                out.push_str(&format!("Binary files a/{0} and b/{0} differ\n", f.path));
                continue;
            }
            if f.hunks.is_empty() {
                continue;
            }
            let old = if f.change == Change::Added {
                "/dev/null".to_owned()
            } else {
                format!("a/{}", f.path)
            };
            let new = if f.change == Change::Deleted {
                "/dev/null".to_owned()
            } else {
                format!("b/{}", f.path)
            };
            out.push_str(&format!("--- {old}\n+++ {new}\n"));
            out.push_str(&f.hunks);
        }
        out
    }
}
