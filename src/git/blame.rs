//! Blame: which commit last changed each line of a file, as `git blame` says for a linear
//! history. Walks the first-parent history and, at each commit that changed the file, diffs it
//! against its parent (imara-diff): lines the commit added are its own; unchanged lines are
//! followed into the parent's version. Commits whose changed-path filter says they did not
//! touch the file are skipped without reading a tree.
//!
//! A file's blame at a commit is its blame at the commit that last changed it, so answers are
//! kept by that commit (in memory and on disk): a push that does not touch the file reuses
//! it, one that does costs one diff, since the walk stops at the first version whose blame is
//! kept. The walk runs once per (commit, file) on its own thread; a page waits for it up to
//! its budget, then shows the lines traced so far and completes on a later load.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gix::ObjectId;
use imara_diff::{Algorithm, Diff, InternedInput};

use super::GitError;
use super::changed_paths::PathKeys;
use super::commits::Commits;
use super::history_cache::{BlameAnswer, Kept, KeptKey, Key, Value, kept_body, kept_header};
use super::jobs::Job;
use super::path_walk::{Trees, components};
use super::prefetch::{LOOKAHEAD, Prefetched};
use super::reader::{CommitId, CommitInfo, Reader, is_binary};
use crate::model::TreePath;
use format::{Incremental, MAX_GIT_BLAME_OUTPUT, decode, encode};

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
        let mut changes = Changes::new(&commits, start, path, blob);
        let found = changes
            .next(Instant::now() + BACKGROUND_BUDGET)?
            .map_or(start, |c| c.commit);
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
        let mut after_hashes: Vec<u64> = line_hashes(&text).collect();
        let mut answer = BlameAnswer {
            commits: Vec::new(),
            origin: vec![UNKNOWN; after_hashes.len()],
        };
        let mut commit_index: HashMap<ObjectId, u32> = HashMap::new();
        let mut index_of = |answer: &mut BlameAnswer, c: ObjectId| -> u32 {
            *commit_index.entry(c).or_insert_with(|| {
                answer.commits.push(c);
                answer.commits.len() as u32 - 1
            })
        };
        // tracked[i] = (line index in the version being examined, line index at the start)
        let mut tracked: Vec<(u32, usize)> =
            (0..after_hashes.len()).map(|i| (i as u32, i)).collect();
        // Lines are interned by hash, and each version is hashed once: the parent examined at
        // one step is the child at the next, so its tokens are reused.
        let mut input: InternedInput<u64> = InternedInput::default();
        let mut before_hashes: Vec<u64> = Vec::new();
        input.update_after(after_hashes.iter().copied());
        let commits = Commits::new(self);
        let mut changes = Changes::new(&commits, changed_at, path, blob_id);
        let mut blobs: Prefetched<Option<Vec<u8>>> = Prefetched::default();
        while !tracked.is_empty() {
            let Some(change) = changes.next(deadline)? else {
                break; // out of time (history itself always ends at a commit that created the file)
            };
            // The version this commit made has a kept blame: the rest is known.
            if change.commit != changed_at
                && let Some(kept) = self.blame_answer(change.commit, path)
            {
                for (line, head_line) in tracked.drain(..) {
                    if let Some(&o) = kept.origin.get(line as usize)
                        && o != UNKNOWN
                    {
                        answer.origin[head_line] = index_of(&mut answer, kept.commits[o as usize]);
                    }
                }
                break;
            }
            // git gives a merge's lines to whichever parent has them; this walk follows the
            // first parent only, so git blames the rest (lines traced so far stay shown).
            if change.merge
                && let Some(git) = &self.cache.git()
            {
                return self.trace_with_git(git, changed_at, path, job, deadline);
            }
            let parent_data = match change.parent_blob {
                Some(id) => {
                    let older = changes.ahead.iter().map_while(|c| c.parent_blob);
                    {
                        let repo = commits.repo();
                        blobs.take(&repo, id, older, |id| text_bytes(&repo, id))?
                    }
                }
                None => None,
            };
            let Some(parent_data) = parent_data else {
                // Created here (or the parent's copy is binary/huge): every remaining line is this commit's.
                let c = index_of(&mut answer, change.commit);
                let newly: Vec<usize> = tracked.drain(..).map(|(_, h)| h).collect();
                for h in &newly {
                    answer.origin[*h] = c;
                }
                report(job, &answer, &newly);
                break;
            };
            before_hashes.clear();
            before_hashes.extend(line_hashes(&parent_data));
            // The interner keeps every line of every version seen; once it is much larger than
            // the two versions compared, start it afresh: a small table stays in the CPU cache
            // and the histogram diff sizes its tables by the number of distinct tokens.
            let live = before_hashes.len() + after_hashes.len();
            if input.interner.num_tokens() as usize > 4 * live + 1024 {
                input.clear();
                input.update_after(after_hashes.iter().copied());
            }
            input.update_before(before_hashes.iter().copied());
            let mut diff = Diff::compute(Algorithm::Histogram, &input);
            diff.postprocess_no_heuristic(&input);
            let to_parent = unchanged_lines_to_parent(&diff, input.before.len(), input.after.len());
            let mut newly = Vec::new();
            let mut next = Vec::with_capacity(tracked.len());
            for (line, head_line) in tracked {
                if diff.is_added(line) {
                    newly.push(head_line);
                } else {
                    next.push((to_parent[line as usize], head_line));
                }
            }
            tracked = next;
            if !newly.is_empty() {
                let c = index_of(&mut answer, change.commit);
                for h in &newly {
                    answer.origin[*h] = c;
                }
                report(job, &answer, &newly);
            }
            std::mem::swap(&mut input.before, &mut input.after);
            std::mem::swap(&mut before_hashes, &mut after_hashes);
        }
        if answer.origin.contains(&UNKNOWN) {
            return Ok(()); // out of time: nothing kept, the page said what it had
        }
        self.keep_blame(changed_at, path, answer);
        Ok(())
    }

    /// The blame `git blame --incremental` gives, each run of lines shown as git finds it,
    /// and kept when git finishes.
    fn trace_with_git(
        &self,
        git: &super::GitRunner,
        changed_at: ObjectId,
        path: &TreePath,
        job: &Job<BlameAnswer>,
        deadline: Instant,
    ) -> Result<(), GitError> {
        let lines = job.read(|p, _| p.origin.len());
        let mut answer = BlameAnswer {
            commits: Vec::new(),
            origin: vec![UNKNOWN; lines],
        };
        let mut index: HashMap<ObjectId, u32> = HashMap::new();
        let mut newly: Vec<usize> = Vec::new();
        let dir = super::RepoDir(self.repo_dir().to_path_buf());
        let finished = git
            .blame_incremental(
                &dir,
                &changed_at.to_hex().to_string(),
                path.as_str(),
                deadline,
                MAX_GIT_BLAME_OUTPUT,
                |line| match Incremental::parse(line) {
                    Incremental::Run {
                        commit,
                        first,
                        count,
                    } => {
                        let c = *index.entry(commit).or_insert_with(|| {
                            answer.commits.push(commit);
                            answer.commits.len() as u32 - 1
                        });
                        let end = first.saturating_add(count).min(lines);
                        for l in first.min(end)..end {
                            answer.origin[l] = c;
                            newly.push(l);
                        }
                    }
                    // Each run's headers end with its file name: the run is complete.
                    Incremental::Filename => {
                        report(job, &answer, &newly);
                        newly.clear();
                    }
                    Incremental::Other => {}
                },
            )
            .map_err(|e| GitError::Io(std::io::Error::other(e)))?;
        if !finished || answer.origin.contains(&UNKNOWN) {
            tracing::warn!(path = path.as_str(), "git blame did not finish");
            return Ok(());
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

/// A commit on the first-parent walk that changed the file, and the file's blob in its parent
/// (None: the file was created here, or the parent has no file at that path).
struct Change {
    commit: ObjectId,
    parent_blob: Option<ObjectId>,
    /// The commit is a merge: its other parents may have given it the lines it changed.
    merge: bool,
}

/// The first-parent walk, reduced to the commits that changed the file, looked ahead by up to
/// `LOOKAHEAD` changes.
struct Changes<'c, 'r> {
    commits: &'c Commits<'r>,
    folder: Vec<Vec<u8>>,
    name: Vec<u8>,
    keys: PathKeys,
    trees: Trees,
    /// The next commit to examine.
    next: Option<ObjectId>,
    /// The file's blob in the last commit examined.
    child_blob: ObjectId,
    ahead: VecDeque<Change>,
}

impl<'c, 'r> Changes<'c, 'r> {
    fn new(commits: &'c Commits<'r>, start: ObjectId, path: &TreePath, blob: ObjectId) -> Self {
        let mut folder = components(path);
        let name = folder.pop().unwrap_or_default();
        Self {
            commits,
            folder,
            name,
            keys: PathKeys::new(path.as_str().as_bytes()),
            trees: Trees::default(),
            next: Some(start),
            child_blob: blob,
            ahead: VecDeque::new(),
        }
    }

    fn next(&mut self, deadline: Instant) -> Result<Option<Change>, GitError> {
        while self.ahead.len() < LOOKAHEAD && Instant::now() <= deadline {
            let Some(id) = self.next else { break };
            let node = self.commits.node(id)?;
            let Some(&parent) = node.parents.first() else {
                self.next = None;
                self.ahead.push_back(Change {
                    commit: id,
                    parent_blob: None,
                    merge: false,
                });
                break;
            };
            self.next = Some(parent);
            // Certainly not touched here: no tree to read.
            if node.filter.is_some_and(|f| !f.maybe_changed(&self.keys)) {
                continue;
            }
            let tree = self.commits.node(parent)?.tree;
            if !self.trees.has(tree) {
                self.read_ahead(parent, tree)?;
            }
            let listing = self
                .trees
                .folder(&self.commits.repo(), tree, &self.folder)?;
            let parent_blob = match listing {
                Some(listing) => match listing.get(&self.name) {
                    Some((id, mode)) if mode & 0o170000 != 0o040000 && mode != 0o160000 => Some(id),
                    _ => None,
                },
                None => None,
            };
            if parent_blob == Some(self.child_blob) {
                continue; // this commit did not touch the file
            }
            self.ahead.push_back(Change {
                commit: id,
                parent_blob,
                merge: node.parents.len() > 1,
            });
            match parent_blob {
                Some(id) => self.child_blob = id,
                None => {
                    self.next = None;
                    break;
                }
            }
        }
        Ok(self.ahead.pop_front())
    }

    /// Reads the trees the next commits down the line will need along with `tree` (the
    /// parent's), in the pack's cheap order (see `Trees::read_ahead`).
    fn read_ahead(&mut self, parent: ObjectId, tree: ObjectId) -> Result<(), GitError> {
        let mut roots = vec![tree];
        let mut at = parent;
        for _ in 0..super::path_walk::SCAN_AHEAD {
            if roots.len() >= super::path_walk::READ_AHEAD {
                break;
            }
            let node = self.commits.node(at)?;
            let [next] = node.parents[..] else { break };
            if node.filter.is_none_or(|f| f.maybe_changed(&self.keys)) {
                roots.push(self.commits.node(next)?.tree);
            }
            at = next;
        }
        self.trees.read_ahead(self.commits, &roots, &self.folder)
    }
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
