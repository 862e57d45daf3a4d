//! A commit's changes against its first parent: which files changed (by comparing trees, only
//! descending into folders whose ids differ) and their line diffs (imara-diff, histogram).
//! Bounded: past the limits the rest is summarised, and the page links the full patch instead.

use std::collections::HashMap;

use gix::ObjectId;
use gix::bstr::ByteSlice;
use imara_diff::{Algorithm, BasicLineDiffPrinter, Diff, InternedInput, UnifiedDiffConfig};

use super::GitError;
use super::read::{CommitId, CommitInfo, Reader, is_binary};

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
}

/// What one diff may cost.
#[derive(Clone, Copy)]
pub struct DiffLimits {
    pub max_files: usize,
    pub max_blob: u64,
    pub max_lines: usize,
}

impl DiffLimits {
    pub const PAGE: DiffLimits = DiffLimits {
        max_files: 300,
        max_blob: 1024 * 1024,
        max_lines: 20_000,
    };
    pub const PATCH: DiffLimits = DiffLimits {
        max_files: 100_000,
        max_blob: 64 * 1024 * 1024,
        max_lines: usize::MAX,
    };
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
        let info = self.commit_info(oid)?;
        let changes = self.changed_files(oid)?;
        let mut files = Vec::new();
        let mut lines_left = limits.max_lines;
        let mut truncated = false;
        for (i, (path, old, new)) in changes.into_iter().enumerate() {
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
            if i >= limits.max_files || lines_left == 0 {
                file.skipped = true;
                truncated = true;
                files.push(file);
                continue;
            }
            let before = self.blob_for_diff(old, limits.max_blob)?;
            let after = self.blob_for_diff(new, limits.max_blob)?;
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
        Ok(Some(CommitDiff {
            commit: info,
            files,
            truncated,
        }))
    }

    /// (path, old blob, new blob) of every file `commit` changed against its first parent (all
    /// of them for a root commit), sorted by path.
    pub(super) fn changed_files(&self, commit: ObjectId) -> Result<Vec<FileChange>, GitError> {
        let (old_tree, new_tree) = self.parent_and_own_tree(commit)?;
        let mut changes = Vec::new();
        self.compare_trees(old_tree, Some(new_tree), "", &mut changes)?;
        changes.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(changes)
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

    /// Collects (path, old blob, new blob) for every file that differs, recursing only into
    /// folders whose ids differ.
    pub(super) fn compare_trees(
        &self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        prefix: &str,
        out: &mut Vec<FileChange>,
    ) -> Result<(), GitError> {
        if old == new {
            return Ok(());
        }
        let read = |id: Option<ObjectId>| -> Result<Vec<(String, bool, ObjectId)>, GitError> {
            let Some(id) = id else { return Ok(Vec::new()) };
            let tree = self.repository().find_tree(id).map_err(GitError::gix)?;
            let mut entries = Vec::new();
            for e in tree.iter() {
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
            Ok(entries)
        };
        let (olds, news) = (read(old)?, read(new)?);
        let mut names: Vec<&String> = olds
            .iter()
            .map(|e| &e.0)
            .chain(news.iter().map(|e| &e.0))
            .collect();
        names.sort();
        names.dedup();
        // By name: a folder of thousands of entries must not cost a scan per entry.
        fn by_name(
            entries: &[(String, bool, ObjectId)],
        ) -> HashMap<&str, &(String, bool, ObjectId)> {
            entries.iter().map(|e| (e.0.as_str(), e)).collect()
        }
        let (old_at, new_at) = (by_name(&olds), by_name(&news));
        for name in names {
            let o = old_at.get(name.as_str()).copied();
            let n = new_at.get(name.as_str()).copied();
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let (o_tree, o_blob) = split(o);
            let (n_tree, n_blob) = split(n);
            if o_tree.is_some() || n_tree.is_some() {
                self.compare_trees(o_tree, n_tree, &path, out)?;
            }
            if o_blob != n_blob {
                out.push((path, o_blob, n_blob));
            }
        }
        Ok(())
    }

    /// The blob's bytes; `Some(empty)` for a missing side, `None` when larger than `max`.
    fn blob_for_diff(&self, id: Option<ObjectId>, max: u64) -> Result<Option<Vec<u8>>, GitError> {
        let Some(id) = id else {
            return Ok(Some(Vec::new()));
        };
        self.blob_bytes(id, max)
    }
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
        out.push_str("---\n\n");
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
