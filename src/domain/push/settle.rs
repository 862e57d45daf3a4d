//! At start: pushes whose post-receive never arrived (the server died between the two hooks)
//! are settled from the refs on disk, so what git applied is recorded and triggers its jobs once.

use crate::domain::{Forge, Result};
use crate::model::{RefUpdate, ZERO_ID};

impl Forge {
    pub async fn settle_pending_pushes(&self) -> Result<usize> {
        let mut settled = 0;
        for pending in self.db.pending_pushes().await? {
            let Some(repo) = self.repo_by_id(pending.repo_id).await? else {
                continue;
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
            .await??;
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
            settled += 1;
        }
        Ok(settled)
    }
}
