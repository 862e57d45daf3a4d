//! `/commits/REF/PATH?follow=1`: the commits `git log --follow -- PATH` lists. git's walk with
//! its default history simplification, for one file whose name changes on the way: where a
//! commit adds the path (the diff against a parent shows the path added and nothing else),
//! rename detection (`renames`) looks for the file it came from, and from then on the walk looks
//! for that older name, for every commit it meets later (git switches its one pathspec, so a
//! side branch still holding the new name is followed by the old name too). Merges are walked
//! through as `git log -- PATH` does but never listed: `git log --follow` lists the commits
//! whose diff shows the file, and it does not diff merges.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;

use gix::ObjectId;

use super::GitError;
use super::changed_paths::PathKeys;
use super::commits::Commits;
use super::history_cache::{Key, Value};
use super::path_walk::{Trees, components};
use super::reader::{CommitId, CommitInfo, Reader};
use super::renames::renamed_from;
use crate::model::TreePath;

/// A follow walk examines at most this many commits (a log page of a file that changed
/// little in a long history walks all of it; 10× the `long` fixture).
pub(super) const MAX_FOLLOW_COMMITS: usize = 1_000_000;

impl Reader {
    /// `log` with renames followed, for a file (a folder's log is `log`'s).
    pub fn log_following(
        &self,
        start: &CommitId,
        path: &TreePath,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<CommitInfo>, bool), GitError> {
        if path.is_root() || self.is_dir(start, path)? != Some(false) {
            return self.log(start, path, skip, limit);
        }
        let start = start.oid()?;
        let key = Key::FollowLog(start, path.as_str().to_owned(), skip, limit);
        let page = match self.cache.history().get(&key) {
            Some(Value::Log(page)) => page,
            _ => {
                let commits = Commits::new(self);
                let page = Arc::new(follow_page(
                    &commits,
                    start,
                    path.as_str().as_bytes(),
                    skip,
                    limit,
                    MAX_FOLLOW_COMMITS,
                )?);
                self.cache.history().put(key, Value::Log(Arc::clone(&page)));
                page
            }
        };
        let commits = page
            .0
            .iter()
            .map(|id| self.commit_summary(*id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((commits, page.1))
    }
}

/// The path the walk looks for now.
struct Followed {
    full: Vec<u8>,
    folder: Vec<Vec<u8>>,
    name: Vec<u8>,
    keys: PathKeys,
}

impl Followed {
    fn new(path: &[u8]) -> Self {
        let text = String::from_utf8_lossy(path);
        let mut folder = TreePath::parse(&text)
            .map(|p| components(&p))
            .unwrap_or_default();
        let name = folder.pop().unwrap_or_default();
        Self {
            full: path.to_vec(),
            folder,
            name,
            keys: PathKeys::new(path),
        }
    }

    /// The path's (blob, mode) in a commit's tree, if a file is there.
    fn in_tree(
        &self,
        commits: &Commits<'_>,
        trees: &mut Trees,
        tree: ObjectId,
    ) -> Result<Option<(ObjectId, u16)>, GitError> {
        let listing = trees.folder(&commits.repo(), tree, &self.folder)?;
        Ok(listing
            .and_then(|l| l.get(&self.name))
            .filter(|(_, mode)| mode & 0o170000 != 0o040000))
    }
}

/// A page of `git log --follow` from `start`: the ids, and whether more follow. At most `cap`
/// commits are examined; past it the page ends there.
pub(super) fn follow_page(
    commits: &Commits<'_>,
    start: ObjectId,
    path: &[u8],
    skip: usize,
    limit: usize,
    cap: usize,
) -> Result<(Vec<ObjectId>, bool), GitError> {
    let mut followed = Followed::new(path);
    let mut trees = Trees::default();
    let mut queue = BinaryHeap::new();
    let mut seen = HashSet::new();
    let mut order = 0u64;
    seen.insert(start);
    queue.push((commits.node(start)?.time, Reverse(order), start));
    let mut shown = 0usize;
    let mut page = Vec::with_capacity(limit);
    for _ in 0..cap {
        let Some((_, _, id)) = queue.pop() else {
            return Ok((page, false));
        };
        let node = commits.node(id)?;
        let (parents, tree, filter) = (node.parents, node.tree, node.filter);
        let mut follow = parents.clone();
        let changed = if parents.is_empty() {
            followed.in_tree(commits, &mut trees, tree)?.is_some()
        } else {
            let mut same = None;
            for (i, parent) in parents.iter().enumerate() {
                if i == 0 && filter.is_some_and(|f| !f.maybe_changed(&followed.keys)) {
                    same = Some(*parent);
                    break;
                }
                let here = followed.in_tree(commits, &mut trees, tree)?;
                let parent_tree = commits.node(*parent)?.tree;
                let there = followed.in_tree(commits, &mut trees, parent_tree)?;
                if here == there {
                    same = Some(*parent);
                    break;
                }
                if let (Some((blob, mode)), None) = (here, there) {
                    // Added here: git looks for the file it was renamed from, and from now on
                    // follows that name.
                    let regular = mode & 0o170000 == 0o100000;
                    if let Some(old) = renamed_from(
                        commits,
                        &mut trees,
                        parent_tree,
                        tree,
                        &followed.full,
                        blob,
                        regular,
                    )? {
                        followed = Followed::new(&old.path);
                    }
                }
            }
            if let Some(p) = same {
                follow = vec![p];
            }
            same.is_none()
        };
        for p in follow {
            if seen.insert(p) {
                order += 1;
                queue.push((commits.node(p)?.time, Reverse(order), p));
            }
        }
        // `git log --follow` shows a commit only when its diff shows the file, and does not
        // diff merges (without `-m`): a merge that changed the file is walked, not listed.
        if changed && parents.len() <= 1 {
            shown += 1;
            if shown > skip {
                if page.len() == limit {
                    return Ok((page, true));
                }
                page.push(id);
            }
        }
    }
    Ok((page, false))
}

#[cfg(test)]
mod tests {
    use super::super::testing::git;
    use super::*;

    /// The walk examines at most `cap` commits: a page ends there.
    #[test]
    fn a_follow_walk_stops_at_its_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git(dir, &["init", "-q", "-b", "main"]);
        for i in 0..6 {
            std::fs::write(dir.join("f"), format!("version {i}\n")).unwrap();
            git(dir, &["add", "f"]);
            git(dir, &["commit", "-q", "-m", "change"]);
        }
        let head = ObjectId::from_hex(git(dir, &["rev-parse", "HEAD"]).as_bytes()).unwrap();
        let cache = Arc::new(super::super::read::ReadCache::default());
        let reader = cache
            .open(&super::super::RepoDir(dir.join(".git")))
            .unwrap();
        let commits = Commits::new(&reader);
        let (all, more) = follow_page(&commits, head, b"f", 0, 50, MAX_FOLLOW_COMMITS).unwrap();
        assert_eq!((all.len(), more), (6, false));
        let (capped, more) = follow_page(&commits, head, b"f", 0, 50, 2).unwrap();
        assert_eq!((capped.as_slice(), more), (&all[..2], false));
    }
}
