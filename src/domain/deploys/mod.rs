//! Deploys: the operator's `[[deploy]]` commands, queued by pushes (post-receive's transaction),
//! re-runs and "deploy this commit"; run by the worker. Runs of one deploy never overlap, and
//! only the newest queued commit runs next.

mod follow;
mod gate;
mod lifecycle;
mod status;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{AtLeast, Error, Forge, Grant, Level, Principal, Result, Write};
use crate::config::{Deploy, DeployTrigger};
use crate::model::{DeployReason, PushEvent, Repo, ZERO_ID};
use crate::storage::{NewDeployRun, Tx};

pub use crate::storage::{DeployLogRow as DeployLogLine, DeployRunRow as DeployRun};
pub(in crate::domain) use follow::{Followed, is_failure};
pub use follow::{format_duration, outcome_text, outcome_word};
pub(in crate::domain) use gate::GatedRun;
pub use lifecycle::{ClaimedRun, RunEnd};

/// The deploys' shared state: configuration, the worker's wake-up, cancellation of running runs.
pub struct DeployState {
    /// Replaced whole by a reload (SIGHUP); a run already started keeps the copy it took.
    configs: std::sync::RwLock<std::sync::Arc<Vec<Deploy>>>,
    /// The public base URL, from the configuration with the listeners' bound ports.
    base_url: String,
    /// Holds one working folder per deploy, kept between its runs.
    pub work_dir: PathBuf,
    wakeup: Notify,
    running: Mutex<HashMap<i64, CancellationToken>>,
    /// Gate runs (`-o deploy=gate`) and the quarantine folder of their push, whose objects
    /// the run's checkout reads: the commit is not in the repository yet.
    gate_objects: Mutex<HashMap<i64, PathBuf>>,
}

/// A run just queued, as the pusher is told about it.
#[derive(Debug, Clone)]
pub struct QueuedRun {
    pub id: i64,
    pub deploy_name: String,
    pub url: String,
    /// Queued runs of the same deploy this one replaced.
    pub superseded: Vec<i64>,
}

impl DeployState {
    pub fn new(configs: Vec<Deploy>, base_url: String, work_dir: PathBuf) -> Self {
        Self {
            configs: std::sync::RwLock::new(std::sync::Arc::new(configs)),
            base_url,
            work_dir,
            wakeup: Notify::new(),
            running: Mutex::default(),
            gate_objects: Mutex::default(),
        }
    }

    /// The quarantine folder run `id` reads its commit from, when it is a gate run.
    pub fn gate_objects(&self, id: i64) -> Option<PathBuf> {
        self.gate_map().get(&id).cloned()
    }

    fn gate_map(&self) -> std::sync::MutexGuard<'_, HashMap<i64, PathBuf>> {
        self.gate_objects
            .lock()
            .expect("gate map is never poisoned: no code panics while holding it")
    }

    pub fn wake(&self) {
        self.wakeup.notify_one();
    }

    /// Resolves when a run may be waiting (or at once if one was queued since the last call).
    pub async fn woken(&self) {
        self.wakeup.notified().await;
    }

    /// The configured deploys as they are now (a reload replaces the list, not this copy).
    pub fn configs(&self) -> std::sync::Arc<Vec<Deploy>> {
        std::sync::Arc::clone(
            &self
                .configs
                .read()
                .expect("never poisoned: only swaps under it"),
        )
    }

    /// Uses `configs` from now on: for pushes after this call; runs already going keep theirs.
    pub fn replace(&self, configs: Vec<Deploy>) {
        *self
            .configs
            .write()
            .expect("never poisoned: only swaps under it") = std::sync::Arc::new(configs);
    }

    /// The deploys configured for `repo`.
    pub(in crate::domain) fn for_repo(&self, repo: &Repo) -> Vec<Deploy> {
        self.configs()
            .iter()
            .filter(|d| {
                d.repo.owner.as_str().eq_ignore_ascii_case(&repo.owner)
                    && d.repo.name.as_str().eq_ignore_ascii_case(&repo.name)
            })
            .cloned()
            .collect()
    }

    /// Whether a deploy of this name is configured (for any repository).
    pub fn is_configured(&self, name: &str) -> bool {
        self.configs().iter().any(|d| d.name.as_str() == name)
    }

    /// The working folder of deploy `name` (names are unique and plain: see config).
    pub fn folder(&self, name: &str) -> PathBuf {
        self.work_dir.join(name)
    }

    pub(in crate::domain) fn config(&self, repo: &Repo, name: &str) -> Option<Deploy> {
        self.for_repo(repo)
            .into_iter()
            .find(|d| d.name.as_str() == name)
    }

    pub(in crate::domain) fn url(&self, repo: &Repo, id: i64) -> String {
        let base = &self.base_url;
        format!("{base}/{}/{}/deploys/{id}", repo.owner, repo.name)
    }

    /// Registers a running run; its token is cancelled by a cancel or by `shutdown` (it is a
    /// child of it: the caller tells them apart by asking `shutdown`).
    fn started(&self, id: i64, shutdown: &CancellationToken) -> CancellationToken {
        let token = shutdown.child_token();
        self.running_map().insert(id, token.clone());
        token
    }

    fn finished(&self, id: i64) {
        self.running_map().remove(&id);
    }

    fn running_map(&self) -> std::sync::MutexGuard<'_, HashMap<i64, CancellationToken>> {
        self.running
            .lock()
            .expect("run map is never poisoned: no code panics while holding it")
    }
}

