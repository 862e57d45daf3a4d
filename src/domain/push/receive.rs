//! What the hooks ask: pre-receive (may this push happen?) and post-receive (it happened: record
//! it and queue what it triggers, in one transaction).

use std::path::Path;

use super::PushContext;
use super::checks::{PushFlags, say_plan};
use crate::domain::{Error, Forge, Result};
use crate::model::{PushEvent, RefUpdate, Repo};
use crate::storage::{NewPush, Tx};

/// Lines for the pusher; the hook prints them and git shows them as `remote:` lines.
pub type Say = tokio::sync::mpsc::Sender<String>;

pub(super) async fn say(to: &Say, line: impl Into<String>) {
    // The pusher may have gone; the push goes on without an audience.
    let _ = to.send(line.into()).await;
}

impl Forge {
    /// Decides a push. On yes, records it as pending (post-receive confirms it); on no, says
    /// which rule refused which ref. Refuses any push without a live ticket: fail closed.
    pub async fn pre_receive(
        &self,
        nonce: &str,
        updates: &[RefUpdate],
        push_options: &[String],
        quarantine: Option<&Path>,
        to: &Say,
    ) -> Result<bool> {
        let Some(ctx) = self.hooks.context(nonce) else {
            say(to, "labforge: this push has no valid ticket (did the server restart?); nothing was changed").await;
            return Ok(false);
        };
        let flags = PushFlags::parse(push_options);
        let repo = &ctx.repo;
        let rules = self.branch_rules(repo).await?;
        let mut refusals = Vec::new();
        for update in updates {
            if let Some(why) = self
                .refusal(repo, &rules, &ctx.actor, update, quarantine)
                .await?
            {
                refusals.push(format!("refusing {why}"));
            }
        }
        // A push the rules refuse anyway is not checked, unless a dry run asks for everything.
        if refusals.is_empty() || flags.dry_run {
            let review = self
                .review_push(&ctx, &rules, updates, flags, quarantine, to)
                .await?;
            refusals.extend(review.refusals);
            if flags.dry_run {
                for why in &refusals {
                    say(to, format!("labforge: {why}")).await;
                }
                say_plan(&review.prepared, !refusals.is_empty(), to).await;
                return Ok(false);
            }
        }
        if !refusals.is_empty() {
            for why in &refusals {
                say(to, format!("labforge: {why}")).await;
            }
            say(to, "labforge: nothing was changed").await;
            return Ok(false);
        }
        let id = self
            .db
            .insert_pending_push(NewPush {
                repo_id: repo.id,
                pusher_id: Some(ctx.actor.user.id),
                pusher_name: &ctx.actor.user.name,
                nonce,
                push_options,
                refs: updates,
                checks_skipped: flags.skip_checks,
            })
            .await?;
        self.hooks.set_pending(nonce, id);
        Ok(true)
    }

    /// Records what git did and queues what it triggers, then tells the pusher; with
    /// `-o deploy=wait` it follows each triggered run to its end.
    pub async fn post_receive(&self, nonce: &str, updates: &[RefUpdate], to: &Say) -> Result<()> {
        let Some(PushContext {
            repo,
            pending: Some(pending),
            wait_until,
            ..
        }) = self.hooks.context(nonce)
        else {
            say(
                to,
                "labforge: this push was not recorded (no ticket); deploys did not run",
            )
            .await;
            return Ok(());
        };
        let Some((event, runs)) = self.record_received(&repo, pending, updates).await? else {
            return Ok(());
        };
        let wait = event.push_options.iter().any(|o| o == "deploy=wait");
        for run in &runs {
            say(
                to,
                format!("deploy {} #{} queued: {}", run.deploy_name, run.id, run.url),
            )
            .await;
        }
        if wait {
            for run in &runs {
                self.follow_deploy(run, wait_until, to).await?;
            }
        }
        Ok(())
    }

    /// Marks pending push `pending` received with `updates` and queues its jobs, in one
    /// transaction; then wakes the workers. None if it was already settled.
    pub(in crate::domain) async fn record_received(
        &self,
        repo: &Repo,
        pending: i64,
        updates: &[RefUpdate],
    ) -> Result<Option<(PushEvent, Vec<super::super::deploys::QueuedRun>)>> {
        // Webhook payloads read git and the database: before the transaction, never holding
        // its connection while waiting for another.
        let Some(draft) = self.db.pending_push_as_event(pending, updates).await? else {
            return Ok(None);
        };
        let hooks = self.prepare_push_webhooks(repo, &draft).await?;
        let mut tx: Tx = self.db.begin().await?;
        let Some(event) = tx.receive_push(pending, updates).await? else {
            return Ok(None);
        };
        let runs = self.queue_push_deploys(&mut tx, repo, &event).await?;
        self.queue_push_webhooks(&mut tx, &hooks).await?;
        tx.commit().await?;
        self.deploys.wake();
        self.webhook_wakeup();
        self.record_queued_statuses(&runs).await;
        if let Err(e) = self.after_push(repo).await {
            tracing::warn!(error = %e, repo = %repo.full_name(), "after-push bookkeeping failed");
        }
        self.apply_issue_refs(repo, &event).await;
        Ok(Some((event, runs)))
    }

    /// `fixes #12` and friends from the pushed commits; on failure it is retried at the next
    /// start (see `replay_issue_refs`), never lost and never done twice.
    async fn apply_issue_refs(&self, repo: &Repo, event: &PushEvent) {
        let applied = match self.apply_pushed_commits(repo, event).await {
            Ok(_) => self
                .db
                .mark_issue_refs_applied(event.id)
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            tracing::warn!(error = %e, push = event.id, "applying commit references to issues failed; retried at the next start");
        }
    }

    /// At start: pushes received but not applied to issues (the server stopped in between).
    pub async fn replay_issue_refs(&self) -> Result<usize> {
        let pending = self.db.pushes_without_issue_refs().await?;
        for id in &pending {
            let Some(event) = self.db.push_event(*id).await? else {
                continue;
            };
            if let Some(repo) = self.repo_by_id(event.repo_id).await? {
                self.apply_issue_refs(&repo, &event).await;
            }
        }
        Ok(pending.len())
    }
}
