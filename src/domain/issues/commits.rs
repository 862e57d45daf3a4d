//! Issues closed and referenced by pushed commits, read from a recorded push event.
//!
//! A commit whose message says `fixes #N` (or closes/resolves, GitHub's words) closes issue N
//! when it reaches the default branch; any other mention, or one on another branch, adds a
//! "referenced" event. Safe to run again on the same event, or on the same commit pushed to
//! another branch: each (issue, commit, kind) is recorded at most once (a unique index, not
//! only a check), and an issue a commit already closed is not closed by it again after a reopen.

use super::payload::IssueAction;
use super::refs::issue_refs;
use super::{Error, Forge, Result};
use crate::domain::{AtLeast, Grant, Write};
use crate::git::read::CommitInfo;
use crate::model::{PushEvent, Repo, TimelineKind, User};
use crate::storage::NewEvent;

/// At most this many commits per updated ref are read (the newest), as webhooks cap theirs.
const COMMITS_PER_REF: usize = 1000;

/// What one push did to the issues.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushedRefs {
    /// Issues closed by this run: (number, title), for the pusher's `remote: closed #1 …`.
    pub closed: Vec<(i64, String)>,
    /// (issue number, commit) references recorded by this run.
    pub referenced: Vec<(i64, String)>,
}

impl Forge {
    /// `apply_pushed_commits` again for a push event of the granted repository (an event of
    /// another one is `NotFound`). Settling a push writes to the issues, so it takes a write
    /// grant; safe to repeat (see the module's comment).
    pub async fn reapply_pushed_commits<L: AtLeast<Write>>(
        &self,
        grant: &Grant<L>,
        event: &PushEvent,
    ) -> Result<PushedRefs> {
        if event.repo_id != grant.repo().id {
            return Err(Error::NotFound);
        }
        self.apply_pushed_commits(grant.repo(), event).await
    }

    /// Applies the issue references of the commits each branch update of `event` brought in.
    /// Called after git applied the push (from post-receive processing or the start-up
    /// replay), which is the server's own bookkeeping: domain-internal.
    pub(in crate::domain) async fn apply_pushed_commits(
        &self,
        repo: &Repo,
        event: &PushEvent,
    ) -> Result<PushedRefs> {
        let pusher = match event.pusher_id {
            Some(id) => self
                .db
                .user_by_id(id)
                .await?
                .as_ref()
                .map(super::super::credentials::user_from_row),
            None => None,
        };
        let mut done = PushedRefs::default();
        for update in &event.refs {
            let Some(branch) = update.branch() else {
                continue; // tags and other refs do not close issues
            };
            let on_default = branch == repo.default_branch;
            let dir = self.repo_dir(repo)?;
            let reads = std::sync::Arc::clone(&self.reads);
            let update = update.clone();
            let commits = super::super::blocking(move || {
                reads
                    .open(&dir)
                    .and_then(|r| r.commits_in_push(&update, COMMITS_PER_REF))
            })
            .await??;
            for commit in &commits {
                self.apply_commit(repo, commit, on_default, pusher.as_ref(), &mut done)
                    .await?;
            }
        }
        Ok(done)
    }

    async fn apply_commit(
        &self,
        repo: &Repo,
        commit: &CommitInfo,
        on_default: bool,
        pusher: Option<&User>,
        done: &mut PushedRefs,
    ) -> Result<()> {
        let message = format!("{}\n\n{}", commit.subject, commit.body);
        let sha = commit.id.0.as_str();
        for r in issue_refs(&message).into_iter().take(50) {
            let mut tx = self.db.begin().await?;
            let Some(id) = tx.lock_issue(repo.id, r.number).await? else {
                continue; // no such issue; dropping the transaction rolls it back
            };
            if tx.has_commit_event(id, sha, TimelineKind::Closed).await? {
                continue; // this commit closed it once; a reopen since is the people's call
            }
            let event = |kind| NewEvent {
                issue_id: id,
                actor_id: pusher.map(|p| p.id),
                kind,
                commit_id: Some(sha),
                ..NewEvent::default()
            };
            let before = tx.issue_by_id(id).await?;
            let is_open = before.is_open();
            if r.closes && on_default && is_open {
                // The issue row is locked, so nobody closes it in between; the unique index
                // still has the last word.
                if tx.insert_event(event(TimelineKind::Closed)).await?
                    && tx.close_issue(id, pusher.map(|p| p.id), Some(sha)).await?
                {
                    done.closed.push((r.number, before.title.clone()));
                    if let Some(sender) = pusher {
                        let issue = tx.issue_by_id(id).await?;
                        self.issues_hook(
                            &mut tx,
                            repo,
                            IssueAction::Closed,
                            &issue,
                            sender,
                            Some(sha),
                        )
                        .await?;
                    }
                }
            } else if tx.insert_event(event(TimelineKind::Referenced)).await? {
                done.referenced.push((r.number, sha.to_owned()));
            }
            tx.commit().await?;
            self.webhook_wakeup();
        }
        Ok(())
    }
}
