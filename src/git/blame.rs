//! Blame, bounded in time: which commit last changed each line of a file. Walks the first-parent
//! history and, at each commit that changed the file, diffs it against its parent (imara-diff):
//! lines the commit added are its own; unchanged lines are followed into the parent's version.
//! When the time budget runs out the remaining lines are reported as not found, and the page
//! says so, instead of the request hanging on a long history.

use std::time::{Duration, Instant};

use gix::ObjectId;
use imara_diff::{Algorithm, Diff, InternedInput};

use super::GitError;
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
        input.update_after(line_hashes(text.as_bytes()));
        let mut current_blob = blob_id;
        let walk = self
            .repository()
            .rev_walk([start])
            .first_parent_only()
            .all()
            .map_err(GitError::gix)?;
        let mut complete = true;
        for info in walk {
            if tracked.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                complete = false;
                break;
            }
            let info = info.map_err(GitError::gix)?;
            let parent = info.parent_ids().next().map(|p| p.detach());
            let parent_blob = match parent {
                Some(p) => match self.lookup(p, path)? {
                    Some((false, id)) => Some(id),
                    _ => None,
                },
                None => None,
            };
            if parent_blob == Some(current_blob) {
                continue; // this commit did not touch the file
            }
            let commit_index = commits.len();
            let parent_data = match parent_blob {
                Some(id) => self.text_bytes(id)?,
                None => None,
            };
            let Some(parent_data) = parent_data else {
                // Created here (or the parent's copy is binary/huge): every remaining line is this commit's.
                commits.push(self.info(&info.object().map_err(GitError::gix)?)?);
                for (_, head_line) in tracked.drain(..) {
                    origin[head_line] = Some(commit_index);
                }
                break;
            };
            input.update_before(line_hashes(&parent_data));
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
                commits.push(self.info(&info.object().map_err(GitError::gix)?)?);
            }
            std::mem::swap(&mut input.before, &mut input.after);
            current_blob = parent_blob.expect("parent data implies a parent blob");
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

/// One hash per line (without its line ending), the tokens the diff compares; the same split
/// as `str::lines`, so token indices are line numbers.
fn line_hashes(data: &[u8]) -> impl Iterator<Item = u64> + '_ {
    use std::hash::{Hash, Hasher};
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let lines = if data.is_empty() {
        None
    } else {
        Some(body.split(|b| *b == b'\n'))
    };
    lines.into_iter().flatten().map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        line.hash(&mut h);
        h.finish()
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
