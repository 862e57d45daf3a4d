//! Opening, editing, commenting, closing and reopening. Each change is one transaction with
//! its timeline events and (once wired) its webhook deliveries.

use super::payload::{CommentAction, IssueAction};
use super::{Error, Forge, IssueRules, Result, Rules, check_text, check_title, refs};
use crate::domain::{Grant, Level};
use crate::model::{Comment, Issue, IssueId, Repo, TimelineKind, User, WebhookEventKind};
use crate::storage::{NewEvent, NewIssue, Tx};

impl Forge {
    pub async fn open_issue<L: Level>(
        &self,
        who: &Grant<L>,
        title: &str,
        body: &str,
    ) -> Result<Issue> {
        let mut tx = self.db.begin().await?;
        let issue = self.open_issue_in(&mut tx, who, title, body).await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(issue)
    }

    /// `open_issue` inside the caller's transaction (the API sets labels in the same one).
    pub(super) async fn open_issue_in<L: Level>(
        &self,
        tx: &mut Tx,
        who: &Grant<L>,
        title: &str,
        body: &str,
    ) -> Result<Issue> {
        let actor = Rules::of(who).participant()?;
        let title = check_title(title)?;
        let body = check_text(body, true)?;
        let id = tx
            .insert_issue(NewIssue {
                repo_id: who.repo().id,
                author_id: actor.user.id,
                title,
                body,
            })
            .await?;
        let issue = tx.issue_by_id(id).await?;
        self.record_mentions(tx, who.repo(), &issue, actor.user.id, body)
            .await?;
        self.issues_hook(
            tx,
            who.repo(),
            IssueAction::Opened,
            &issue,
            &actor.user,
            None,
        )
        .await?;
        Ok(issue)
    }

    /// Changes the title and/or body (None keeps it); the author's or a writer's right.
    pub async fn edit_issue<L: Level>(
        &self,
        who: &Grant<L>,
        number: i64,
        title: Option<&str>,
        body: Option<&str>,
    ) -> Result<Issue> {
        let mut tx = self.db.begin().await?;
        let issue = self
            .edit_issue_in(&mut tx, who, number, title, body)
            .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(issue)
    }

    pub(super) async fn edit_issue_in<L: Level>(
        &self,
        tx: &mut Tx,
        who: &Grant<L>,
        number: i64,
        title: Option<&str>,
        body: Option<&str>,
    ) -> Result<Issue> {
        let id = self.locked(tx, who.repo(), number).await?;
        let old = tx.issue_by_id(id).await?;
        let actor = Rules::of(who).require(who.can_edit(old.author_id), "edit this issue")?;
        let title = title.map(check_title).transpose()?.unwrap_or(&old.title);
        let body = body
            .map(|b| check_text(b, true))
            .transpose()?
            .unwrap_or(&old.body);
        if title == old.title && body == old.body {
            return Ok(old);
        }
        tx.update_issue_text(id, title, body).await?;
        if title != old.title {
            tx.insert_event(NewEvent {
                issue_id: id,
                actor_id: Some(actor.user.id),
                kind: TimelineKind::Renamed,
                old_title: Some(&old.title),
                ..NewEvent::default()
            })
            .await?;
        }
        let issue = tx.issue_by_id(id).await?;
        self.record_mentions(tx, who.repo(), &issue, actor.user.id, body)
            .await?;
        self.issues_hook(
            tx,
            who.repo(),
            IssueAction::Edited,
            &issue,
            &actor.user,
            None,
        )
        .await?;
        Ok(issue)
    }

    /// Closes (`open = false`) or reopens an issue; doing what is already done changes nothing.
    /// Any grant: an issue's author closes their own with a reader's grant, so the rule
    /// (`IssueRules::can_edit`) is checked here, not by the grant's type.
    pub async fn set_issue_state<L: Level>(
        &self,
        who: &Grant<L>,
        number: i64,
        open: bool,
    ) -> Result<Issue> {
        let mut tx = self.db.begin().await?;
        let issue = self.set_issue_state_in(&mut tx, who, number, open).await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(issue)
    }

    pub(super) async fn set_issue_state_in<L: Level>(
        &self,
        tx: &mut Tx,
        who: &Grant<L>,
        number: i64,
        open: bool,
    ) -> Result<Issue> {
        let id = self.locked(tx, who.repo(), number).await?;
        let old = tx.issue_by_id(id).await?;
        let verb = if open {
            "reopen this issue"
        } else {
            "close this issue"
        };
        let actor = Rules::of(who).require(who.can_edit(old.author_id), verb)?;
        let changed = if open {
            tx.reopen_issue(id).await?
        } else {
            tx.close_issue(id, Some(actor.user.id), None).await?
        };
        if !changed {
            return Ok(old);
        }
        tx.insert_event(NewEvent {
            issue_id: id,
            actor_id: Some(actor.user.id),
            kind: if open {
                TimelineKind::Reopened
            } else {
                TimelineKind::Closed
            },
            ..NewEvent::default()
        })
        .await?;
        let issue = tx.issue_by_id(id).await?;
        let action = if open {
            IssueAction::Reopened
        } else {
            IssueAction::Closed
        };
        self.issues_hook(tx, who.repo(), action, &issue, &actor.user, None)
            .await?;
        Ok(issue)
    }

