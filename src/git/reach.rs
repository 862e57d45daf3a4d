//! Which commits the repository's refs reach: pages and the API serve only those. A deleted
//! branch's commits stay on disk until upkeep prunes them (`upkeep_prune_after_days`), and
//! git resolves any id it has, so without this check `/raw/eb82/creds.txt` served a deleted
//! branch's secret to anyone who could read the repository (256 four-character prefixes
//! scanned in 4 s).
//!
//! Every ref counts (branches, tags, `refs/pull/…`, anything under `refs/`), and HEAD: what
//! git's own gc keeps. The answer for a whole repository is one set, computed once per state
//! of its refs and commit-graph: a walk from every ref through the commit-graph by positions
//! (no commit decoded, no id looked up; 80,000 commits in milliseconds), marking a bit per
//! position, plus the commits pushed since the commit-graph was written, decoded from the
//! objects. A check is then a lookup. The refs' state is the modification times of the ref
//! folders, `packed-refs` and `HEAD` (git writes every ref through a lock file renamed into
//! its folder), as `ref_names` keeps its listings; a state younger than `RACY` is used once
//! and not kept.
//!
//! Routes that take an id accept only commits (`resolve` peels to a commit, the commit page
//! reads a commit): a tree or blob is reached by a path inside a reachable commit, never by
//! its own id, so checking commits is enough.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use gix::ObjectId;

use super::GitError;
use super::graph::{CommitGraph, Stamp};
use super::reach_set::{ReachSet, Sources, set_bit};
use super::reader::Reader;

/// Ref entries listed plus commits decoded outside the commit-graph, per computed set. Past
/// it the set is cut and what it missed counts as unreachable (refused, never served): a
/// repository pushed with more commits than this since its last upkeep waits for upkeep's
/// commit-graph, which the walk then reads without decoding.
pub(super) const MAX_OBJECT_READS: usize = 200_000;
/// Ref folders and their entries read for the refs' state at most; past it the state is not
/// trusted (the set is recomputed on each check rather than kept on a partial state).
const MAX_REF_ENTRIES: usize = 20_000;
const MAX_DEPTH: usize = 16;
/// A ref folder changed this recently may change again unseen within one clock tick.
const RACY: Duration = Duration::from_secs(2);

impl Reader {
    /// Whether a ref of the repository reaches the commit `id` (see the module's note).
    pub fn reaches(&self, id: ObjectId) -> Result<bool, GitError> {
        self.reaches_within(id, MAX_OBJECT_READS)
    }

    pub(super) fn reaches_within(&self, id: ObjectId, budget: usize) -> Result<bool, GitError> {
        let common = self.repository().common_dir().to_path_buf();
        let graph = self.commit_graph();
        let graph_stamp = graph.as_ref().map(|g| g.stamp().clone());
        let slot = self.cache.reach().slot(&common);
        let mut kept = slot.lock().expect("never poisoned");
        // Read before the refs: a change after this shows as a later time.
        let (refs, trusted) = ref_sources(&common);
        if let Some(set) = kept.as_ref()
            && set.refs == refs
            && set.graph == graph_stamp
        {
            return Ok(set.contains(graph.as_deref(), &id));
        }
        let set = self.walk_from_refs(graph.as_deref(), refs, graph_stamp, budget)?;
        if set.cut {
            tracing::warn!(
                repo = %common.display(),
                "the reachability walk stopped at its cap; commits past it are refused until \
                 upkeep writes the commit-graph"
            );
        }
        let answer = set.contains(graph.as_deref(), &id);
        *kept = trusted.then_some(set);
        Ok(answer)
    }

