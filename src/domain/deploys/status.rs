//! Each deploy run reports on its commit as status `deploy/NAME`: pending while queued and
//! running, then success, failure (failed, timed out) or error (cancelled, superseded,
//! interrupted), linking to the run's page. Best effort: a status that cannot be recorded is
//! logged and the deploy goes on.

use super::QueuedRun;
use crate::domain::statuses::StatusReport;
use crate::domain::{Forge, Result};
use crate::model::{CommitState, DeployStatus, StatusContext};

impl Forge {
    /// After the transaction that queued `runs`: their pending statuses, and the end of the
    /// queued runs they superseded.
    pub(in crate::domain) async fn record_queued_statuses(&self, runs: &[QueuedRun]) {
        for run in runs {
            for id in run.superseded.iter().chain(std::iter::once(&run.id)) {
                self.record_deploy_status(*id).await;
            }
        }
    }

    /// Records run `id`'s current state on its commit.
    pub(in crate::domain) async fn record_deploy_status(&self, id: i64) {
        if let Err(e) = self.try_record_deploy_status(id).await {
            tracing::warn!(error = %e, run = id, "recording a deploy's commit status failed");
        }
    }

    async fn try_record_deploy_status(&self, id: i64) -> Result<()> {
        let Some(run) = self.db.deploy_run_by_id(id).await? else {
            return Ok(());
        };
        let Some(repo) = self.repo_by_id(run.repo_id).await? else {
            return Ok(());
        };
        // A tag's run names the tag object; the status goes on the commit it tags.
        let Some(commit) = self.commit_info(&repo, &run.new_id).await? else {
            return Ok(());
        };
        let state = match run.status {
            DeployStatus::Queued | DeployStatus::Running => CommitState::Pending,
            DeployStatus::Succeeded => CommitState::Success,
            DeployStatus::Failed | DeployStatus::TimedOut => CommitState::Failure,
            DeployStatus::Superseded | DeployStatus::Interrupted | DeployStatus::Cancelled => {
                CommitState::Error
            }
        };
        let ms = match (run.started_at, run.finished_at) {
            (Some(s), Some(f)) => Some((f - s).as_seconds_f64() * 1000.0),
            _ => None,
        };
        let description = format!(
            "deploy {} #{} {}",
            run.deploy_name,
            run.id,
            super::outcome_text(run.status, run.exit_code, ms)
        );
        let context = StatusContext::parse(&format!("deploy/{}", run.deploy_name))
            .map_err(|e| crate::domain::Error::Internal(anyhow::anyhow!(e)))?;
        let url = self.deploys.url(&repo, run.id);
        let mut tx = self.db.begin().await?;
        self.record_status(
            &mut tx,
            &repo,
            &StatusReport {
                sha: &commit.id.0,
                context: &context,
                state,
                description: &description,
                target_url: &url,
            },
            (None, &run.triggered_by_name),
            Some(&commit),
        )
        .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(())
    }
}
