//! Commit statuses: checks, deploys and outside CI (through the API) report on commits in one
//! place, in Gitea's shape. Each status is recorded with its `status` webhook deliveries in one
//! transaction. `latest_statuses` is the read pages use: the current state of many commits at
//! once (a log page asks for 50).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;

use super::{Error, Forge, Result, blocking, rfc3339};
use crate::git::read::CommitInfo;
use crate::model::{Actor, CommitState, Repo, StatusContext, UserId, WebhookEventKind};
use crate::storage::{NewStatus, StatusRow, Tx};

/// One reported status.
#[derive(Debug, Clone)]
pub struct CommitStatus {
    pub id: i64,
    pub sha: String,
    pub context: String,
    pub state: CommitState,
    pub description: String,
    pub target_url: String,
    pub creator_id: Option<UserId>,
    pub creator_name: String,
    pub created_at: OffsetDateTime,
}

impl From<StatusRow> for CommitStatus {
    fn from(r: StatusRow) -> Self {
        CommitStatus {
            // The column's CHECK allows exactly the six states.
            state: r.state.parse().unwrap_or(CommitState::Error),
            id: r.id,
            sha: r.sha,
            context: r.context,
            description: r.description,
            target_url: r.target_url,
            creator_id: r.creator_id,
            creator_name: r.creator_name,
            created_at: r.created_at,
        }
    }
}

/// A commit's current statuses (the newest per context, by context) and their combined state.
#[derive(Debug, Clone)]
pub struct CombinedStatus {
    pub state: CommitState,
    pub statuses: Vec<CommitStatus>,
}

impl CombinedStatus {
    pub(super) fn of(statuses: Vec<CommitStatus>) -> Self {
        CombinedStatus {
            state: CommitState::combine(statuses.iter().map(|s| s.state)),
            statuses,
        }
    }
}

/// What a status says, before it is recorded.
#[derive(Clone, Copy)]
pub struct StatusReport<'a> {
    pub sha: &'a str,
    pub context: &'a StatusContext,
    pub state: CommitState,
    pub description: &'a str,
    pub target_url: &'a str,
}

/// Longest description kept (GitHub's limit is 140; Gitea's column is TEXT).
const MAX_DESCRIPTION: usize = 1000;
const MAX_URL: usize = 2000;

impl Forge {
    /// Records `report` on `repo` by `creator` inside `tx` and queues its `status` webhook
    /// deliveries there; `commit` (when the caller has it) fills the payload's `commit`. Call
    /// `webhook_wakeup()` after committing.
    pub(crate) async fn record_status(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        report: &StatusReport<'_>,
        creator: (Option<UserId>, &str),
        commit: Option<&CommitInfo>,
    ) -> Result<CommitStatus> {
        let row = tx
            .insert_status(NewStatus {
                repo_id: repo.id,
                sha: report.sha,
                context: report.context.as_str(),
                state: report.state.as_str(),
                description: cut(report.description, MAX_DESCRIPTION),
                target_url: cut(report.target_url, MAX_URL),
                creator_id: creator.0,
                creator_name: creator.1,
            })
            .await?;
        let status = CommitStatus::from(row);
        let kind = WebhookEventKind::Status;
        let targets = self.webhook_targets(tx, repo, kind, None).await?;
        if !targets.is_empty() {
            let commit = match commit {
                Some(c) => self.webhook_commit(repo, c),
                None => json!({
                    "id": status.sha,
                    "url": format!("{}/{}/commit/{}", self.webhooks.base_url(), repo.full_name(), status.sha),
                }),
            };
            let at = rfc3339(status.created_at);
            let payload = json!({
                "id": status.id,
                "sha": status.sha,
                "context": status.context,
                "state": status.state.as_str(),
                "description": status.description,
                "target_url": status.target_url,
                "created_at": at,
                "updated_at": at,
                "commit": commit,
                "repository": self.webhook_repository(repo),
                "sender": self.webhook_user(status.creator_id, &status.creator_name),
            });
            self.queue_webhook_event(tx, &targets, kind, payload)
                .await?;
        }
        Ok(status)
    }