    pub async fn comment_on_issue<L: Level>(
        &self,
        who: &Grant<L>,
        number: i64,
        body: &str,
    ) -> Result<Comment> {
        let actor = Rules::of(who).participant()?;
        let body = check_text(body, false)?;
        let mut tx = self.db.begin().await?;
        let id = self.locked(&mut tx, who.repo(), number).await?;
        let comment_id = tx.insert_comment(id, actor.user.id, body).await?;
        let issue = tx.issue_by_id(id).await?;
        let comment = tx.comment_by_id(comment_id).await?;
        self.record_mentions(&mut tx, who.repo(), &issue, actor.user.id, body)
            .await?;
        self.issue_comment_hook(
            &mut tx,
            who.repo(),
            CommentAction::Created,
            &issue,
            &comment,
            &actor.user,
        )
        .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(comment)
    }

    pub async fn edit_comment<L: Level>(
        &self,
        who: &Grant<L>,
        number: i64,
        comment_id: i64,
        body: &str,
    ) -> Result<Comment> {
        let body = check_text(body, false)?;
        let mut tx = self.db.begin().await?;
        let id = self.locked(&mut tx, who.repo(), number).await?;
        let old = tx.comment(id, comment_id).await?.ok_or(Error::NotFound)?;
        let actor = Rules::of(who).require(who.can_edit(old.author_id), "edit this comment")?;
        tx.update_comment(comment_id, body).await?;
        let issue = tx.issue_by_id(id).await?;
        let comment = tx.comment_by_id(comment_id).await?;
        self.issue_comment_hook(
            &mut tx,
            who.repo(),
            CommentAction::Edited,
            &issue,
            &comment,
            &actor.user,
        )
        .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(comment)
    }

    /// The issue's id, locked for the rest of the transaction; `NotFound` if there is none.
    pub(super) async fn locked(&self, tx: &mut Tx, repo: &Repo, number: i64) -> Result<IssueId> {
        tx.lock_issue(repo.id, number).await?.ok_or(Error::NotFound)
    }

    /// "Referenced from #N" on every other issue of the repository that `text` mentions, once
    /// per (issue, source) pair.
    async fn record_mentions(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        source: &Issue,
        actor_id: i64,
        text: &str,
    ) -> Result<()> {
        let numbers: Vec<i64> = refs::issue_refs(text)
            .into_iter()
            .take(50)
            .map(|r| r.number)
            .filter(|&n| n != source.number)
            .collect();
        // One read, in the transaction (never a second connection while it holds one).
        let found = tx.issue_ids_by_number(repo.id, &numbers).await?;
        for n in numbers {
            let Some(&(_, target)) = found.iter().find(|(number, _)| *number == n) else {
                continue;
            };
            tx.insert_event(NewEvent {
                issue_id: target,
                actor_id: Some(actor_id),
                kind: TimelineKind::Referenced,
                source_issue_id: Some(source.id),
                ..NewEvent::default()
            })
            .await?;
        }
        Ok(())
    }

    /// The one place the `issues` webhook event is raised (opened, edited, closed, reopened;
    /// closed by a commit too), inside the transaction that made the change, so a delivery is
    /// queued if and only if the change commits.
    pub(super) async fn issues_hook(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        action: IssueAction,
        issue: &Issue,
        sender: &User,
        commit: Option<&str>,
    ) -> Result<()> {
        let kind = WebhookEventKind::Issues;
        let targets = self.webhook_targets(tx, repo, kind, None).await?;
        if targets.is_empty() {
            return Ok(());
        }
        let labels = tx.labels_of_issue(issue.id).await?;
        let base_url = self.webhooks.base_url();
        let src = self.issue_event_source(&base_url, repo, sender);
        let payload = super::payload::issues_event(&src, action, issue, &labels, commit);
        self.queue_webhook_event(tx, &targets, kind, payload)
            .await?;
        Ok(())
    }

    /// The one place the `issue_comment` webhook event is raised (created, edited).
    async fn issue_comment_hook(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        action: CommentAction,
        issue: &Issue,
        comment: &Comment,
        sender: &User,
    ) -> Result<()> {
        let kind = WebhookEventKind::IssueComment;
        let targets = self.webhook_targets(tx, repo, kind, None).await?;
        if targets.is_empty() {
            return Ok(());
        }
        let labels = tx.labels_of_issue(issue.id).await?;
        let base_url = self.webhooks.base_url();
        let src = self.issue_event_source(&base_url, repo, sender);
        let payload = super::payload::issue_comment_event(&src, action, issue, &labels, comment);
        self.queue_webhook_event(tx, &targets, kind, payload)
            .await?;
        Ok(())
    }

    fn issue_event_source<'a>(
        &self,
        base_url: &'a str,
        repo: &'a Repo,
        sender: &'a User,
    ) -> super::payload::EventSource<'a> {
        super::payload::EventSource {
            base_url,
            repo,
            repository: self.webhook_repository(repo),
            sender,
        }
    }
}
