//! What the hooks ask: pre-receive (may this push happen?) and post-receive (it happened: record
//! it and queue what it triggers, in one transaction).

use std::path::Path;

use super::PushContext;
use crate::domain::{Error, Forge, Result};
use crate::model::{PushEvent, RefUpdate, Repo};
use crate::storage::{NewPush, Tx};

/// Lines for the pusher; the hook prints them and git shows them as `remote:` lines.
pub type Say = tokio::sync::mpsc::Sender<String>;

async fn say(to: &Say, line: impl Into<String>) {
    // The pusher may have gone; the push goes on without an audience.
    let _ = to.send(line.into()).await;
}

impl Forge {
    /// Decides a push. On yes, records it as pending (post-receive confirms it); on no, says
    /// which rule refused which ref. Refuses any push without a live ticket: fail closed.
    /// While a backup holds ref updates it waits first (see `hold`); an approved push keeps
    /// its permit until post-receive has recorded it.
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
        if !self.hooks.updates.enter(nonce).await {
            say(to, "labforge: a backup is holding pushes for longer than it should; nothing was changed, try again").await;
            return Ok(false);
        }
        let decided = self
            .decide_push(&ctx, nonce, updates, push_options, quarantine, to)
            .await;
        if !matches!(decided, Ok(true)) {
            self.hooks.updates.leave(nonce);
        }
        decided
    }

    /// The decision itself: branch rules, then the pending record.
    async fn decide_push(
        &self,
        ctx: &PushContext,
        nonce: &str,
        updates: &[RefUpdate],
        push_options: &[String],
        quarantine: Option<&Path>,
        to: &Say,
    ) -> Result<bool> {
        let repo = &ctx.repo;
        if let Some(why) = self.mirror_refusal(repo).await? {
            say(to, format!("labforge: refusing the push: {why}")).await;
            return Ok(false);
        }
        let rules = self.branch_rules(repo).await?;
        let mut refused = false;
        for update in updates {
            if let Some(why) = self
                .refusal(repo, &rules, &ctx.actor, update, quarantine)
                .await?
            {
                say(to, format!("labforge: refusing {why}")).await;
                refused = true;
            }
        }
        if refused {
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
            })
            .await?;
        self.hooks.set_pending(nonce, id);
        Ok(true)
    }

    /// Records what git did and queues what it triggers, then tells the pusher; with
    /// `-o deploy=wait` it follows each triggered run to its end.
    pub async fn post_receive(&self, nonce: &str, updates: &[RefUpdate], to: &Say) -> Result<()> {
        let recorded = self.record_post_receive(nonce, updates, to).await;
        // Recorded (or not): a backup may take its instant now.
        self.hooks.updates.leave(nonce);
        let Some((runs, wait_until, wait)) = recorded? else {
            return Ok(());
        };
        if wait {
            for run in &runs {
                self.follow_deploy(run, wait_until, to).await?;
            }
        }
        Ok(())
    }

    /// post-receive up to the deploys it queued, which `-o deploy=wait` then follows.
    async fn record_post_receive(
        &self,
        nonce: &str,
        updates: &[RefUpdate],
        to: &Say,
    ) -> Result<
        Option<(
            Vec<super::super::deploys::QueuedRun>,
            tokio::time::Instant,
            bool,
        )>,
    > {
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
            return Ok(None);
        };
        let Some((event, runs)) = self.record_received(&repo, pending, updates).await? else {
            return Ok(None);
        };
        let wait = event.push_options.iter().any(|o| o == "deploy=wait");
        for run in &runs {
            say(
                to,
                format!("deploy {} #{} queued: {}", run.deploy_name, run.id, run.url),
            )
            .await;
        }
        Ok(Some((runs, wait_until, wait)))
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
        self.queue_push_mirrors(&mut tx, repo).await?;
        tx.commit().await?;
        self.deploys.wake();
        self.webhook_wakeup();
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

    /// At start: pushes received but not applied to issues (the server stopped in between),
    /// each within `budget`; one that runs out of time is marked and not tried again.
    pub async fn replay_issue_refs(&self, budget: std::time::Duration) -> Result<usize> {
        let pending = self.db.pushes_without_issue_refs().await?;
        for id in &pending {
            let replay = async {
                let Some(event) = self.db.push_event(*id).await? else {
                    return Ok(());
                };
                if let Some(repo) = self.repo_by_id(event.repo_id).await? {
                    self.apply_issue_refs(&repo, &event).await;
                }
                Ok::<(), Error>(())
            };
            match tokio::time::timeout(budget, replay).await {
                Ok(result) => result?,
                Err(_) => {
                    let reason = format!(
                        "applying issue references took longer than {} s",
                        budget.as_secs()
                    );
                    tracing::warn!(push = id, reason, "gave up on a push's issue references");
                    self.db.fail_issue_refs(*id, &reason).await?;
                }
            }
        }
        Ok(pending.len())
    }
}
