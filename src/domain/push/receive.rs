//! What the hooks ask: pre-receive (may this push happen?) and post-receive (it happened: record
//! it and queue what it triggers, in one transaction).

use std::path::Path;

use super::PushContext;
use super::checks::{PushFlags, say_plan};
use crate::domain::deploys::{Followed, is_failure};
use crate::domain::{Error, Forge, Result};
use crate::model::{PushEvent, RefUpdate, Repo};
use crate::storage::{NewPush, Tx};

/// Issues a push closed: (number, title).
type ClosedIssues = Vec<(i64, String)>;

/// Lines for the pusher; the hook prints them and git shows them as `remote:` lines.
pub type Say = tokio::sync::mpsc::Sender<String>;

pub(super) async fn say(to: &Say, line: impl Into<String>) {
    // The pusher may have gone; the push goes on without an audience.
    let _ = to.send(line.into()).await;
}

impl Forge {
    /// Decides a push. On yes, records it as pending (post-receive confirms it); on no, says
    /// which rule or check refused which ref. Refuses any push without a live ticket: fail
    /// closed. Rules and checks come first, without a permit: a check may take minutes and a
    /// backup must not wait for it. Then, while a backup holds ref updates, it waits (see
    /// `hold`); an approved push keeps its permit until post-receive has recorded it.
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
        if !self
            .decide_push(&ctx, updates, flags, quarantine, to)
            .await?
        {
            return Ok(false);
        }
        // After the rules and checks, before the permit: a gate run may take the deploy's
        // whole timeout, and a backup must not wait for it.
        let gated = if flags.gate {
            let (repo, actor, until) = (&ctx.repo, &ctx.actor, ctx.wait_until);
            match self
                .gate_deploys(repo, actor, updates, quarantine, until, to)
                .await?
            {
                Some(runs) => runs,
                None => return Ok(false),
            }
        } else {
            Vec::new()
        };
        if !self.hooks.updates.enter(nonce).await {
            let why = "a backup held pushes for too long";
            self.gate_ran_but_not_landed(&gated, why, Some(to)).await;
            say(to, "labforge: a backup is holding pushes for longer than it should; nothing was changed, try again").await;
            return Ok(false);
        }
        let id = self
            .db
            .insert_pending_push(NewPush {
                repo_id: ctx.repo.id,
                pusher_id: Some(ctx.actor.user.id),
                pusher_name: &ctx.actor.user.name,
                nonce,
                push_options,
                refs: updates,
                checks_skipped: flags.skip_checks,
            })
            .await;
        match id {
            Ok(id) => {
                self.hooks.set_pending(nonce, id);
                for run in &gated {
                    self.db.link_deploy_run_to_push(run.id, id).await?;
                }
                self.hooks.set_gated(nonce, gated);
                Ok(true)
            }
            Err(e) => {
                self.hooks.updates.leave(nonce);
                let why = "the push could not be recorded";
                self.gate_ran_but_not_landed(&gated, why, Some(to)).await;
                Err(e.into())
            }
        }
    }

    /// The decision itself: the mirror and branch rules, then the checks (all of them, and
    /// the plan, on a dry run, which always says no). True when the push may go on.
    async fn decide_push(
        &self,
        ctx: &PushContext,
        updates: &[RefUpdate],
        flags: PushFlags,
        quarantine: Option<&Path>,
        to: &Say,
    ) -> Result<bool> {
        let repo = &ctx.repo;
        if let Some(why) = self.mirror_refusal(repo).await? {
            say(to, format!("labforge: refusing the push: {why}")).await;
            return Ok(false);
        }
        let rules = self.rules_of(repo).await?;
        let mut refusals = Vec::new();
        for update in updates {
            if let Some(why) = self
                .refusal(repo, &rules, &ctx.principal, update, quarantine)
                .await?
            {
                refusals.push(format!("refusing {why}"));
            }
        }
        // A push the rules refuse anyway is not checked, unless a dry run asks for everything.
        if refusals.is_empty() || flags.dry_run {
            let review = self
                .review_push(ctx, &rules, updates, flags, quarantine, to)
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
            let mut failed = Vec::new();
            for run in &runs {
                if let Followed::Ended(status) = self.follow_deploy(run, wait_until, to).await?
                    && is_failure(status)
                {
                    failed.push(format!("deploy {} #{}", run.deploy_name, run.id));
                }
            }
            // git cannot fail a push from post-receive (the refs have moved): the failure is
            // the last line, starting with `error:` for git's colours. One run's result line
            // already is.
            if runs.len() > 1 && !failed.is_empty() {
                say(
                    to,
                    format!(
                        "error: {} of {} deploys did not succeed: {}",
                        failed.len(),
                        runs.len(),
                        failed.join(", ")
                    ),
                )
                .await;
            }
        }
        Ok(())
    }

    /// Gate runs of push `nonce` whose ref git did not move (another ref of the push moved,
    /// or post-receive would not run): the lab runs a commit that is not on the branch.
    /// The ones that landed get their commit status now that the commit is in the repository.
    async fn confirm_gated(&self, nonce: &str, updates: &[RefUpdate], to: &Say) {
        let gated = self.hooks.take_gated(nonce);
        let (landed, not): (Vec<_>, Vec<_>) = gated.into_iter().partition(|g| {
            updates
                .iter()
                .any(|u| u.name == g.ref_name && u.new == g.new)
        });
        for run in &landed {
            self.record_deploy_status(run.id).await;
        }
        self.gate_ran_but_not_landed(&not, "git rejected the ref update", Some(to))
            .await;
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
        self.confirm_gated(nonce, updates, to).await;
        let Some((event, runs, closed)) = self.record_received(&repo, pending, updates).await?
        else {
            return Ok(None);
        };
        for (number, title) in &closed {
            say(to, format!("closed #{number} {title}")).await;
        }
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
    ) -> Result<
        Option<(
            PushEvent,
            Vec<super::super::deploys::QueuedRun>,
            ClosedIssues,
        )>,
    > {
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
        self.record_queued_statuses(&runs).await;
        if let Err(e) = self.after_push(repo).await {
            tracing::warn!(error = %e, repo = %repo.full_name(), "after-push bookkeeping failed");
        }
        let closed = self.apply_issue_refs(repo, &event).await;
        Ok(Some((event, runs, closed)))
    }

    /// `fixes #12` and friends from the pushed commits; on failure it is retried at the next
    /// start (see `replay_issue_refs`), never lost and never done twice.
    /// Returns the issues it closed.
    async fn apply_issue_refs(&self, repo: &Repo, event: &PushEvent) -> ClosedIssues {
        let applied = match self.apply_pushed_commits(repo, event).await {
            Ok(done) => self
                .db
                .mark_issue_refs_applied(event.id)
                .await
                .map(|()| done.closed)
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        applied.unwrap_or_else(|e| {
            tracing::warn!(error = %e, push = event.id, "applying commit references to issues failed; retried at the next start");
            Vec::new()
        })
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