impl Forge {
    /// Queues a run of every deploy the event's refs trigger, inside the push's transaction.
    pub(super) async fn queue_push_deploys(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        event: &PushEvent,
    ) -> Result<Vec<QueuedRun>> {
        let mut out = Vec::new();
        // Gate runs already ran this push's commits before its refs moved: not again.
        let gated = tx.deploy_runs_of_push(event.id).await?;
        for update in event.refs.iter().filter(|u| !u.is_delete()) {
            for deploy in self.deploys.for_repo(repo).iter().filter(|d| {
                d.matches_ref(&update.name)
                    && !gated.iter().any(|(name, r, new)| {
                        name == d.name.as_str() && *r == update.name && *new == update.new
                    })
            }) {
                let (id, superseded) = tx
                    .queue_deploy_run(NewDeployRun {
                        repo_id: repo.id,
                        deploy_name: deploy.name.as_str(),
                        ref_name: &update.name,
                        old_id: &update.old,
                        new_id: &update.new,
                        push_event_id: Some(event.id),
                        reason: DeployReason::Push,
                        rerun_of: None,
                        triggered_by_id: event.pusher_id,
                        triggered_by_name: &event.pusher,
                        supersede: true,
                    })
                    .await?;
                // In the push's span: this line ties the run to the push's request id.
                tracing::info!(run = id, deploy = %deploy.name, "deploy queued");
                out.push(QueuedRun {
                    id,
                    deploy_name: deploy.name.to_string(),
                    url: self.deploys.url(repo, id),
                    superseded,
                });
            }
        }
        Ok(out)
    }

    /// The deploys configured for the grant's repository (its `[[deploy]]` entries).
    pub fn configured_deploys<L: Level>(&self, grant: &Grant<L>) -> Vec<Deploy> {
        self.deploys.for_repo(grant.repo())
    }

    /// A page of 50 runs, newest first.
    pub async fn deploy_runs<L: Level>(
        &self,
        grant: &Grant<L>,
        page: i64,
    ) -> Result<Vec<DeployRun>> {
        Ok(self
            .db
            .deploy_runs(grant.repo().id, 50, page.max(0) * 50)
            .await?)
    }