    /// A status from the API (an outside CI): `report.sha` may be short or a ref's name; it must
    /// name a commit of the repository. The caller authorized `actor` for writing.
    pub async fn create_status(
        &self,
        actor: &Actor,
        repo: &Repo,
        report: &StatusReport<'_>,
    ) -> Result<CommitStatus> {
        let url = report.target_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::InvalidInput(
                "target_url must be an http:// or https:// URL".into(),
            ));
        }
        let commit = self.commit_info(repo, report.sha).await?.ok_or_else(|| {
            Error::InvalidInput(format!("{} is not a commit of this repository", report.sha))
        })?;
        let mut tx = self.db.begin().await?;
        let status = self
            .record_status(
                &mut tx,
                repo,
                &StatusReport {
                    sha: &commit.id.0,
                    ..*report
                },
                (Some(actor.user.id), &actor.user.name),
                Some(&commit),
            )
            .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(status)
    }

    /// Every status of a commit (`rev`: an id, short id, branch or tag), newest first, one page;
    /// with the commit's full id. None when `rev` names no commit.
    pub async fn statuses(
        &self,
        repo: &Repo,
        rev: &str,
        state: Option<CommitState>,
        page: i64,
        limit: i64,
    ) -> Result<Option<(String, Vec<CommitStatus>)>> {
        let Some(commit) = self.commit_info(repo, rev).await? else {
            return Ok(None);
        };
        let rows = self
            .db
            .statuses(
                repo.id,
                &commit.id.0,
                state.map(CommitState::as_str),
                limit,
                (page.max(1) - 1) * limit,
            )
            .await?;
        Ok(Some((
            commit.id.0,
            rows.into_iter().map(CommitStatus::from).collect(),
        )))
    }

    /// The combined status of one commit named by `rev`, with its full id.
    pub async fn combined_status(
        &self,
        repo: &Repo,
        rev: &str,
    ) -> Result<Option<(String, CombinedStatus)>> {
        let Some(commit) = self.commit_info(repo, rev).await? else {
            return Ok(None);
        };
        let mut all = self
            .latest_statuses(repo, std::slice::from_ref(&commit.id.0))
            .await?;
        let combined = all
            .remove(&commit.id.0)
            .unwrap_or_else(|| CombinedStatus::of(Vec::new()));
        Ok(Some((commit.id.0, combined)))
    }

    /// The current statuses of each of `shas` (full ids) that has any: one query, whatever
    /// the number of commits. For the log, tree, summary and branches pages and the dashboard.
    pub async fn latest_statuses(
        &self,
        repo: &Repo,
        shas: &[String],
    ) -> Result<HashMap<String, CombinedStatus>> {
        if shas.is_empty() {
            return Ok(HashMap::new());
        }
        let mut by_sha: HashMap<String, Vec<CommitStatus>> = HashMap::new();
        for row in self.db.latest_statuses(repo.id, shas).await? {
            by_sha
                .entry(row.sha.clone())
                .or_default()
                .push(CommitStatus::from(row));
        }
        Ok(by_sha
            .into_iter()
            .map(|(sha, list)| (sha, CombinedStatus::of(list)))
            .collect())
    }

    /// Who pushed `sha` with `-o skip-checks`, and when (for the commit page).
    pub async fn checks_skipped_for(
        &self,
        repo: &Repo,
        sha: &str,
    ) -> Result<Vec<(String, OffsetDateTime)>> {
        Ok(self.db.checks_skipped_for(repo.id, sha).await?)
    }

    /// Who skipped the checks of the push that started deploy run `run_id`, if they did.
    pub async fn checks_skipped_for_deploy(&self, run_id: i64) -> Result<Option<String>> {
        Ok(self.db.deploy_checks_skipped_by(run_id).await?)
    }

    /// The commit `rev` names in `repo`, if any.
    pub(crate) async fn commit_info(&self, repo: &Repo, rev: &str) -> Result<Option<CommitInfo>> {
        let dir = self.repo_dir(repo)?;
        let reads = Arc::clone(&self.reads);
        let rev = rev.to_owned();
        let found = blocking(move || {
            let reader = reads.open(&dir)?;
            match reader.resolve(&rev)? {
                Some(at) if at.path.is_root() => reader.commit(&at.commit).map(Some),
                _ => Ok(None),
            }
        })
        .await?;
        Ok(found?)
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