    /// Marks every commit the refs reach, reading at most `budget` refs and objects outside
    /// the commit-graph; the walk through the graph itself is bounded by its size.
    fn walk_from_refs(
        &self,
        graph: Option<&CommitGraph>,
        refs: Sources,
        graph_stamp: Option<Stamp>,
        mut budget: usize,
    ) -> Result<ReachSet, GitError> {
        let repo = self.repository();
        let mut set = ReachSet {
            refs,
            graph: graph_stamp,
            bits: vec![0; (graph.map_or(0, |g| g.len()) as usize).div_ceil(64)],
            outside: HashSet::new(),
            cut: false,
        };
        let mut objects: Vec<ObjectId> = Vec::new();
        if let Ok(head) = repo.head_id() {
            objects.push(head.detach());
        }
        let platform = repo.references().map_err(GitError::gix)?;
        // A ref that vanishes between the listing and its read (pack-refs moving it) changed
        // the refs' state too: the next check walks again.
        for reference in platform.all().map_err(GitError::gix)?.flatten() {
            if budget == 0 {
                set.cut = true;
                break;
            }
            budget -= 1;
            if let Some(id) = reference.target().try_id() {
                objects.push(id.to_owned());
            }
        }
        let mut positions: Vec<u32> = Vec::new();
        loop {
            if let Some(id) = objects.pop() {
                if let Some(pos) = graph.and_then(|g| g.position(&id)) {
                    positions.push(pos);
                    continue;
                }
                if set.outside.contains(&id) {
                    continue;
                }
                if budget == 0 {
                    set.cut = true;
                    break;
                }
                budget -= 1;
                // A ref to a missing object reaches nothing.
                let Ok(object) = repo.find_object(id) else {
                    continue;
                };
                match object.kind {
                    gix::object::Kind::Commit => {
                        set.outside.insert(id);
                        let commit = object.into_commit();
                        objects.extend(commit.parent_ids().map(|p| p.detach()));
                    }
                    // Annotated tags (of tags) name the commit they peel to; tags of trees
                    // and blobs reach no commit.
                    gix::object::Kind::Tag => {
                        if let Ok(commit) = object.peel_to_commit() {
                            objects.push(commit.id);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            let Some(pos) = positions.pop() else {
                break;
            };
            if let Some(graph) = graph
                && set_bit(&mut set.bits, pos)
            {
                graph.parent_positions(pos, &mut positions)?;
            }
        }
        Ok(set)
    }
}

/// `HEAD`, `packed-refs` and every folder under `refs/` with its modification time, sorted;
/// and whether they can be trusted to show the next change (none changed within `RACY`, and
/// the folders were read whole).
fn ref_sources(common: &Path) -> (Sources, bool) {
    let now = SystemTime::now();
    let mut sources: Sources = ["HEAD", "packed-refs"]
        .iter()
        .map(|f| {
            let path = common.join(f);
            let seen = modified(&path);
            (path, seen)
        })
        .collect();
    let mut budget = MAX_REF_ENTRIES;
    let complete = folders(&common.join("refs"), 0, &mut sources, &mut budget);
    sources.sort();
    let settled = sources.iter().all(|(_, seen)| match seen {
        Some(t) => now.duration_since(*t).is_ok_and(|age| age >= RACY),
        None => true,
    });
    (sources, complete && settled)
}

/// Adds `dir` and the folders under it; false when `budget` ran out first.
fn folders(dir: &Path, depth: usize, sources: &mut Sources, budget: &mut usize) -> bool {
    sources.push((dir.to_path_buf(), modified(dir)));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if entry.file_type().is_ok_and(|t| t.is_dir())
            && (depth >= MAX_DEPTH || !folders(&entry.path(), depth + 1, sources, budget))
        {
            return false;
        }
    }
    true
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::super::testing::git;
    use super::super::{RepoDir, read::ReadCache};
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn oid(hex: &str) -> ObjectId {
        ObjectId::from_hex(hex.trim().as_bytes()).unwrap()
    }

    /// A bare repository with `main` (two commits), a branch `secret` one commit past it, and
    /// a commit only `refs/pull/1/head` holds; returns (tmp, bare, main, secret, pull).
    fn repo() -> (tempfile::TempDir, PathBuf, ObjectId, ObjectId, ObjectId) {
        let tmp = tempfile::tempdir().unwrap();
        let (bare, work) = (tmp.path().join("r.git"), tmp.path().join("w"));
        git(tmp.path(), &["init", "-q", "--bare", "r.git"]);
        git(tmp.path(), &["init", "-q", "-b", "main", "w"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", "one"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let main = oid(&git(&work, &["rev-parse", "HEAD"]));
        git(&work, &["checkout", "-q", "-b", "secret"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", "creds"]);
        let secret = oid(&git(&work, &["rev-parse", "HEAD"]));
        git(&work, &["checkout", "-q", "-b", "pr", "main"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", "proposal"]);
        let pull = oid(&git(&work, &["rev-parse", "HEAD"]));
        let url = bare.to_str().unwrap();
        git(
            &work,
            &["push", "-q", url, "main", "secret", "pr:refs/pull/1/head"],
        );
        (tmp, bare, main, secret, pull)
    }

    fn reaches(cache: &Arc<ReadCache>, bare: &Path, id: ObjectId) -> bool {
        let reader = cache.open(&RepoDir(bare.to_path_buf())).unwrap();
        reader.reaches(id).unwrap()
    }

    /// A deleted branch's commit stops being reachable at once; `refs/pull/` counts; the
    /// answers are the same through the commit-graph as through the objects.
    #[test]
    fn a_deleted_branch_is_unreachable_and_every_ref_counts() {
        let (_tmp, bare, main, secret, pull) = repo();
        let first = oid(&git(&bare, &["rev-parse", "main~1"]));
        let cache = Arc::new(ReadCache::default());
        for id in [main, first, secret, pull] {
            assert!(reaches(&cache, &bare, id), "{id}");
        }
        git(&bare, &["update-ref", "-d", "refs/heads/secret"]);
        assert!(!reaches(&cache, &bare, secret), "deleted, seen at once");
        assert!(reaches(&cache, &bare, main));

        // Through the commit-graph (it still holds the deleted commit: written before).
        git(
            &bare,
            &["update-ref", "refs/heads/secret", &secret.to_string()],
        );
        git(&bare, &["commit-graph", "write", "--reachable"]);
        git(&bare, &["update-ref", "-d", "refs/heads/secret"]);
        let fresh = Arc::new(ReadCache::default());
        assert!(
            fresh
                .open(&RepoDir(bare.clone()))
                .unwrap()
                .commit_graph()
                .is_some()
        );
        assert!(!reaches(&fresh, &bare, secret));
        for id in [main, first, pull] {
            assert!(reaches(&fresh, &bare, id), "{id}");
        }
        // An annotated tag keeps its commit reachable.
        git(
            &bare,
            &["tag", "-a", "-m", "kept", "v1", &secret.to_string()],
        );
        assert!(reaches(&fresh, &bare, secret), "tagged");
    }

    /// A kept set answers while the refs are unchanged, and is walked again when they change.
    #[test]
    fn a_kept_set_follows_the_refs() {
        let (_tmp, bare, main, secret, _) = repo();
        // Old enough to be kept: the ref folders' times set back past `RACY`.
        let past = SystemTime::now() - Duration::from_secs(60);
        for f in [
            "refs/heads",
            "refs/tags",
            "refs/pull/1",
            "refs/pull",
            "refs",
            "HEAD",
        ] {
            std::fs::File::open(bare.join(f))
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
        let cache = Arc::new(ReadCache::default());
        assert!(reaches(&cache, &bare, secret));
        let slot = cache.reach.slot(&bare);
        assert!(slot.lock().unwrap().is_some(), "kept");
        git(&bare, &["update-ref", "-d", "refs/heads/secret"]);
        assert!(!reaches(&cache, &bare, secret));
        assert!(reaches(&cache, &bare, main));
    }

    /// Past its budget the walk stops and what it did not reach is refused, never served.
    #[test]
    fn the_walk_stops_at_its_cap_and_refuses_the_rest() {
        let (_tmp, bare, main, _, _) = repo();
        let first = oid(&git(&bare, &["rev-parse", "main~1"]));
        let cache = Arc::new(ReadCache::default());
        let reader = cache.open(&RepoDir(bare.clone())).unwrap();
        // HEAD, then three refs (main, secret, refs/pull/1/head) spend the budget of 3.
        assert!(!reader.reaches_within(first, 3).unwrap(), "cut before it");
        let fresh = Arc::new(ReadCache::default());
        let reader = fresh.open(&RepoDir(bare.clone())).unwrap();
        assert!(reader.reaches_within(first, 100).unwrap());
        assert!(reader.reaches_within(main, 100).unwrap());
    }
}
