//! Blame, bounded in time: which commit last changed each line of a file. Walks the first-parent
//! history and, at each commit that changed the file, diffs it against its parent (imara-diff):
//! lines the commit added are its own; unchanged lines are followed into the parent's version.
//! When the time budget runs out the remaining lines are reported as not found, and the page
//! says so, instead of the request hanging on a long history.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use gix::ObjectId;
use imara_diff::{Algorithm, Diff, InternedInput};

use super::GitError;
use super::prefetch::{LOOKAHEAD, Prefetched};
use super::read::{CommitId, CommitInfo, Reader, is_binary};
use crate::model::TreePath;

pub struct Blame {
    /// The file's lines at the starting commit.
    pub lines: Vec<String>,
    /// For each line, an index into `commits`, or None if not found within the budget.
    pub origin: Vec<Option<usize>>,
    pub commits: Vec<CommitInfo>,
    /// False when the budget ran out before every line was attributed.
    pub complete: bool,
}

/// Larger files are not blamed (the page offers the raw file instead).
pub const MAX_BLAME_BYTES: u64 = 512 * 1024;

impl Reader {
    pub fn blame(
        &self,
        start: &CommitId,
        path: &TreePath,
        budget: Duration,
    ) -> Result<Option<Blame>, GitError> {
        let deadline = Instant::now() + budget;
        let start = start.oid()?;
        let Some((false, blob_id)) = self.lookup(start, path)? else {
            return Ok(None);
        };
        let Some(text) = self.text(blob_id)? else {
            return Ok(None);
        };
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut origin: Vec<Option<usize>> = vec![None; lines.len()];
        let mut commits: Vec<CommitInfo> = Vec::new();
        // tracked[i] = (line index in the version being examined, line index at the start)
        let mut tracked: Vec<(u32, usize)> = (0..lines.len()).map(|i| (i as u32, i)).collect();
        // Lines are interned by hash, and each version is hashed once: the parent examined at
        // one step is the child at the next, so its tokens are reused.
        let mut input: InternedInput<u64> = InternedInput::default();
        let mut after_hashes: Vec<u64> = line_hashes(text.as_bytes()).collect();
        let mut before_hashes: Vec<u64> = Vec::new();
        input.update_after(after_hashes.iter().copied());
        let walk = self
            .repository()
            .rev_walk([start])
            .first_parent_only()
            .all()
            .map_err(GitError::gix)?;
        let mut changes = Changes {
            walk,
            path,
            child_blob: blob_id,
            ahead: VecDeque::new(),
            done: false,
        };
        let mut blobs: Prefetched<Option<Vec<u8>>> = Prefetched::default();
        let mut complete = true;
        while !tracked.is_empty() {
            if Instant::now() > deadline {
                complete = false;
                break;
            }
            let Some(change) = changes.next(self, deadline)? else {
                // History ended, or the deadline passed while looking ahead.
                complete &= changes.done;
                break;
            };
            let commit_index = commits.len();
            let parent_data = match change.parent_blob {
                Some(id) => {
                    let older = changes.ahead.iter().map_while(|c| c.parent_blob);
                    blobs.take(self, id, older, |id| self.text_bytes(id))?
                }
                None => None,
            };
            let Some(parent_data) = parent_data else {
                // Created here (or the parent's copy is binary/huge): every remaining line is this commit's.
                commits.push(self.commit_info(change.commit)?);
                for (_, head_line) in tracked.drain(..) {
                    origin[head_line] = Some(commit_index);
                }
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
            let mut used = false;
            let mut next = Vec::with_capacity(tracked.len());
            for (line, head_line) in tracked {
                if diff.is_added(line) {
                    origin[head_line] = Some(commit_index);
                    used = true;
                } else {
                    next.push((to_parent[line as usize], head_line));
                }
            }
            tracked = next;
            if used {
                commits.push(self.commit_info(change.commit)?);
            }
            std::mem::swap(&mut input.before, &mut input.after);
            std::mem::swap(&mut before_hashes, &mut after_hashes);
        }
        Ok(Some(Blame {
            lines,
            origin,
            commits,
            complete: complete && tracked.is_empty(),
        }))
    }

    fn text(&self, id: ObjectId) -> Result<Option<String>, GitError> {
        Ok(self
            .text_bytes(id)?
            .map(|data| String::from_utf8_lossy(&data).into_owned()))
    }

    /// A text blob's bytes; None when binary or larger than the blame limit.
    fn text_bytes(&self, id: ObjectId) -> Result<Option<Vec<u8>>, GitError> {
        Ok(self
            .blob_bytes(id, MAX_BLAME_BYTES)?
            .filter(|data| !is_binary(data)))
    }
}

/// A commit on the first-parent walk that changed the file, and the file's blob in its parent
/// (None: the file was created here, or the parent has no file at that path).
struct Change {
    commit: ObjectId,
    parent_blob: Option<ObjectId>,
}

/// The first-parent walk, reduced to the commits that changed the file, looked ahead by up to
/// `LOOKAHEAD` changes.
struct Changes<'r, 'p> {
    walk: gix::revision::Walk<'r>,
    path: &'p TreePath,
    /// The file's blob in the last commit examined.
    child_blob: ObjectId,
    ahead: VecDeque<Change>,
    /// The walk is exhausted (or reached the commit that created the file).
    done: bool,
}

impl Changes<'_, '_> {
    fn next(&mut self, reader: &Reader, deadline: Instant) -> Result<Option<Change>, GitError> {
        while !self.done && self.ahead.len() < LOOKAHEAD && Instant::now() <= deadline {
            let Some(info) = self.walk.next() else {
                self.done = true;
                break;
            };
            let info = info.map_err(GitError::gix)?;
            let parent_blob = match info.parent_ids().next() {
                Some(p) => match reader.lookup(p.detach(), self.path)? {
                    Some((false, id)) => Some(id),
                    _ => None,
                },
                None => None,
            };
            if parent_blob == Some(self.child_blob) {
                continue; // this commit did not touch the file
            }
            self.ahead.push_back(Change {
                commit: info.id,
                parent_blob,
            });
            match parent_blob {
                Some(id) => self.child_blob = id,
                None => self.done = true,
            }
        }
        Ok(self.ahead.pop_front())
    }
}

/// One hash per line (without its line ending), the tokens the diff compares; the same split
/// as `str::lines`, so token indices are line numbers.
fn line_hashes(data: &[u8]) -> impl Iterator<Item = u64> + '_ {
    use std::hash::BuildHasher;
    // 64-bit hashes stand for the lines (as SipHash's did before): two different lines
    // colliding is vanishingly unlikely. Fixed seed: tokens are only compared within one blame.
    let hasher = foldhash::fast::FixedState::with_seed(0);
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut rest = (!data.is_empty()).then_some(body);
    std::iter::from_fn(move || {
        let text = rest?;
        let (line, tail) = match memchr::memchr(b'\n', text) {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        rest = tail;
        Some(hasher.hash_one(line.strip_suffix(b"\r").unwrap_or(line)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_hashes_split_like_str_lines() {
        for text in [
            "", "\n", "a", "a\n", "a\n\n", "a\r\nb", "\n\nx\n", "a\nb\r\n",
        ] {
            use std::hash::BuildHasher;
            let hasher = foldhash::fast::FixedState::with_seed(0);
            let ours: Vec<u64> = line_hashes(text.as_bytes()).collect();
            let expected: Vec<u64> = text
                .lines()
                .map(|l| hasher.hash_one(l.as_bytes()))
                .collect();
            assert_eq!(ours, expected, "{text:?}");
        }
    }
}
