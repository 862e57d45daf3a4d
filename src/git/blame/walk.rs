//! The blame walk over a history with merges, as `git blame` walks it (blame.c's `pass_blame`).
//! Each suspect is an origin: a commit, a path and the file's blob there, with the lines (at
//! the start) it still has to account for. Newest commit first, each origin is settled:
//!
//! - a parent with the very same blob at the path takes every line (the first such parent in
//!   order: git's history simplification, TREESAME). The changed-path filter answers for the
//!   first parent without reading a tree; other parents' copies are looked up by tree id,
//!   folder by folder, in listings kept by id;
//! - where no parent has the path, rename detection (`renames`) looks for the file it came
//!   from, and an exact copy takes every line under its old name;
//! - otherwise each parent in order (one per distinct blob) is diffed with the origin and takes
//!   the lines it has unchanged; the lines left are the commit's own.
//!
//! Origins meeting at the same (commit, path) are merged, so a history that splits at a merge
//! changed on both sides walks the shared part once. Along a stretch where one origin is the
//! only suspect, the walk looks ahead (`ahead`) so the versions it will diff are read oldest
//! first (`prefetch`), each one delta on top of the one before.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashSet};

use gix::ObjectId;
use imara_diff::{Algorithm, Diff, InternedInput, Token};

use super::super::GitError;
use super::super::changed_paths::PathKeys;
use super::super::commits::Commits;
use super::super::path_walk::{READ_AHEAD, SCAN_AHEAD, Trees};
use super::super::prefetch::{LOOKAHEAD, Prefetched};
use super::super::renames::renamed_from;
use super::{line_hashes, text_bytes, unchanged_lines_to_parent};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// Decisions computed ahead of their turn are forgotten past this many (lines all blamed
/// before the walk got there leave theirs behind).
const MAX_AHEAD: usize = 1 << 16;

/// A path the walk follows: the blamed file's own, or an older name of it.
struct Followed {
    folder: Vec<Vec<u8>>,
    name: Vec<u8>,
    keys: PathKeys,
}

/// A version of the file, hashed by line and interned for the diff.
struct Version {
    hashes: Vec<u64>,
    tokens: Vec<Token>,
    /// The interner generation the tokens belong to.
    epoch: u64,
}

struct Origin {
    blob: ObjectId,
    regular: bool,
    /// (line in this blob, line at the start)
    lines: Vec<(u32, u32)>,
    version: Option<Version>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    time: i64,
    /// Among equal times, first queued first.
    order: Reverse<u64>,
    commit: ObjectId,
    path: u32,
}

/// What a commit does with an origin's lines.
#[derive(Clone)]
enum Decision {
    /// A root commit: every line is its own.
    Root,
    /// This parent has the same blob (at this path): every line goes there.
    Whole(ObjectId, u32),
    /// Diff with each of these (parent, path, blob, regular file), in order.
    Diff(Vec<(ObjectId, u32, ObjectId, bool)>),
}

/// An entry's state in one commit's tree.
enum Lookup {
    Absent,
    /// There, but not the same kind of file (git's type change).
    Other,
    Blob(ObjectId),
}

pub(super) struct Walk<'c, 'r> {
    commits: &'c Commits<'r>,
    start: ObjectId,
    trees: Trees,
    paths: Vec<Followed>,
    path_ids: HashMap<Vec<u8>, u32>,
    queue: BinaryHeap<Queued>,
    order: u64,
    pending: HashMap<(ObjectId, u32), Origin>,
    ahead: HashMap<(ObjectId, u32), Decision>,
    /// Commits with a kept blame of the file's own path.
    kept: HashSet<ObjectId>,
    input: InternedInput<u64>,
    epoch: u64,
    blobs: Prefetched<Option<Vec<u8>>>,
}

