//! `git push -o deploy=gate`: each deploy the push triggers runs in pre-receive, on the
//! quarantined objects, before git moves a ref; a run that does not succeed refuses the push,
//! so `git push` exits 1 and the ref stays where it was. This is what `-o deploy=wait` cannot
//! give: post-receive runs after the refs moved, and git cannot fail a push from there.
//!
//! The run is an ordinary run of the deploy (queued, claimed by the worker, logged, on the
//! deploy's page), so it waits for a running run of the same deploy and is ended at the
//! deploy's timeout like any other: the deploy's one-at-a-time lock is held at most that long.
//! It does not supersede older queued runs (the push may still be refused, and their commits
//! would then never deploy). The push waits at most until its transport's deadline; a run
//! still going then is cancelled and the push refused.
//!
//! The deploy has run before the ref moves. If git then fails to move it (a concurrent push
//! took the ref's lock, a full disk), the lab runs a commit that is not on the branch: the run
//! says so in its log, and the pusher is told (by post-receive when other refs landed, and in
//! any case by the line printed when the gate passed, which git's own `[remote rejected]`
//! then follows).

use std::path::Path;

use super::{Followed, QueuedRun};
use crate::domain::push::Say;
use crate::domain::{Forge, Result};
use crate::model::{Actor, DeployReason, RefUpdate, Repo};
use crate::storage::NewDeployRun;

/// A gate run that succeeded, waiting for its push to land.
#[derive(Debug, Clone)]
pub struct GatedRun {
    pub id: i64,
    pub deploy_name: String,
    pub ref_name: String,
    pub new: String,
}

impl GatedRun {
    fn short(&self) -> &str {
        &self.new[..12.min(self.new.len())]
    }
}

impl Forge {
    /// Runs, one after the other, every deploy `updates` trigger on `repo`, reading the pushed
    /// objects from `quarantine`, following each run for the pusher until `until`. Some(runs)
    /// when all succeeded; None (the push is refused) at the first that did not.
    pub(in crate::domain) async fn gate_deploys(
        &self,
        repo: &Repo,
        actor: &Actor,
        updates: &[RefUpdate],
        quarantine: Option<&Path>,
        until: tokio::time::Instant,
        to: &Say,
    ) -> Result<Option<Vec<GatedRun>>> {
        let mut passed = Vec::new();
        for update in updates.iter().filter(|u| !u.is_delete()) {
            let names: Vec<String> = self
                .deploys
                .for_repo(repo)
                .into_iter()
                .filter(|d| d.matches_ref(&update.name))
                .map(|d| d.name.to_string())
                .collect();
            for name in names {
                let run = self
                    .queue_gate_run(repo, actor, &name, update, quarantine)
                    .await?;
                say(
                    to,
                    format!(
                        "deploy {name} #{} gating {} at {} (before the ref moves): {}",
                        run.id,
                        update.name,
                        &update.new[..12.min(update.new.len())],
                        run.url
                    ),
                )
                .await;
                let followed = self.follow_deploy(&run, until, to).await;
                self.deploys.gate_map().remove(&run.id);
                let followed = followed?;
                let gated = GatedRun {
                    id: run.id,
                    deploy_name: name.clone(),
                    ref_name: update.name.clone(),
                    new: update.new.clone(),
                };
                if followed.succeeded() {
                    passed.push(gated);
                    continue;
                }
                if matches!(followed, Followed::StillGoing | Followed::Lost) {
                    self.stop_gate_run(run.id).await;
                }
                self.note(
                    run.id,
                    "labforge: this gate run (-o deploy=gate) did not succeed, so the push was refused and the ref did not move",
                )
                .await;
                self.gate_ran_but_not_landed(&passed, "a later gate run did not succeed", Some(to))
                    .await;
                say(
                    to,
                    format!(
                        "error: labforge: deploy {name} #{} did not succeed: refusing {} (-o deploy=gate); nothing was changed",
                        run.id, update.name
                    ),
                )
                .await;
                return Ok(None);
            }
        }
        for run in &passed {
            say(
                to,
                format!(
                    "labforge: deploy {} #{} passed the gate; should git still reject {} below, the lab runs {}, which is not on the branch",
                    run.deploy_name, run.id, run.ref_name, run.short()
                ),
            )
            .await;
        }
        Ok(Some(passed))
    }

    /// Queues the gate run of deploy `name` for `update`; the worker reads its commit from
    /// `quarantine` (registered before the run can be claimed).
    async fn queue_gate_run(
        &self,
        repo: &Repo,
        actor: &Actor,
        name: &str,
        update: &RefUpdate,
        quarantine: Option<&Path>,
    ) -> Result<QueuedRun> {
        let mut tx = self.db.begin().await?;
        let (id, _) = tx
            .queue_deploy_run(NewDeployRun {
                repo_id: repo.id,
                deploy_name: name,
                ref_name: &update.name,
                old_id: &update.old,
                new_id: &update.new,
                push_event_id: None,
                reason: DeployReason::Push,
                rerun_of: None,
                triggered_by_id: Some(actor.user.id),
                triggered_by_name: &actor.user.name,
                supersede: false,
            })
            .await?;
        if let Some(q) = quarantine {
            self.deploys.gate_map().insert(id, q.to_path_buf());
        }
        if let Err(e) = tx.commit().await {
            self.deploys.gate_map().remove(&id);
            return Err(e.into());
        }
        self.deploys.wake();
        Ok(QueuedRun {
            id,
            deploy_name: name.to_owned(),
            url: self.deploys.url(repo, id),
            superseded: Vec::new(),
        })
    }

    /// Ends a gate run the push no longer waits for: its objects go with the push.
    async fn stop_gate_run(&self, id: i64) {
        match self.db.cancel_queued_deploy(id).await {
            Ok(true) => self.record_deploy_status(id).await,
            Ok(false) => {
                if let Some(token) = self.deploys.running_map().get(&id) {
                    token.cancel();
                }
            }
            Err(e) => tracing::warn!(error = %e, run = id, "cancelling a gate run failed"),
        }
    }

    /// Gate runs that succeeded but whose ref did not move (`why`): each run's log says so,
    /// and the pusher is told when still there.
    pub(in crate::domain) async fn gate_ran_but_not_landed(
        &self,
        runs: &[GatedRun],
        why: &str,
        to: Option<&Say>,
    ) {
        for run in runs {
            let text = format!(
                "labforge: {} did not move to {} after this gate run ({why}): the lab runs a commit that is not on the branch",
                run.ref_name,
                run.short()
            );
            tracing::warn!(run = run.id, deploy = %run.deploy_name, why, "a gate run's ref did not move");
            self.note(run.id, &text).await;
            if let Some(to) = to {
                say(
                    to,
                    format!("error: deploy {} #{}: {text}", run.deploy_name, run.id),
                )
                .await;
            }
        }
    }

    /// Gate runs whose push ended without post-receive (git moved none of its refs): noted in
    /// their logs. Called by the deploy worker's loop.
    pub async fn note_unlanded_gates(&self) {
        let runs = self.hooks.take_unlanded();
        if !runs.is_empty() {
            self.gate_ran_but_not_landed(&runs, "git rejected the ref update", None)
                .await;
        }
    }

    pub(super) async fn note(&self, id: i64, text: &str) {
        if let Err(e) = self.db.append_deploy_note(id, text).await {
            tracing::warn!(error = %e, run = id, "storing a deploy note failed");
        }
    }
}

async fn say(to: &Say, line: impl Into<String>) {
    // The pusher may have gone; the push goes on without an audience.
    let _ = to.send(line.into()).await;
}
