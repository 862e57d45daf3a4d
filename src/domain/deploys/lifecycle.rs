//! A deploy run's life once queued, in one room: the worker claims it here, records its process
//! and its output here and ends it here; the worker itself only prepares the folder and runs
//! the command. So what a run's row says (its status, its notes) is written by the same code
//! that reads it back (`status.rs`, `follow.rs`, the pages).
//!
//! The worker acts without a visitor: claiming needs the `SystemKey` `app` handed it, and a
//! claimed run carries the system's grant on its repository, which the later steps take.

use tokio_util::sync::CancellationToken;

use super::{DeployLogLine, DeployRun};
use crate::config::Deploy;
use crate::domain::{Forge, Grant, Result, SystemKey, Write};
use crate::model::DeployStatus;

pub use crate::storage::InterruptedRun;

/// A run the worker took from the queue: the proof that it, and no other worker, runs it now.
/// Made only by `claim_deploy_run`, so the steps that take one write only to a run that is
/// running in this process.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    grant: Grant<Write>,
    run: DeployRun,
}

impl ClaimedRun {
    /// The system's grant on the run's repository.
    pub fn grant(&self) -> &Grant<Write> {
        &self.grant
    }

    pub fn run(&self) -> &DeployRun {
        &self.run
    }

    pub fn id(&self) -> i64 {
        self.run.id
    }
}

/// How a claimed run ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The command exited (with this code; none when a signal ended it).
    Exited(Option<i32>),
    /// The deploy's timeout ended it.
    TimedOut,
    /// A writer cancelled it.
    Cancelled,
    /// The server stopped while it ran.
    Interrupted,
    /// It could not start (the folder could not be prepared, the deploy is gone): why.
    CouldNotRun(String),
}

impl RunEnd {
    /// The run's recorded status and exit code.
    fn recorded(&self) -> (DeployStatus, Option<i32>) {
        match self {
            RunEnd::Exited(Some(0)) => (DeployStatus::Succeeded, Some(0)),
            RunEnd::Exited(code) => (DeployStatus::Failed, *code),
            RunEnd::TimedOut => (DeployStatus::TimedOut, None),
            RunEnd::Interrupted => (DeployStatus::Interrupted, None),
            RunEnd::Cancelled => (DeployStatus::Cancelled, None),
            RunEnd::CouldNotRun(_) => (DeployStatus::Failed, None),
        }
    }
}

impl Forge {
    /// At start, before any run: runs a dead process left `running` become `interrupted`;
    /// their recorded processes are returned so the worker can end any still alive.
    pub async fn interrupt_running_deploys(&self, _key: &SystemKey) -> Result<Vec<InterruptedRun>> {
        Ok(self.db.interrupt_running_deploys().await?)
    }

    /// Takes the next queued run that may go (FOR UPDATE SKIP LOCKED, one deploy never twice at
    /// once), now `running`, with the system's grant on its repository.
    pub async fn claim_deploy_run(&self, key: &SystemKey) -> Result<Option<ClaimedRun>> {
        let Some(run) = self.db.claim_deploy_run().await? else {
            return Ok(None);
        };
        // Runs go with their repository (ON DELETE CASCADE): a missing one took its run along.
        let Some(repo) = self.repo_by_id(run.repo_id).await? else {
            tracing::warn!(run = run.id, "a claimed deploy's repository is gone");
            return Ok(None);
        };
        Ok(Some(ClaimedRun {
            grant: Grant::for_system(key, repo),
            run,
        }))
    }

    /// The configuration of the claimed run's deploy; None once it is no longer configured.
    pub fn claimed_deploy_config(&self, claimed: &ClaimedRun) -> Option<Deploy> {
        self.deploys
            .config(claimed.grant.repo(), &claimed.run.deploy_name)
    }

    /// The claimed run's page.
    pub fn claimed_deploy_url(&self, claimed: &ClaimedRun) -> String {
        self.deploys.url(claimed.grant.repo(), claimed.id())
    }

    /// Registers the claimed run as running: the token it returns is cancelled by a cancel or
    /// by `shutdown` (a child of it: `finish_deploy_run`'s caller tells them apart). Webhooks
    /// and the commit's status hear that it started.
    pub async fn start_deploy_run(
        &self,
        claimed: &ClaimedRun,
        shutdown: &CancellationToken,
    ) -> CancellationToken {
        let stop = self.deploys.started(claimed.id(), shutdown);
        self.queue_deploy_event(claimed.id()).await;
        stop
    }

    /// Records the run's process (its group is ended after a crash: see
    /// `interrupt_running_deploys`).
    pub async fn record_deploy_process(&self, claimed: &ClaimedRun, process: &str) -> Result<()> {
        Ok(self.db.set_deploy_process(claimed.id(), process).await?)
    }

    /// Appends lines of the run's output (already numbered, redacted and capped).
    pub async fn append_deploy_log(
        &self,
        claimed: &ClaimedRun,
        lines: &[DeployLogLine],
    ) -> Result<()> {
        Ok(self.db.append_deploy_log(claimed.id(), lines).await?)
    }

    /// A line of labforge's own in the run's log.
    pub async fn note_deploy_run(&self, claimed: &ClaimedRun, text: &str) {
        self.note(claimed.id(), text).await;
    }

    /// Records how the run ended, lets webhooks and the commit's status know and wakes the
    /// queue (the next run of this deploy may go now). Returns the status recorded.
    pub async fn finish_deploy_run(
        &self,
        claimed: &ClaimedRun,
        end: RunEnd,
        truncated: bool,
    ) -> DeployStatus {
        let id = claimed.id();
        if let RunEnd::CouldNotRun(why) = &end {
            self.note(id, &format!("labforge: the deploy could not run: {why}"))
                .await;
        }
        let (status, code) = end.recorded();
        if let Err(e) = self.db.finish_deploy_run(id, status, code, truncated).await {
            tracing::error!(error = %e, run = id, "recording the end of a deploy failed");
        }
        self.deploys.finished(id);
        self.queue_deploy_event(id).await;
        self.deploys.wake();
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_records_its_status() {
        assert_eq!(
            RunEnd::Exited(Some(0)).recorded(),
            (DeployStatus::Succeeded, Some(0))
        );
        assert_eq!(
            RunEnd::Exited(Some(3)).recorded(),
            (DeployStatus::Failed, Some(3))
        );
        assert_eq!(
            RunEnd::Exited(None).recorded(),
            (DeployStatus::Failed, None)
        );
        assert_eq!(RunEnd::TimedOut.recorded(), (DeployStatus::TimedOut, None));
        assert_eq!(
            RunEnd::Cancelled.recorded(),
            (DeployStatus::Cancelled, None)
        );
        assert_eq!(
            RunEnd::Interrupted.recorded(),
            (DeployStatus::Interrupted, None)
        );
        assert_eq!(
            RunEnd::CouldNotRun("gone".into()).recorded(),
            (DeployStatus::Failed, None)
        );
    }
}