    /// Run `id` of the grant's repository; another repository's run is NotFound.
    pub async fn deploy_run<L: Level>(&self, grant: &Grant<L>, id: i64) -> Result<DeployRun> {
        self.db
            .deploy_run(grant.repo().id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// `run`'s log; a run of another repository than the grant's is NotFound.
    pub async fn deploy_log<L: Level>(
        &self,
        grant: &Grant<L>,
        run: &DeployRun,
    ) -> Result<Vec<DeployLogLine>> {
        if run.repo_id != grant.repo().id {
            return Err(Error::NotFound);
        }
        Ok(self.db.deploy_log(run.id, 0, 100_000).await?)
    }

    /// The newest good run of `run`'s deploy before it, if any (for "changes since last good").
    pub async fn deploy_runs_before<L: Level>(
        &self,
        grant: &Grant<L>,
        run: &DeployRun,
    ) -> Result<Vec<DeployRun>> {
        Ok(self
            .db
            .last_good_before(grant.repo().id, &run.deploy_name, run.id)
            .await?
            .into_iter()
            .collect())
    }

    /// Each deploy's newest good run.
    pub async fn last_good_deploys<L: Level>(&self, grant: &Grant<L>) -> Result<Vec<DeployRun>> {
        self.last_good_deploys_of(grant.repo()).await
    }

    /// As `last_good_deploys`, for the domain's own use (a dry-run push's deploy lines).
    pub(in crate::domain) async fn last_good_deploys_of(
        &self,
        repo: &Repo,
    ) -> Result<Vec<DeployRun>> {
        Ok(self.db.last_good_deploys(repo.id).await?)
    }

    /// Runs `run` again: same deploy, ref and commit. A reader cannot:
    ///
    /// ```compile_fail
    /// # use labforge::domain::{Forge, Grant, Read};
    /// # use labforge::domain::deploys::DeployRun;
    /// async fn rerun(forge: &Forge, grant: &Grant<Read>, run: &DeployRun) {
    ///     let _ = forge.rerun_deploy(grant, run).await;
    /// }
    /// ```
    /// Its twin, with a write grant, compiles:
    /// ```
    /// # use labforge::domain::{Forge, Grant, Write};
    /// # use labforge::domain::deploys::DeployRun;
    /// async fn rerun(forge: &Forge, grant: &Grant<Write>, run: &DeployRun) {
    ///     let _ = forge.rerun_deploy(grant, run).await;
    /// }
    /// ```
    pub async fn rerun_deploy<W: AtLeast<Write>>(
        &self,
        grant: &Grant<W>,
        run: &DeployRun,
    ) -> Result<QueuedRun> {
        let repo = grant.repo();
        if run.repo_id != repo.id {
            return Err(Error::NotFound);
        }
        if self.deploys.config(repo, &run.deploy_name).is_none() {
            return Err(Error::InvalidInput(format!(
                "deploy {} is no longer configured for this repository",
                run.deploy_name
            )));
        }
        self.queue_manual(
            grant.principal(),
            repo,
            &run.deploy_name,
            &run.ref_name,
            &run.new_id,
            DeployReason::Rerun,
            Some(run.id),
        )
        .await
    }

    /// Deploys a chosen commit (an earlier one is a rollback).
    pub async fn deploy_commit<W: AtLeast<Write>>(
        &self,
        grant: &Grant<W>,
        deploy_name: &str,
        commit: &str,
    ) -> Result<QueuedRun> {
        let repo = grant.repo();
        let deploy = self
            .deploys
            .config(repo, deploy_name)
            .ok_or_else(|| Error::InvalidInput(format!("no deploy named {deploy_name} here")))?;
        let dir = self.repo_dir(repo)?;
        let reads = std::sync::Arc::clone(&self.reads);
        let wanted = crate::git::read::CommitId(commit.to_owned());
        // Only a commit the refs reach (a deleted branch's waits for its purge, not a deploy).
        let full = super::blocking(move || reads.open(&dir)?.reachable_commit(&wanted))
            .await?
            .ok()
            .flatten()
            .ok_or(Error::NotFound)?
            .id
            .0;
        // The ref the run reports: the configured branch when it names one branch.
        let ref_name = match &deploy.trigger {
            DeployTrigger::Branch(p) if !p.as_str().contains(['*', '?', '[']) => {
                format!("refs/heads/{}", p.as_str())
            }
            DeployTrigger::Tag(p) if !p.as_str().contains(['*', '?', '[']) => {
                format!("refs/tags/{}", p.as_str())
            }
            _ => full.clone(),
        };
        let name = deploy.name.clone();
        self.queue_manual(
            grant.principal(),
            repo,
            name.as_str(),
            &ref_name,
            &full,
            DeployReason::Manual,
            None,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn queue_manual(
        &self,
        by: &Principal,
        repo: &Repo,
        deploy_name: &str,
        ref_name: &str,
        commit: &str,
        reason: DeployReason,
        rerun_of: Option<i64>,
    ) -> Result<QueuedRun> {
        let mut tx = self.db.begin().await?;
        let (id, superseded) = tx
            .queue_deploy_run(NewDeployRun {
                repo_id: repo.id,
                deploy_name,
                ref_name,
                old_id: ZERO_ID,
                new_id: commit,
                push_event_id: None,
                reason,
                rerun_of,
                triggered_by_id: by.actor().map(|a| a.user.id),
                triggered_by_name: triggered_by_name(by),
                supersede: true,
            })
            .await?;
        tx.commit().await?;
        self.deploys.wake();
        let run = QueuedRun {
            id,
            deploy_name: deploy_name.to_owned(),
            url: self.deploys.url(repo, id),
            superseded,
        };
        self.record_queued_statuses(std::slice::from_ref(&run))
            .await;
        Ok(run)
    }

    /// Tells webhooks (event `deploy`) that run `id` is now `status`. Best effort: a failure
    /// to queue is logged, never fails the deploy.
    async fn queue_deploy_event(&self, id: i64) {
        if let Err(e) = self.try_queue_deploy_event(id).await {
            tracing::warn!(error = %e, run = id, "queueing the deploy webhook event failed");
        }
        self.record_deploy_status(id).await;
    }

    async fn try_queue_deploy_event(&self, id: i64) -> Result<()> {
        let Some(run) = self.db.deploy_run_by_id(id).await? else {
            return Ok(());
        };
        let Some(repo) = self.repo_by_id(run.repo_id).await? else {
            return Ok(());
        };
        let kind = crate::model::WebhookEventKind::Deploy;
        let branch = run.ref_name.strip_prefix("refs/heads/");
        let mut tx = self.db.begin().await?;
        let targets = self.webhook_targets(&mut tx, &repo, kind, branch).await?;
        if targets.is_empty() {
            return Ok(());
        }
        let payload = serde_json::json!({
            "action": run.status,
            "deploy": {
                "id": run.id, "name": run.deploy_name, "status": run.status,
                "ref": run.ref_name, "sha": run.new_id, "before": run.old_id,
                "reason": run.reason, "exit_code": run.exit_code,
                "url": self.deploys.url(&repo, run.id),
                "queued_at": run.queued_at.unix_timestamp(),
                "started_at": run.started_at.map(|t| t.unix_timestamp()),
                "finished_at": run.finished_at.map(|t| t.unix_timestamp()),
            },
            "repository": self.webhook_repository(&repo),
            "sender": {"login": run.triggered_by_name, "username": run.triggered_by_name},
        });
        self.queue_webhook_event(&mut tx, &targets, kind, payload)
            .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(())
    }

    /// Cancels a queued run, or stops a running one (the worker records it `cancelled`).
    /// A reader cannot:
    ///
    /// ```compile_fail
    /// # use labforge::domain::{Forge, Grant, Read};
    /// # use labforge::domain::deploys::DeployRun;
    /// async fn cancel(forge: &Forge, grant: &Grant<Read>, run: &DeployRun) {
    ///     let _ = forge.cancel_deploy(grant, run).await;
    /// }
    /// ```
    /// Its twin, with a write grant, compiles:
    /// ```
    /// # use labforge::domain::{Forge, Grant, Write};
    /// # use labforge::domain::deploys::DeployRun;
    /// async fn cancel(forge: &Forge, grant: &Grant<Write>, run: &DeployRun) {
    ///     let _ = forge.cancel_deploy(grant, run).await;
    /// }
    /// ```
    pub async fn cancel_deploy<W: AtLeast<Write>>(
        &self,
        grant: &Grant<W>,
        run: &DeployRun,
    ) -> Result<()> {
        if run.repo_id != grant.repo().id {
            return Err(Error::NotFound);
        }
        if self.db.cancel_queued_deploy(run.id).await? {
            self.record_deploy_status(run.id).await;
            return Ok(());
        }
        match self.deploys.running_map().get(&run.id) {
            Some(token) => {
                token.cancel();
                Ok(())
            }
            None => Err(Error::Conflict("this run has already ended".into())),
        }
    }
}

/// Who a run started by hand says started it: the user, or the server's own name for the
/// operator's and the system's runs (they have no account).
fn triggered_by_name(by: &Principal) -> &str {
    match by {
        Principal::User(actor) => &actor.user.name,
        Principal::Operator => "operator",
        Principal::System => "labforge",
        Principal::Anonymous => "anonymous",
        Principal::DeployKey { .. } => "deploy key",
    }
}
