//! The tree page's "last commit per entry", the page peers are slow on (they run `git log` once
//! per entry). Here it is one walk over history, newest first: a commit whose copy of the folder
//! differs from its first parent's settles the entries that differ. Each tree is decoded once
//! (a commit's parent tree is the next commit's own), only unsettled names are compared, and the
//! walk stops when every entry is settled.
//!
//! A page waits at most `INLINE_BUDGET`; if the walk is not done by then the page shows what is
//! known and the walk finishes in the background (bounded by `BACKGROUND_BUDGET`), so the next
//! load has everything. Answers are cached by (commit, path): they never go stale.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gix::ObjectId;

use super::GitError;
use super::read::{CommitId, CommitInfo, ReadCache, Reader};
use crate::model::TreePath;

const INLINE_BUDGET: Duration = Duration::from_millis(400);
const BACKGROUND_BUDGET: Duration = Duration::from_secs(60);
const MAX_BACKGROUND_WALKS: usize = 2;
const CACHE_ENTRIES: usize = 1024;

/// Each entry of a folder with the commit that last changed it, when known.
pub type LastCommits = Vec<(String, Option<CommitInfo>)>;

type Key = (String, String);

#[derive(Default)]
pub struct AnswerCache {
    done: Mutex<HashMap<Key, LastCommits>>,
    running: Mutex<HashSet<Key>>,
}

fn gx(e: impl std::fmt::Display) -> GitError {
    GitError::Gix(e.to_string())
}

/// A folder's entries as (name, id), sorted by name for binary search.
type Listing = Arc<Vec<(Vec<u8>, ObjectId)>>;

impl Reader {
    /// The answers for `names` in the folder at `path` of `start`; the flag is false when some
    /// are still being looked for in the background.
    pub fn last_commits(
        &self,
        start: &CommitId,
        path: &TreePath,
        names: &[String],
    ) -> Result<(LastCommits, bool), GitError> {
        let key: Key = (start.0.clone(), path.as_str().to_owned());
        if let Some(hit) = self
            .cache
            .last_commits
            .done
            .lock()
            .expect("never poisoned")
            .get(&key)
        {
            return Ok((hit.clone(), true));
        }
        let (found, complete) = self.walk(start.oid()?, path, names, INLINE_BUDGET)?;
        let answers = arrange(names, &found);
        if complete {
            remember(&self.cache, key, answers.clone());
        } else {
            self.finish_in_background(key, start.oid()?, path.clone(), names.to_vec());
        }
        Ok((answers, complete))
    }

    fn finish_in_background(&self, key: Key, start: ObjectId, path: TreePath, names: Vec<String>) {
        {
            let mut running = self
                .cache
                .last_commits
                .running
                .lock()
                .expect("never poisoned");
            if running.contains(&key) || running.len() >= MAX_BACKGROUND_WALKS {
                return;
            }
            running.insert(key.clone());
        }
        let cache = Arc::clone(&self.cache);
        let repo = self.repo.clone().into_sync();
        std::thread::spawn(move || {
            let reader = Reader {
                repo: repo.to_thread_local(),
                cache: Arc::clone(&cache),
            };
            match reader.walk(start, &path, &names, BACKGROUND_BUDGET) {
                Ok((found, _)) => remember(&cache, key.clone(), arrange(&names, &found)),
                Err(e) => {
                    tracing::warn!(error = %e, "finding last commits in the background failed")
                }
            }
            cache
                .last_commits
                .running
                .lock()
                .expect("never poisoned")
                .remove(&key);
        });
    }

    fn listing(
        &self,
        tree: ObjectId,
        memo: &mut HashMap<ObjectId, Listing>,
    ) -> Result<Listing, GitError> {
        if let Some(l) = memo.get(&tree) {
            return Ok(Arc::clone(l));
        }
        let t = self.repo.find_tree(tree).map_err(gx)?;
        let mut entries = Vec::new();
        for e in t.iter() {
            let e = e.map_err(gx)?;
            entries.push((e.filename().to_vec(), e.object_id()));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let listing: Listing = Arc::new(entries);
        if memo.len() >= 8 {
            memo.clear();
        }
        memo.insert(tree, Arc::clone(&listing));
        Ok(listing)
    }

    /// The folder at `path` in `commit`, as a tree id (None when absent or not a folder).
    fn folder(&self, commit: ObjectId, path: &TreePath) -> Result<Option<ObjectId>, GitError> {
        Ok(match self.lookup(commit, path)? {
            Some((true, id)) => Some(id),
            _ => None,
        })
    }

    fn walk(
        &self,
        start: ObjectId,
        path: &TreePath,
        names: &[String],
        budget: Duration,
    ) -> Result<(HashMap<String, CommitInfo>, bool), GitError> {
        let deadline = Instant::now() + budget;
        let mut pending: HashSet<&str> = names.iter().map(String::as_str).collect();
        let mut found = HashMap::new();
        let mut memo: HashMap<ObjectId, Listing> = HashMap::new();
        let walk = self
            .repo
            .rev_walk([start])
            .sorting(gix::revision::walk::Sorting::ByCommitTime(
                Default::default(),
            ))
            .all()
            .map_err(gx)?;
        for info in walk {
            if pending.is_empty() {
                return Ok((found, true));
            }
            if Instant::now() > deadline {
                return Ok((found, false));
            }
            let info = info.map_err(gx)?;
            let here = self.folder(info.id, path)?;
            let parent = match info.parent_ids().next() {
                Some(p) => self.folder(p.detach(), path)?,
                None => None,
            };
            if here == parent {
                continue; // the folder is identical: nothing in it changed here
            }
            let mine = match here {
                Some(id) => Some(self.listing(id, &mut memo)?),
                None => None,
            };
            let theirs = match parent {
                Some(id) => Some(self.listing(id, &mut memo)?),
                None => None,
            };
            let get = |l: &Option<Listing>, name: &str| -> Option<ObjectId> {
                let l = l.as_ref()?;
                l.binary_search_by(|e| e.0.as_slice().cmp(name.as_bytes()))
                    .ok()
                    .map(|i| l[i].1)
            };
            let changed: Vec<&str> = pending
                .iter()
                .copied()
                .filter(|n| get(&mine, n) != get(&theirs, n))
                .collect();
            if !changed.is_empty() {
                let commit = self.info(&info.object().map_err(gx)?)?;
                for name in changed {
                    pending.remove(name);
                    found.insert(name.to_owned(), commit.clone());
                }
            }
        }
        Ok((found, true))
    }
}

fn arrange(names: &[String], found: &HashMap<String, CommitInfo>) -> LastCommits {
    names
        .iter()
        .map(|n| (n.clone(), found.get(n).cloned()))
        .collect()
}

fn remember(cache: &ReadCache, key: Key, answers: LastCommits) {
    let mut done = cache.last_commits.done.lock().expect("never poisoned");
    if done.len() >= CACHE_ENTRIES {
        done.clear();
    }
    done.insert(key, answers);
}
