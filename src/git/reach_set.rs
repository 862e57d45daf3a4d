//! The kept answers of `reach`: per repository, the set of commits its refs reached at one
//! state of the refs and the commit-graph. Data only; the walk that fills a set is `reach`'s.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use gix::ObjectId;

use super::graph::{CommitGraph, Stamp};

/// Repositories whose sets are kept (a set is a bit per commit of the commit-graph: 10 KB
/// for 80,000 commits).
const KEPT_REPOS: usize = 64;
/// The kept sets, one slot per repository; a slot's lock is held while its set is computed,
/// so requests arriving meanwhile wait for it instead of walking too.
#[derive(Default)]
pub(super) struct Reachability {
    slots: Mutex<HashMap<PathBuf, Slot>>,
}

/// One repository's kept set, if any.
pub(super) type Slot = Arc<Mutex<Option<ReachSet>>>;

impl Reachability {
    pub(super) fn slot(&self, repo: &Path) -> Slot {
        let mut slots = self.slots.lock().expect("never poisoned");
        if slots.len() >= KEPT_REPOS && !slots.contains_key(repo) {
            slots.clear();
        }
        Arc::clone(slots.entry(repo.to_path_buf()).or_default())
    }
}

pub(super) type Sources = Vec<(PathBuf, Option<SystemTime>)>;

/// The commits the refs reached at one state of the refs and the commit-graph.
pub(super) struct ReachSet {
    pub refs: Sources,
    pub graph: Option<Stamp>,
    /// One bit per commit-graph position.
    pub bits: Vec<u64>,
    /// Reached commits the commit-graph does not hold (pushed since it was written).
    pub outside: HashSet<ObjectId>,
    /// The walk stopped at `reach::MAX_OBJECT_READS`.
    pub cut: bool,
}

impl ReachSet {
    /// Whether the set holds `id`; `graph` is the one the set was computed with.
    pub(super) fn contains(&self, graph: Option<&CommitGraph>, id: &gix::oid) -> bool {
        match graph.and_then(|g| g.position(id)) {
            Some(pos) => bit(&self.bits, pos),
            None => self.outside.contains(id),
        }
    }
}

pub(super) fn bit(bits: &[u64], pos: u32) -> bool {
    let pos = pos as usize;
    bits.get(pos / 64)
        .is_some_and(|w| w & (1 << (pos % 64)) != 0)
}

/// Sets the bit; false if it was set already.
pub(super) fn set_bit(bits: &mut [u64], pos: u32) -> bool {
    let pos = pos as usize;
    let Some(word) = bits.get_mut(pos / 64) else {
        return false;
    };
    let mask = 1 << (pos % 64);
    let fresh = *word & mask == 0;
    *word |= mask;
    fresh
}
