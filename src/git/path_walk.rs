//! The walk behind a folder's last commits and a path's log: which commits changed each of a
//! few paths, in the order `git log -- PATH` finds them, with git's default history
//! simplification (at a merge, a path that is the same as in one parent follows that parent
//! only). Several paths (a folder's entries) share one walk; each queued commit carries the
//! entries still looked for through it, with their object id there.
//!
//! A commit whose changed-path filter says an entry certainly did not change passes the entry
//! to its first parent without reading a tree; only the others read the parents' copy of the
//! folder. The seen-set is pruned with generation numbers: once no queued commit has a higher
//! generation than a commit, nothing can reach that commit again.

use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;

use gix::ObjectId;

use super::GitError;
use super::changed_paths::{Filter, PathHash, PathKeys};
use super::commits::Commits;
use crate::model::TreePath;

/// Object ids are hashes already: a fast fixed hasher is enough for the walk's maps.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// An entry's object and mode in one commit's copy of the folder (None: not there).
pub(super) type Version = Option<(ObjectId, u16)>;

/// A commit that changed some of the entries (indexes into the walk's names).
#[derive(Debug)]
pub(super) struct Found {
    pub commit: ObjectId,
    pub entries: Vec<u32>,
}

/// Answers known without walking further: entry name → commit that last changed it, as of a
/// commit the walk reached (a kept answer for that commit).
pub(super) type Known<'a> =
    dyn Fn(ObjectId) -> Option<Arc<super::history_cache::FolderAnswer>> + 'a;

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    time: i64,
    /// Among equal times, first queued first (git's order).
    order: std::cmp::Reverse<u64>,
    id: ObjectId,
}

pub(super) struct PathWalk<'c, 'r> {
    commits: &'c Commits<'r>,
    /// The folder's path components, for finding it in a commit's tree.
    folder: Vec<Vec<u8>>,
    folder_keys: Option<PathKeys>,
    names: Vec<Vec<u8>>,
    /// Each entry's own hashes (its folder's are checked once per commit).
    keys: Vec<PathHash>,
    /// Stop following an entry at the first commit that changed it (last commits), or follow
    /// it to the end (a path's log).
    first_only: bool,
    queue: BinaryHeap<Queued>,
    queued: u64,
    /// The entries each queued commit carries.
    waiting: HashMap<ObjectId, Vec<(u32, Version)>>,
    /// How many queued commits carry each entry.
    carriers: Vec<u32>,
    retired: Vec<bool>,
    live: usize,
    /// Entries already sent to a commit (git marks it SEEN), by generation for pruning.
    seen: HashMap<ObjectId, Vec<u64>>,
    seen_by_generation: BTreeMap<u32, Vec<ObjectId>>,
    /// Generations of the queued commits (u32::MAX for commits not in the commit-graph).
    queued_generations: BTreeMap<u32, u32>,
    generations: HashMap<ObjectId, u32>,
    trees: Trees,
    /// The last read-ahead scan: its number and the entries it tested (a bitset), and what it
    /// found at each commit it passed.
    scan: (u64, Vec<u64>),
    scanned: HashMap<ObjectId, (u64, Vec<u32>)>,
    out: VecDeque<Found>,
}