impl<'c, 'r> Walk<'c, 'r> {
    /// A walk for every line of `text`, the blob `blob` at `path` in `start`.
    pub fn new(
        commits: &'c Commits<'r>,
        start: ObjectId,
        path: &[u8],
        blob: ObjectId,
        text: &[u8],
        kept: HashSet<ObjectId>,
    ) -> Result<Self, GitError> {
        let mut walk = Self {
            commits,
            start,
            trees: Trees::default(),
            paths: Vec::new(),
            path_ids: HashMap::default(),
            queue: BinaryHeap::new(),
            order: 0,
            pending: HashMap::default(),
            ahead: HashMap::default(),
            kept,
            input: InternedInput::default(),
            epoch: 0,
            blobs: Prefetched::default(),
        };
        let p = walk.intern_path(path);
        let tree = commits.node(start)?.tree;
        let regular = !matches!(walk.blob_in(tree, p, true)?, Lookup::Other);
        let hashes: Vec<u64> = line_hashes(text).collect();
        let lines = (0..hashes.len() as u32).map(|l| (l, l)).collect();
        let version = Version {
            hashes,
            tokens: Vec::new(),
            epoch: u64::MAX,
        };
        walk.pass(start, p, blob, regular, lines, Some(version))?;
        Ok(walk)
    }

    /// Settles the newest origin: the lines it blamed, as (line at the start, commit), possibly
    /// none. None when every line is blamed. `known` gives the kept blame of the file's own
    /// path at a commit, which answers every line that reaches it.
    pub fn next(
        &mut self,
        known: &dyn Fn(ObjectId) -> Option<std::sync::Arc<super::BlameAnswer>>,
    ) -> Result<Option<Vec<(u32, ObjectId)>>, GitError> {
        let Some(q) = self.queue.pop() else {
            return Ok(None);
        };
        let Some(origin) = self.pending.remove(&(q.commit, q.path)) else {
            return Ok(Some(Vec::new()));
        };
        if q.path == 0
            && q.commit != self.start
            && self.kept.contains(&q.commit)
            && let Some(answer) = known(q.commit)
        {
            let mut found = Vec::with_capacity(origin.lines.len());
            for (line, start_line) in &origin.lines {
                match answer.origin.get(*line as usize) {
                    Some(&o) if o != super::UNKNOWN => {
                        found.push((*start_line, answer.commits[o as usize]));
                    }
                    _ => {} // never expected: a kept answer is complete
                }
            }
            return Ok(Some(found));
        }
        let decision = match self.ahead.remove(&(q.commit, q.path)) {
            Some(d) => d,
            None => self.decide(q.commit, q.path, origin.blob, origin.regular)?,
        };
        match decision {
            Decision::Root => Ok(Some(
                origin.lines.iter().map(|(_, s)| (*s, q.commit)).collect(),
            )),
            Decision::Whole(parent, path) => {
                let Origin {
                    blob,
                    regular,
                    lines,
                    version,
                } = origin;
                self.pass(parent, path, blob, regular, lines, version)?;
                Ok(Some(Vec::new()))
            }
            Decision::Diff(parents) => self.diff(q.commit, origin, parents).map(Some),
        }
    }

    /// Hands lines to an origin, queueing it unless it is queued already.
    fn pass(
        &mut self,
        commit: ObjectId,
        path: u32,
        blob: ObjectId,
        regular: bool,
        lines: Vec<(u32, u32)>,
        version: Option<Version>,
    ) -> Result<(), GitError> {
        match self.pending.entry((commit, path)) {
            Entry::Occupied(mut o) => {
                let o = o.get_mut();
                o.lines.extend(lines);
                if o.version.is_none() {
                    o.version = version;
                }
            }
            Entry::Vacant(v) => {
                v.insert(Origin {
                    blob,
                    regular,
                    lines,
                    version,
                });
                let time = self.commits.node(commit)?.time;
                self.order += 1;
                self.queue.push(Queued {
                    time,
                    order: Reverse(self.order),
                    commit,
                    path,
                });
            }
        }
        Ok(())
    }

