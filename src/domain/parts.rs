//! The few handles the other rooms need from the `Forge` besides its use cases: the workers'
//! wake-ups and settings, the upload slots every git transport shares, the hook socket's path.
//! None of them reaches the database; that stays behind the domain's functions.

use std::path::Path;
use std::sync::Arc;

use super::deploys::DeployState;
use super::egress::Egress;
use super::push::{CheckState, HookGate};
use super::webhooks::WebhookService;
use super::{Forge, Result};
use crate::config::MirrorConfig;
use crate::git::{GitRunner, RepoStore, Upkeep};
use crate::model::BackupStatus;

impl Forge {
    /// The Prometheus series every room records into (`[metrics]`).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// The database pool's size and idle connections (a metrics scrape).
    pub fn database_pool_sizes(&self) -> (u32, usize) {
        self.db.pool_sizes()
    }

    /// The deploy and webhook queues' lengths (a metrics scrape).
    pub async fn queue_sizes(&self) -> Result<crate::storage::QueueSizes> {
        Ok(self.db.queue_sizes().await?)
    }

    /// Whether PostgreSQL answers (`/healthz`).
    pub async fn ping_database(&self) -> Result<()> {
        Ok(self.db.ping().await?)
    }

    /// Closes the database pool (the end of `serve` or of an admin command).
    pub async fn close_database(&self) {
        self.db.close().await;
    }

    /// The deploys' configuration, wake-up and working folders (the deploy worker, reloads).
    pub fn deploy_state(&self) -> &DeployState {
        &self.deploys
    }

    /// The webhook worker's settings and wake-up.
    pub fn webhook_service(&self) -> &WebhookService {
        &self.webhooks
    }

    /// The one outbound allow-list check (the webhook sender's, the mirrors').
    pub fn egress(&self) -> &Arc<Egress> {
        &self.egress
    }

    /// `[mirror]`'s settings (the mirror worker's parallelism).
    pub fn mirror_config(&self) -> &MirrorConfig {
        &self.mirror
    }

    /// The `[[check]]`s, their sandbox and their limits.
    pub fn check_state(&self) -> &CheckState {
        &self.checks
    }

    /// The slots upload-packs and archives share over every transport.
    pub fn upload_slots(&self) -> Arc<tokio::sync::Semaphore> {
        Arc::clone(&self.upload_slots)
    }

    /// The git runner (the deploy worker materialises trees with it).
    pub fn git_runner(&self) -> &GitRunner {
        &self.runner
    }

    /// The repositories on disk (backups copy them).
    pub fn repo_store(&self) -> &RepoStore {
        &self.repos
    }

    /// Repository upkeep (gc and its holds).
    pub fn upkeep(&self) -> &Upkeep {
        &self.upkeep
    }

    /// The hook socket's gate: its path and the tickets of running receive-packs.
    pub fn hook_gate(&self) -> &HookGate {
        &self.hooks
    }

    /// The program the repositories' hook shims run, when one is set.
    pub fn hook_program(&self) -> Option<&Path> {
        self.repos.hook_program()
    }

    /// A read-only, repeatable-read transaction for a backup's consistent instant. The backup
    /// room is the operator's own (it copies everything); it reads the rows through this.
    pub async fn backup_snapshot(&self) -> Result<crate::storage::SnapshotTx> {
        Ok(self.db.begin_snapshot().await?)
    }

    /// The scheduled backups' last outcome, shared with the backup schedule.
    pub fn backup_status(&self) -> Arc<std::sync::Mutex<BackupStatus>> {
        Arc::clone(&self.backup_status)
    }
}