impl<'c, 'r> PathWalk<'c, 'r> {
    /// A walk from `start` for the entries `names` of the folder at `folder`.
    pub fn new(
        commits: &'c Commits<'r>,
        start: ObjectId,
        folder: &TreePath,
        names: &[String],
        first_only: bool,
    ) -> Result<Self, GitError> {
        let folder_parts = components(folder);
        let full = |n: &str| -> Vec<u8> {
            if folder.is_root() {
                n.as_bytes().to_vec()
            } else {
                format!("{}/{n}", folder.as_str()).into_bytes()
            }
        };
        let mut walk = Self {
            commits,
            folder: folder_parts,
            folder_keys: (!folder.is_root()).then(|| PathKeys::new(folder.as_str().as_bytes())),
            names: names.iter().map(|n| n.as_bytes().to_vec()).collect(),
            keys: names
                .iter()
                .map(|n| {
                    PathKeys::new(&full(n))
                        .own()
                        .expect("an entry's path is never the root")
                })
                .collect(),
            first_only,
            queue: BinaryHeap::new(),
            queued: 0,
            waiting: HashMap::default(),
            carriers: vec![0; names.len()],
            retired: vec![false; names.len()],
            live: names.len(),
            seen: HashMap::default(),
            seen_by_generation: BTreeMap::new(),
            queued_generations: BTreeMap::new(),
            generations: HashMap::default(),
            trees: Trees::default(),
            scan: (0, Vec::new()),
            scanned: HashMap::default(),
            out: VecDeque::new(),
        };
        let node = commits.node(start)?;
        let listing = walk.folder_listing(node.tree)?;
        for e in 0..names.len() as u32 {
            let here = listing
                .as_ref()
                .and_then(|l| l.get(&walk.names[e as usize]));
            walk.route(start, e, here)?;
        }
        Ok(walk)
    }

    /// Stops looking for an entry (its answer is known).
    pub fn retire(&mut self, entry: u32) {
        if !std::mem::replace(&mut self.retired[entry as usize], true) {
            self.live -= 1;
        }
    }

    /// The next commit that changed some entries, or None when history (or every entry) is
    /// done. Each call does bounded work: at most one commit's trees are read.
    pub fn next(&mut self, known: Option<&Known<'_>>) -> Result<Option<Found>, GitError> {
        loop {
            if let Some(found) = self.out.pop_front() {
                return Ok(Some(found));
            }
            if self.live == 0 {
                return Ok(None);
            }
            let Some(q) = self.queue.pop() else {
                return Ok(None);
            };
            self.step(q.id, known)?;
            if self.out.is_empty() {
                // Nothing found here: keep going, but give the caller a chance to check its clock.
                return Ok(Some(Found {
                    commit: q.id,
                    entries: Vec::new(),
                }));
            }
        }
    }

    fn step(&mut self, mut id: ObjectId, known: Option<&Known<'_>>) -> Result<(), GitError> {
        let generation = self.generations.remove(&id).unwrap_or(u32::MAX);
        unqueue_generation(&mut self.queued_generations, generation);
        self.prune_seen();
        let mut carried = self.waiting.remove(&id).unwrap_or_default();
        for (e, _) in &carried {
            self.carriers[*e as usize] -= 1;
        }
        loop {
            carried.retain(|(e, _)| !self.retired[*e as usize]);
            if carried.is_empty() {
                return Ok(());
            }
            // An entry only this commit carries has, from here on, the answer kept for it.
            if let Some(answer) = known.and_then(|k| k(id)) {
                carried = self.take_known(&answer, carried);
                if carried.is_empty() {
                    return Ok(());
                }
            }
            let node = self.commits.node(id)?;
            if node.parents.is_empty() {
                // A root commit changed whatever it has.
                let changed: Vec<u32> = carried
                    .iter()
                    .filter(|(_, v)| v.is_some())
                    .map(|(e, _)| *e)
                    .collect();
                self.emit(id, changed);
                return Ok(());
            }
            let first = node.parents[0];
            // The filter is against the first parent: "certainly unchanged" sends an entry there.
            let entries: Vec<u32> = carried.iter().map(|(e, _)| *e).collect();
            let maybe_entries = match self.scanned_maybe(id, &entries) {
                Some(list) => list,
                None => self.maybe_changed(node.filter, &entries),
            };
            let (maybe, same): (Vec<_>, Vec<_>) = carried
                .into_iter()
                .partition(|(e, _)| maybe_entries.contains(e));
            if maybe.is_empty()
                && self.queue.is_empty()
                && !self.waiting.contains_key(&first)
                && !self.seen.contains_key(&first)
            {
                // A linear stretch with nothing else queued: go down the line without queueing
                // (no other commit in the walk can reach these any more).
                id = first;
                carried = same;
                continue;
            }
            for (e, v) in same {
                self.route(first, e, v)?;
            }
            if maybe.is_empty() {
                return Ok(());
            }
            self.read_ahead(first, &entries)?;
            return self.compare_with_parents(id, &node.parents, maybe);
        }
    }