    /// What `commit` does with the lines of its blob `blob` at `path` (git's two passes over
    /// the parents: same path, then renames).
    fn decide(
        &mut self,
        commit: ObjectId,
        path: u32,
        blob: ObjectId,
        regular: bool,
    ) -> Result<Decision, GitError> {
        let node = self.commits.node(commit)?;
        if node.parents.is_empty() {
            return Ok(Decision::Root);
        }
        if node
            .filter
            .is_some_and(|f| !f.maybe_changed(&self.paths[path as usize].keys))
        {
            return Ok(Decision::Whole(node.parents[0], path));
        }
        let (parents, tree) = (node.parents, node.tree);
        self.read_ahead(parents[0], path)?;
        let mut found = Vec::with_capacity(parents.len());
        for parent in &parents {
            let parent_tree = self.commits.node(*parent)?.tree;
            let here = self.blob_in(parent_tree, path, regular)?;
            if matches!(here, Lookup::Blob(b) if b == blob) {
                return Ok(Decision::Whole(*parent, path));
            }
            found.push(here);
        }
        let mut candidates: Vec<Option<(u32, ObjectId, bool)>> = found
            .iter()
            .map(|l| match l {
                Lookup::Blob(b) => Some((path, *b, regular)),
                _ => None,
            })
            .collect();
        for (i, parent) in parents.iter().enumerate() {
            if !matches!(found[i], Lookup::Absent) {
                continue;
            }
            let parent_tree = self.commits.node(*parent)?.tree;
            let full = self.full_path(path);
            let Some(old) = renamed_from(
                self.commits,
                &mut self.trees,
                parent_tree,
                tree,
                &full,
                blob,
                regular,
            )?
            else {
                continue;
            };
            let old_path = self.intern_path(&old.path);
            if old.blob == blob {
                return Ok(Decision::Whole(*parent, old_path));
            }
            candidates[i] = Some((old_path, old.blob, old.regular));
        }
        let mut diff_with: Vec<(ObjectId, u32, ObjectId, bool)> = Vec::new();
        for (parent, candidate) in parents.iter().zip(candidates) {
            let Some((p, b, r)) = candidate else { continue };
            if diff_with.iter().all(|d| d.2 != b) {
                diff_with.push((*parent, p, b, r));
            }
        }
        Ok(Decision::Diff(diff_with))
    }

    /// Diffs the origin with each parent in turn; the lines no parent has are `commit`'s.
    fn diff(
        &mut self,
        commit: ObjectId,
        origin: Origin,
        parents: Vec<(ObjectId, u32, ObjectId, bool)>,
    ) -> Result<Vec<(u32, ObjectId)>, GitError> {
        let mut remaining = origin.lines;
        let mut child = match origin.version {
            Some(v) => Some(v),
            None => self.read_version(origin.blob, None)?,
        };
        for (parent, path, blob, regular) in parents {
            let Some(child) = child.as_mut() else { break };
            if remaining.is_empty() {
                break;
            }
            let Some(mut before) = self.read_version(blob, Some((parent, path, regular)))? else {
                continue; // binary or too large there: nothing to follow into it
            };
            let live = before.hashes.len() + child.hashes.len();
            if self.input.interner.num_tokens() as usize > 4 * live + 1024 {
                // A small table stays in the CPU cache, and the histogram diff sizes its tables
                // by the number of distinct tokens.
                self.input.clear();
                self.epoch += 1;
            }
            self.intern(child);
            self.intern(&mut before);
            std::mem::swap(&mut self.input.before, &mut before.tokens);
            std::mem::swap(&mut self.input.after, &mut child.tokens);
            let mut diff = Diff::compute(Algorithm::Histogram, &self.input);
            diff.postprocess_no_heuristic(&self.input);
            let to_parent =
                unchanged_lines_to_parent(&diff, self.input.before.len(), self.input.after.len());
            std::mem::swap(&mut self.input.before, &mut before.tokens);
            std::mem::swap(&mut self.input.after, &mut child.tokens);
            let mut moved = Vec::new();
            remaining.retain(|&(line, start_line)| {
                if diff.is_added(line) {
                    return true;
                }
                moved.push((to_parent[line as usize], start_line));
                false
            });
            if !moved.is_empty() {
                self.pass(parent, path, blob, regular, moved, Some(before))?;
            }
        }
        Ok(remaining.into_iter().map(|(_, s)| (s, commit)).collect())
    }

    /// Reads and hashes a version of the file; `next` is the origin it will belong to, whose
    /// history ahead says which older versions to read first. None when it is not text.
    fn read_version(
        &mut self,
        blob: ObjectId,
        next: Option<(ObjectId, u32, bool)>,
    ) -> Result<Option<Version>, GitError> {
        let older = match next {
            Some((commit, path, regular)) if !self.blobs.has(blob) => {
                self.upcoming(commit, path, blob, regular)?
            }
            _ => Vec::new(),
        };
        let data = {
            let repo = self.commits.repo();
            self.blobs
                .take(&repo, blob, older.into_iter(), |id| text_bytes(&repo, id))?
        };
        Ok(data.map(|data| Version {
            hashes: line_hashes(&data).collect(),
            tokens: Vec::new(),
            epoch: u64::MAX,
        }))
    }

