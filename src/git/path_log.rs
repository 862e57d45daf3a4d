//! `/commits/REF[/PATH]`: a history page, in `git log` order (newest commit time first). With a
//! path, the commits `git log -- PATH` lists (its default history simplification), found by
//! `path_walk`, which skips the commits whose changed-path filter rules the path out. Only the
//! commits on the page are decoded; the rest of the walk reads the commit-graph. Pages are
//! kept in memory by (commit, path, page): a page seen before costs no walk.

use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;

use super::GitError;
use super::commits::Commits;
use super::history_cache::{Key, Value};
use super::path_walk::PathWalk;
use super::reader::{CommitId, CommitInfo, Reader};
use crate::model::TreePath;

impl Reader {
    /// Commits reachable from `start`, newest first; with a path, only those that changed it.
    /// Returns the page and whether there are more.
    pub fn log(
        &self,
        start: &CommitId,
        path: &TreePath,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<CommitInfo>, bool), GitError> {
        let start = start.oid()?;
        let key = Key::Log(start, path.as_str().to_owned(), skip, limit);
        let page = match self.cache.history().get(&key) {
            Some(Value::Log(page)) => page,
            _ => {
                let page = Arc::new(self.log_page(start, path, skip, limit)?);
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

    /// The ids of a page of the log, and whether more follow.
    fn log_page(
        &self,
        start: gix::ObjectId,
        path: &TreePath,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<gix::ObjectId>, bool), GitError> {
        let commits = Commits::new(self);
        let mut matching = matching(&commits, start, path)?;
        for _ in 0..skip {
            if matching.next().transpose()?.is_none() {
                return Ok((Vec::new(), false));
            }
        }
        let mut page = Vec::with_capacity(limit);
        while page.len() < limit {
            match matching.next().transpose()? {
                Some(id) => page.push(id),
                None => return Ok((page, false)),
            }
        }
        let more = matching.next().transpose()?.is_some();
        Ok((page, more))
    }

    /// How many commits `log` lists from `start` (with a path, those that changed it), counted
    /// up to `cap`; the second value says the count stopped there (the API's `X-Total-Count`
    /// on a long history, where counting all would walk it whole).
    pub fn log_count(
        &self,
        start: &CommitId,
        path: &TreePath,
        cap: usize,
    ) -> Result<(usize, bool), GitError> {
        let commits = Commits::new(self);
        let mut matching = matching(&commits, start.oid()?, path)?;
        let mut n = 0;
        while n < cap {
            match matching.next().transpose()? {
                Some(_) => n += 1,
                None => return Ok((n, false)),
            }
        }
        Ok((n, matching.next().transpose()?.is_some()))
    }
}

type Matching<'c> = Box<dyn Iterator<Item = Result<gix::ObjectId, GitError>> + 'c>;

/// The commits `log` lists, lazily: all from `start`, or with a path those that changed it.
fn matching<'c>(
    commits: &'c Commits<'_>,
    start: gix::ObjectId,
    path: &TreePath,
) -> Result<Matching<'c>, GitError> {
    Ok(if path.is_root() {
        Box::new(all_commits(commits, start))
    } else {
        let (folder, name) = match path.as_str().rsplit_once('/') {
            Some((folder, name)) => (TreePath::parse(folder).map_err(GitError::gix)?, name),
            None => (TreePath::default(), path.as_str()),
        };
        let mut walk = PathWalk::new(commits, start, &folder, &[name.to_owned()], false)?;
        Box::new(std::iter::from_fn(move || {
            loop {
                match walk.next(None) {
                    Ok(Some(found)) if found.entries.is_empty() => continue,
                    Ok(Some(found)) => return Some(Ok(found.commit)),
                    Ok(None) => return None,
                    Err(e) => return Some(Err(e)),
                }
            }
        }))
    })
}

/// Every commit reachable from `start`, newest commit time first (ties: first queued first).
fn all_commits<'c>(
    commits: &'c Commits<'_>,
    start: gix::ObjectId,
) -> impl Iterator<Item = Result<gix::ObjectId, GitError>> + 'c {
    let mut queue = BinaryHeap::new();
    let mut seen = HashSet::new();
    let mut order = 0u64;
    let mut push = move |queue: &mut BinaryHeap<(i64, std::cmp::Reverse<u64>, gix::ObjectId)>,
                         id: gix::ObjectId|
          -> Result<(), GitError> {
        if seen.insert(id) {
            order += 1;
            queue.push((commits.node(id)?.time, std::cmp::Reverse(order), id));
        }
        Ok(())
    };
    let first = push(&mut queue, start);
    let mut failed = first.err();
    std::iter::from_fn(move || {
        if let Some(e) = failed.take() {
            return Some(Err(e));
        }
        let (_, _, id) = queue.pop()?;
        let parents = match commits.node(id) {
            Ok(node) => node.parents,
            Err(e) => return Some(Err(e)),
        };
        for p in parents {
            if let Err(e) = push(&mut queue, p) {
                return Some(Err(e));
            }
        }
        Some(Ok(id))
    })
}