    /// Takes the answers kept for the commit being stepped for the entries it alone carries;
    /// returns the entries still to look for.
    fn take_known(
        &mut self,
        answer: &super::history_cache::FolderAnswer,
        carried: Vec<(u32, Version)>,
    ) -> Vec<(u32, Version)> {
        let mut rest = Vec::with_capacity(carried.len());
        for (e, version) in carried {
            let name = &self.names[e as usize];
            let hit = (self.carriers[e as usize] == 0 && self.first_only)
                .then(|| {
                    answer
                        .binary_search_by(|(n, _)| n.as_bytes().cmp(name))
                        .ok()
                })
                .flatten();
            match hit {
                Some(i) => {
                    self.out.push_back(Found {
                        commit: answer[i].1,
                        entries: vec![e],
                    });
                    self.retire(e);
                }
                None => rest.push((e, version)),
            }
        }
        rest
    }

    /// The entries the filter could not rule out: compared with each parent's copy of the folder.
    fn compare_with_parents(
        &mut self,
        id: ObjectId,
        parents: &[ObjectId],
        maybe: Vec<(u32, Version)>,
    ) -> Result<(), GitError> {
        let mut parent_listings = Vec::with_capacity(parents.len());
        for p in parents {
            let tree = self.commits.node(*p)?.tree;
            parent_listings.push(self.folder_listing(tree)?);
        }
        let mut changed = Vec::new();
        for (e, here) in maybe {
            let name = &self.names[e as usize];
            let versions: Vec<Version> = parent_listings
                .iter()
                .map(|l| l.as_ref().and_then(|l| l.get(name)))
                .collect();
            // The first parent with the same version takes the entry (git's simplification).
            match versions.iter().position(|v| *v == here) {
                Some(i) => self.route(parents[i], e, here)?,
                None => {
                    changed.push(e);
                    if !self.first_only {
                        for (p, v) in parents.iter().zip(versions) {
                            self.route(*p, e, v)?;
                        }
                    }
                }
            }
        }
        self.emit(id, changed);
        Ok(())
    }

    /// The entries the filter cannot rule out (all of them without a filter).
    fn maybe_changed(&self, filter: Option<Filter<'_>>, entries: &[u32]) -> Vec<u32> {
        let Some(f) = filter else {
            return entries.to_vec();
        };
        if self
            .folder_keys
            .as_ref()
            .is_some_and(|k| !f.maybe_changed(k))
        {
            return Vec::new(); // nothing in the folder changed
        }
        entries
            .iter()
            .copied()
            .filter(|e| f.maybe_has(self.keys[*e as usize]))
            .collect()
    }

    /// Before reading the folder in `first_parent`, finds the commits just below it on the
    /// first-parent line that will need their parent's folder too (their filters say maybe),
    /// and reads those folders in the order the pack stores them cheapest (`Trees::read_ahead`).
    fn read_ahead(&mut self, first_parent: ObjectId, entries: &[u32]) -> Result<(), GitError> {
        let first_tree = self.commits.node(first_parent)?.tree;
        if self.trees.has(first_tree) {
            return Ok(());
        }
        let mut roots = vec![first_tree];
        let mut at = first_parent;
        // What the filters say here is kept for the commits' own turn.
        self.scan.0 += 1;
        self.scan.1 = vec![0; self.names.len().div_ceil(64)];
        for e in entries {
            self.scan.1[*e as usize / 64] |= 1 << (e % 64);
        }
        self.scanned.clear();
        for _ in 0..SCAN_AHEAD {
            if roots.len() >= READ_AHEAD {
                break;
            }
            let node = self.commits.node(at)?;
            let [parent] = node.parents[..] else { break };
            let maybe = self.maybe_changed(node.filter, entries);
            if !maybe.is_empty() {
                roots.push(self.commits.node(parent)?.tree);
            }
            self.scanned.insert(at, (self.scan.0, maybe));
            at = parent;
        }
        self.trees.read_ahead(self.commits, &roots, &self.folder)
    }

