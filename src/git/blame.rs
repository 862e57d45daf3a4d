//! Blame: which commit last changed each line of a file, as `git blame` says, merges and
//! renames included. The walk (`walk`) goes through the history as git's does: newest commit
//! first, a merge that took the file whole from one parent follows that parent only, one that
//! changed it is diffed with each parent in turn (imara-diff), and where the file first appears
//! rename detection finds its older name. Commits whose changed-path filter says they did not
//! touch the file are passed without reading a tree.
//!
//! A file's blame at a commit is its blame at the commit that last changed it, so answers are
//! kept by that commit (in memory and on disk): a push that does not touch the file reuses
//! it, one that does costs one diff, since the walk stops at the first version whose blame is
//! kept. The walk runs once per (commit, file) on its own thread; a page waits for it up to
//! its budget, then shows the lines traced so far and completes on a later load.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gix::ObjectId;
use imara_diff::Diff;

use super::GitError;
use super::changed_paths::PathKeys;
use super::commits::Commits;
use super::history_cache::{BlameAnswer, Kept, KeptKey, Key, Value, kept_body, kept_header};
use super::jobs::Job;
use super::path_walk::{Trees, components};
use super::reader::{CommitId, CommitInfo, Reader, is_binary};
use crate::model::TreePath;
use format::{decode, encode};
use walk::Walk;

pub struct Blame {
    /// The file's lines at the starting commit.
    pub lines: Vec<String>,
    /// For each line, an index into `commits`, or None if not traced yet.
    pub origin: Vec<Option<usize>>,
    pub commits: Vec<CommitInfo>,
    /// False while some lines are still being traced (in the background).
    pub complete: bool,
}

/// Larger files are not blamed (the page offers the raw file instead).
pub const MAX_BLAME_BYTES: u64 = 512 * 1024;
/// A blame gives up after this long (far beyond `git blame` on any history seen).
const BACKGROUND_BUDGET: Duration = Duration::from_secs(600);
/// Blames running at once (each is a thread).
pub(super) const MAX_BLAMES: usize = 2;
const UNKNOWN: u32 = u32::MAX;
/// How often a running blame shows its progress to the pages waiting on it.
const REPORT_EVERY: Duration = Duration::from_millis(20);

impl Reader {
    /// The blame of `path` at `start`, waiting up to `wait` for it; None when the path is not
    /// a text file small enough to blame.
    pub fn blame(
        &self,
        start: &CommitId,
        path: &TreePath,
        wait: Duration,
    ) -> Result<Option<Blame>, GitError> {
        let start = start.oid()?;
        let Some((false, blob)) = self.lookup(start, path)? else {
            return Ok(None);
        };
        // A submodule's entry names a commit of another repository: nothing to blame.
        let is_blob = self
            .repository()
            .find_header(blob)
            .is_ok_and(|h| h.kind() == gix::object::Kind::Blob);
        if !is_blob {
            return Ok(None);
        }
        let Some(data) = text_bytes(self.repository(), blob)? else {
            return Ok(None);
        };
        let lines: Vec<String> = String::from_utf8_lossy(&data)
            .lines()
            .map(str::to_owned)
            .collect();
        let changed_at = self.last_change(start, path, blob)?;
        if let Some(answer) = self.blame_answer(changed_at, path) {
            return self.blame_view(lines, &answer, true).map(Some);
        }
        let line_count = lines.len();
        let dir = self.repo_dir().to_path_buf();
        let cache = Arc::clone(&self.cache);
        let job_path = path.clone();
        let job = self.cache.blames().join_or_start(
            (changed_at, path.as_str().to_owned()),
            || BlameAnswer {
                commits: Vec::new(),
                origin: vec![UNKNOWN; line_count],
            },
            move |job| {
                let Some(reader) = Reader::for_walk(&dir, cache) else {
                    return;
                };
                if let Err(e) = reader.trace(changed_at, &job_path, job) {
                    tracing::warn!(error = %e, path = job_path.as_str(), "blame failed");
                }
            },
        );
        let progress = match job {
            Some(job) => {
                job.wait(wait);
                if let Some(answer) = self.blame_answer(changed_at, path) {
                    return self.blame_view(lines, &answer, true).map(Some);
                }
                job.read(|p, _| p.clone())
            }
            None => BlameAnswer {
                commits: Vec::new(),
                origin: vec![UNKNOWN; line_count],
            },
        };
        self.blame_view(lines, &progress, false).map(Some)
    }

