//! Two revisions side by side: `BASE...HEAD` (the commits in HEAD not in BASE and the diff from
//! their merge base, as GitHub's compare), and "how far is a branch ahead of a commit" for the
//! dashboard's deploy lines. Both walks are capped: a compare of two unrelated 80,000-commit
//! histories lists the newest `MAX_COMPARE_COMMITS` and says so.

use std::time::Instant;

use gix::ObjectId;

use super::GitError;
use super::diff::{DiffLimits, FileDiff};
use super::reader::{CommitId, CommitInfo, Reader};

/// Commits a compare page lists; past this it says there are more.
pub const MAX_COMPARE_COMMITS: usize = 250;

pub struct Comparison {
    /// Newest first, at most `MAX_COMPARE_COMMITS`.
    pub commits: Vec<CommitInfo>,
    /// More commits than listed.
    pub more_commits: bool,
    /// The merge base the diff starts from (None: unrelated histories, diffed from nothing).
    pub merge_base: Option<CommitId>,
    pub files: Vec<FileDiff>,
    pub truncated: bool,
    pub listing_cut: bool,
}

/// How far a commit is ahead of another, counted up to a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ahead {
    Exactly(usize),
    /// At least this many (the count stopped at its cap).
    AtLeast(usize),
}

impl Reader {
    /// `base...head` of two resolved commits, within the commit page's diff limits.
    pub fn compare(
        &self,
        base: &CommitId,
        head: &CommitId,
        limits: DiffLimits,
    ) -> Result<Comparison, GitError> {
        let deadline = Instant::now() + limits.time;
        let (base, head) = (base.oid()?, head.oid()?);
        let merge_base = self
            .repository()
            .merge_base(base, head)
            .ok()
            .flatten()
            .map(|id| id.detach());
        let walk = self
            .repository()
            .rev_walk([head])
            .with_hidden(merge_base)
            .sorting(gix::revision::walk::Sorting::ByCommitTime(
                Default::default(),
            ))
            .all()
            .map_err(GitError::gix)?;
        let mut commits = Vec::new();
        let mut more_commits = false;
        for info in walk {
            let info = info.map_err(GitError::gix)?;
            if commits.len() == MAX_COMPARE_COMMITS || Instant::now() >= deadline {
                more_commits = true;
                break;
            }
            commits.push(self.info(&info.object().map_err(GitError::gix)?)?);
        }
        let old_tree = match merge_base {
            Some(id) => Some(self.commit_tree(id)?),
            None => None,
        };
        let changes =
            self.changed_between(old_tree, self.commit_tree(head)?, limits.walk, deadline)?;
        let listing_cut = changes.cut;
        let (files, truncated) = self.diff_changes(changes, limits, deadline)?;
        Ok(Comparison {
            commits,
            more_commits,
            merge_base: merge_base.map(|id| CommitId(id.to_hex().to_string())),
            files,
            truncated,
            listing_cut,
        })
    }

    /// Commits reachable from `head` and not from `base`, counted up to `cap`.
    pub fn ahead(&self, head: &CommitId, base: &CommitId, cap: usize) -> Result<Ahead, GitError> {
        let (head, base) = (head.oid()?, base.oid()?);
        if head == base {
            return Ok(Ahead::Exactly(0));
        }
        let walk = self
            .repository()
            .rev_walk([head])
            .with_hidden([base])
            .all()
            .map_err(GitError::gix)?;
        let mut n = 0;
        for info in walk {
            info.map_err(GitError::gix)?;
            if n == cap {
                return Ok(Ahead::AtLeast(cap));
            }
            n += 1;
        }
        Ok(Ahead::Exactly(n))
    }

    fn commit_tree(&self, commit: ObjectId) -> Result<ObjectId, GitError> {
        Ok(self
            .repository()
            .find_commit(commit)
            .map_err(GitError::gix)?
            .tree_id()
            .map_err(GitError::gix)?
            .detach())
    }
}