    /// The entries a read-ahead scan found maybe changed at `commit`, if it looked at all of
    /// `entries` there.
    fn scanned_maybe(&mut self, commit: ObjectId, entries: &[u32]) -> Option<Vec<u32>> {
        let (scan, maybe) = self.scanned.remove(&commit)?;
        let tested = |e: &u32| self.scan.1[*e as usize / 64] & (1 << (e % 64)) != 0;
        (scan == self.scan.0 && entries.iter().all(tested)).then_some(maybe)
    }

    fn emit(&mut self, commit: ObjectId, entries: Vec<u32>) {
        if entries.is_empty() {
            return;
        }
        if self.first_only {
            for e in &entries {
                self.retire(*e);
            }
        }
        self.out.push_back(Found { commit, entries });
    }

    /// Sends an entry on to `commit` (unless it was sent there before), queueing the commit.
    fn route(&mut self, commit: ObjectId, entry: u32, version: Version) -> Result<(), GitError> {
        if self.retired[entry as usize] {
            return Ok(());
        }
        let words = self.names.len().div_ceil(64);
        let seen = self.seen.entry(commit).or_default();
        let first_visit = seen.is_empty();
        if first_visit {
            seen.resize(words, 0);
        }
        let (word, bit) = (entry as usize / 64, 1u64 << (entry % 64));
        if seen[word] & bit != 0 {
            return Ok(());
        }
        seen[word] |= bit;
        self.carriers[entry as usize] += 1;
        let waiting = self.waiting.entry(commit).or_default();
        let newly_queued = waiting.is_empty();
        waiting.push((entry, version));
        if newly_queued {
            let node = self.commits.node(commit)?;
            let generation = node.generation.unwrap_or(u32::MAX);
            if first_visit {
                self.seen_by_generation
                    .entry(generation)
                    .or_default()
                    .push(commit);
            }
            *self.queued_generations.entry(generation).or_default() += 1;
            self.generations.insert(commit, generation);
            self.queued += 1;
            self.queue.push(Queued {
                time: node.time,
                order: std::cmp::Reverse(self.queued),
                id: commit,
            });
        }
        Ok(())
    }

    /// Forgets what was sent to commits no queued commit can reach (their generation is at
    /// least the highest queued one), so a walk over a long history keeps little.
    fn prune_seen(&mut self) {
        let highest = self
            .queued_generations
            .last_key_value()
            .map_or(0, |(g, _)| *g);
        if highest == u32::MAX {
            return;
        }
        let unreachable = self.seen_by_generation.split_off(&highest);
        for id in unreachable.into_values().flatten() {
            self.seen.remove(&id);
        }
    }

    fn folder_listing(&mut self, root: ObjectId) -> Result<Option<Arc<Listing>>, GitError> {
        let repo = self.commits.repo();
        self.trees.folder(&repo, root, &self.folder)
    }
}

/// How many folders a walk reads ahead at once, and how far down the line it looks for them.
pub(super) const READ_AHEAD: usize = 48;
pub(super) const SCAN_AHEAD: usize = 1024;
fn unqueue_generation(queued: &mut BTreeMap<u32, u32>, generation: u32) {
    if let Some(n) = queued.get_mut(&generation) {
        *n -= 1;
        if *n == 0 {
            queued.remove(&generation);
        }
    }
}

mod trees;
pub(super) use trees::{Listing, Trees, components};