    fn blame_view(
        &self,
        lines: Vec<String>,
        answer: &BlameAnswer,
        complete: bool,
    ) -> Result<Blame, GitError> {
        let commits = answer
            .commits
            .iter()
            .map(|c| self.commit_summary(*c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut origin: Vec<Option<usize>> = answer
            .origin
            .iter()
            .map(|o| (*o != UNKNOWN).then_some(*o as usize))
            .collect();
        // A kept answer for another version of the file (never expected) shows as untraced.
        origin.resize(lines.len(), None);
        Ok(Blame {
            complete: complete && origin.iter().all(Option::is_some),
            lines,
            origin,
            commits,
        })
    }

    /// The commit on the first-parent history of `start` that last changed `path` (whose
    /// blob at `start` is `blob`).
    fn last_change(
        &self,
        start: ObjectId,
        path: &TreePath,
        blob: ObjectId,
    ) -> Result<ObjectId, GitError> {
        let key = Key::LastChange(start, path.as_str().to_owned());
        if let Some(Value::LastChange(c)) = self.cache.history().get(&key) {
            return Ok(c);
        }
        let commits = Commits::new(self);
        let found = first_change(
            &commits,
            start,
            path,
            blob,
            Instant::now() + BACKGROUND_BUDGET,
        )?
        .unwrap_or(start);
        self.cache.history().put(key, Value::LastChange(found));
        Ok(found)
    }

    /// The complete blame of `path` as of `changed_at` (which changed it), if known.
    fn blame_answer(&self, changed_at: ObjectId, path: &TreePath) -> Option<Arc<BlameAnswer>> {
        let history = &self.cache.history();
        let key = Key::Blame(changed_at, path.as_str().to_owned());
        if let Some(Value::Blame(a)) = history.get(&key) {
            return Some(a);
        }
        let name = KeptKey::new(Kept::Blame, changed_at, path.as_str());
        let answer = Arc::new(decode(
            &history.kept.read(self.repo_dir(), &name)?,
            path.as_str(),
        )?);
        history.put(key, Value::Blame(Arc::clone(&answer)));
        Some(answer)
    }

    /// Traces every line of `path` as of `changed_at`, reporting progress to `job`, and keeps
    /// the answer when done.
    fn trace(
        &self,
        changed_at: ObjectId,
        path: &TreePath,
        job: &Job<BlameAnswer>,
    ) -> Result<(), GitError> {
        if self.blame_answer(changed_at, path).is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + BACKGROUND_BUDGET;
        let Some((false, blob_id)) = self.lookup(changed_at, path)? else {
            return Ok(());
        };
        let Some(text) = text_bytes(self.repository(), blob_id)? else {
            return Ok(());
        };
        let commits = Commits::new(self);
        // Every complete answer is kept on disk too: the commits that have one are known now.
        let kept = self
            .cache
            .history()
            .kept
            .commits(self.repo_dir(), Kept::Blame, path.as_str())
            .into_iter()
            .collect();
        let mut walk = Walk::new(
            &commits,
            changed_at,
            path.as_str().as_bytes(),
            blob_id,
            &text,
            kept,
        )?;
        let mut answer = BlameAnswer {
            commits: Vec::new(),
            origin: vec![UNKNOWN; line_hashes(&text).count()],
        };
        let mut commit_index: HashMap<ObjectId, u32> = HashMap::new();
        let known = |c: ObjectId| self.blame_answer(c, path);
        let mut left = answer.origin.len();
        // Pages waiting on the walk see its progress every REPORT_EVERY (each report copies
        // the commits found so far).
        let mut newly = Vec::new();
        let mut reported = Instant::now();
        while left > 0 && Instant::now() <= deadline {
            let Some(found) = walk.next(&known)? else {
                break;
            };
            for (line, commit) in found {
                let c = *commit_index.entry(commit).or_insert_with(|| {
                    answer.commits.push(commit);
                    answer.commits.len() as u32 - 1
                });
                if answer.origin[line as usize] == UNKNOWN {
                    left -= 1;
                }
                answer.origin[line as usize] = c;
                newly.push(line as usize);
            }
            if !newly.is_empty() && reported.elapsed() >= REPORT_EVERY {
                report(job, &answer, &newly);
                newly.clear();
                reported = Instant::now();
            }
        }
        report(job, &answer, &newly);
        if answer.origin.contains(&UNKNOWN) {
            return Ok(()); // out of time: nothing kept, the page said what it had
        }
        self.keep_blame(changed_at, path, answer);
        Ok(())
    }

    fn keep_blame(&self, changed_at: ObjectId, path: &TreePath, answer: BlameAnswer) {
        let name = KeptKey::new(Kept::Blame, changed_at, path.as_str());
        self.cache
            .history()
            .kept
            .keep(self.repo_dir(), &name, &encode(&answer, path.as_str()));
        self.cache.history().put(
            Key::Blame(changed_at, path.as_str().to_owned()),
            Value::Blame(Arc::new(answer)),
        );
    }
}

/// Shows the lines just traced to the pages waiting on the walk.
fn report(job: &Job<BlameAnswer>, answer: &BlameAnswer, newly: &[usize]) {
    job.update(|p| {
        p.commits.clone_from(&answer.commits);
        for h in newly {
            p.origin[*h] = answer.origin[*h];
        }
    });
}

/// The first commit on the first-parent line from `start` whose first parent has another
/// version of the file (`blob` at `start`), or the root; None when out of time. Commits whose
/// filter rules the path out are passed without reading a tree.
fn first_change(
    commits: &Commits<'_>,
    start: ObjectId,
    path: &TreePath,
    blob: ObjectId,
    deadline: Instant,
) -> Result<Option<ObjectId>, GitError> {
    let mut folder = components(path);
    let name = folder.pop().unwrap_or_default();
    let keys = PathKeys::new(path.as_str().as_bytes());
    let mut trees = Trees::default();
    let mut at = start;
    while Instant::now() <= deadline {
        let node = commits.node(at)?;
        let Some(&parent) = node.parents.first() else {
            return Ok(Some(at));
        };
        if node.filter.is_none_or(|f| f.maybe_changed(&keys)) {
            let tree = commits.node(parent)?.tree;
            let listing = trees.folder(&commits.repo(), tree, &folder)?;
            if listing.and_then(|l| l.get(&name)).map(|(id, _)| id) != Some(blob) {
                return Ok(Some(at));
            }
        }
        at = parent;
    }
    Ok(None)
}

/// One hash per line, the tokens the diff compares; lines split as `str::lines` splits them,
/// so token indices are line numbers. A line's ending is part of it, as in git's diff: a last
/// line without a newline differs from the same text with one (git blames the commit that
/// added the newline).
fn line_hashes(data: &[u8]) -> impl Iterator<Item = u64> + '_ {
    use std::hash::BuildHasher;
    // 64-bit hashes stand for the lines (as SipHash's did before): two different lines
    // colliding is vanishingly unlikely. Fixed seed: tokens are only compared within one blame.
    let hasher = foldhash::fast::FixedState::with_seed(0);
    let mut rest = (!data.is_empty()).then_some(data);
    std::iter::from_fn(move || {
        let text = rest?;
        let (line, tail) = match memchr::memchr(b'\n', text) {
            Some(i) => (&text[..=i], Some(&text[i + 1..]).filter(|t| !t.is_empty())),
            None => (text, None),
        };
        rest = tail;
        Some(hasher.hash_one(line))
    })
}

/// For each line of the child, the parent's line it is unchanged from (`u32::MAX` for added
/// lines): unchanged lines pair up in order, skipping the parent's removed lines. One pass.
fn unchanged_lines_to_parent(diff: &Diff, before_len: usize, after_len: usize) -> Vec<u32> {
    let mut map = vec![u32::MAX; after_len];
    let mut before = 0u32;
    for (after, slot) in map.iter_mut().enumerate() {
        if diff.is_added(after as u32) {
            continue;
        }
        while (before as usize) < before_len && diff.is_removed(before) {
            before += 1;
        }
        *slot = before;
        before += 1;
    }
    map
}

/// A text blob's bytes; None when binary or larger than the blame limit.
fn text_bytes(repo: &gix::Repository, id: ObjectId) -> Result<Option<Vec<u8>>, GitError> {
    Ok(super::reader::blob_bytes(repo, id, MAX_BLAME_BYTES)?.filter(|data| !is_binary(data)))
}

mod format;
#[cfg(test)]
mod tests;
mod walk;