    /// The older blobs the walk will diff after reaching (commit, path), along the stretch where
    /// each step leads to one parent; decisions taken on the way are kept for their turn.
    fn upcoming(
        &mut self,
        mut commit: ObjectId,
        mut path: u32,
        mut blob: ObjectId,
        mut regular: bool,
    ) -> Result<Vec<ObjectId>, GitError> {
        if self.ahead.len() > MAX_AHEAD {
            self.ahead.clear();
        }
        let mut out = Vec::new();
        for _ in 0..SCAN_AHEAD {
            if out.len() >= LOOKAHEAD {
                break;
            }
            let decision = match self.ahead.get(&(commit, path)) {
                Some(d) => d.clone(),
                None => {
                    let d = self.decide(commit, path, blob, regular)?;
                    self.ahead.insert((commit, path), d.clone());
                    d
                }
            };
            match decision {
                Decision::Whole(p, q) => (commit, path) = (p, q),
                Decision::Diff(v) if v.len() == 1 => {
                    (commit, path, blob, regular) = v[0];
                    out.push(blob);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Before reading the path's folder in `first_parent`, reads it in the trees the commits
    /// just below on the first-parent line will need (every parent's, where their filters
    /// say maybe), in the order the pack stores them cheapest (`Trees::read_ahead`).
    fn read_ahead(&mut self, first_parent: ObjectId, path: u32) -> Result<(), GitError> {
        let first_tree = self.commits.node(first_parent)?.tree;
        if self.trees.has(first_tree) {
            return Ok(());
        }
        let keys = &self.paths[path as usize].keys;
        let mut roots = vec![first_tree];
        let mut at = first_parent;
        for _ in 0..SCAN_AHEAD {
            if roots.len() >= READ_AHEAD {
                break;
            }
            let node = self.commits.node(at)?;
            let Some(&next) = node.parents.first() else {
                break;
            };
            if node.filter.is_none_or(|f| f.maybe_changed(keys)) {
                for p in &node.parents {
                    roots.push(self.commits.node(*p)?.tree);
                }
            }
            at = next;
        }
        let folder = &self.paths[path as usize].folder;
        self.trees.read_ahead(self.commits, &roots, folder)
    }

    fn intern(&mut self, v: &mut Version) {
        if v.epoch != self.epoch {
            let interner = &mut self.input.interner;
            v.tokens = v.hashes.iter().map(|h| interner.intern(*h)).collect();
            v.epoch = self.epoch;
        }
    }

    /// The path's entry in the commit tree `tree`; `regular` is the origin's kind of file.
    fn blob_in(&mut self, tree: ObjectId, path: u32, regular: bool) -> Result<Lookup, GitError> {
        let followed = &self.paths[path as usize];
        let repo = self.commits.repo();
        let Some(listing) = self.trees.folder(&repo, tree, &followed.folder)? else {
            return Ok(Lookup::Absent);
        };
        Ok(match listing.get(&followed.name) {
            None => Lookup::Absent,
            Some((id, mode)) => match mode & 0o170000 {
                0o040000 => Lookup::Absent,
                0o100000 if regular => Lookup::Blob(id),
                0o120000 if !regular => Lookup::Blob(id),
                _ => Lookup::Other,
            },
        })
    }

    fn intern_path(&mut self, path: &[u8]) -> u32 {
        if let Some(&p) = self.path_ids.get(path) {
            return p;
        }
        let mut folder: Vec<Vec<u8>> = path.split(|b| *b == b'/').map(<[u8]>::to_vec).collect();
        let name = folder.pop().unwrap_or_default();
        self.paths.push(Followed {
            folder,
            name,
            keys: PathKeys::new(path),
        });
        let p = self.paths.len() as u32 - 1;
        self.path_ids.insert(path.to_vec(), p);
        p
    }

    fn full_path(&self, path: u32) -> Vec<u8> {
        let f = &self.paths[path as usize];
        let mut full = f.folder.join(&b'/');
        if !full.is_empty() {
            full.push(b'/');
        }
        full.extend_from_slice(&f.name);
        full
    }
}
