//! At start: pushes whose post-receive never arrived (the server died between the two hooks)
//! are settled from the refs on disk, so what git applied is recorded and triggers its jobs once;
//! then received pushes whose issue references were not applied get them. This runs in the
//! background while the server already answers, each event with a budget of its own: one that
//! fails or runs out of time is marked with the reason and the next one is taken, so one bad
//! event (a tree bomb's payload, say) can never hold the start or loop at every restart.

use std::time::Duration;

use crate::domain::{Error, Forge, Result};
use crate::model::{RefUpdate, ZERO_ID};
use crate::storage::PendingPushRow;

/// What one event's recovery may take.
pub const EVENT_BUDGET: Duration = Duration::from_secs(60);

impl Forge {
    /// Settles every pending push, then replays missing issue references; logs what it did.
    pub async fn recover_pushes(&self) {
        match self.settle_pending_pushes(EVENT_BUDGET).await {
            Ok(0) => {}
            Ok(settled) => tracing::info!(settled, "settled pushes left pending by the last run"),
            Err(e) => tracing::error!(error = %e, "settling pending pushes failed"),
        }
        if let Err(e) = self.replay_issue_refs(EVENT_BUDGET).await {
            tracing::error!(error = %e, "replaying issue references failed");
        }
    }

    /// Returns how many pending pushes were looked at (settled, abandoned or failed).
    pub async fn settle_pending_pushes(&self, budget: Duration) -> Result<usize> {
        let pending = self.db.pending_pushes().await?;
        for push in &pending {
            let outcome = tokio::time::timeout(budget, self.settle_push(push)).await;
            let reason = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => format!("settling failed: {e}"),
                Err(_) => format!("settling took longer than {} s", budget.as_secs()),
            };
            tracing::warn!(
                push = push.id,
                reason,
                "a push left pending could not be settled; marked failed"
            );
            self.db.fail_pending_push(push.id, &reason).await?;
        }
        Ok(pending.len())
    }

    async fn settle_push(&self, pending: &PendingPushRow) -> Result<()> {
        let Some(repo) = self.repo_by_id(pending.repo_id).await? else {
            return Ok(()); // deleted with its events
        };
        let dir = self.repo_dir(&repo)?;
        let reads = std::sync::Arc::clone(&self.reads);
        let names: Vec<String> = pending.refs.iter().map(|r| r.name.clone()).collect();
        let now = super::super::blocking(move || {
            let reader = reads.open(&dir)?;
            names
                .iter()
                .map(|n| reader.ref_target(n))
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .await?
        .map_err(Error::from)?;
        let applied: Vec<RefUpdate> = pending
            .refs
            .iter()
            .zip(now)
            .filter(|(r, now)| now.as_deref().unwrap_or(ZERO_ID) == r.new)
            .map(|(r, _)| r.clone())
            .collect();
        if applied.is_empty() {
            self.db.abandon_push(pending.id).await?;
        } else {
            tracing::info!(push = pending.id, repo = %repo.full_name(), refs = applied.len(),
                "recording a push whose post-receive did not arrive");
            self.record_received(&repo, pending.id, &applied).await?;
        }
        Ok(())
    }
}
