//! Commit statuses: checks, deploys and outside CI (through the API) report on commits in one
//! place, in Gitea's shape. Each status is recorded with its `status` webhook deliveries in one
//! transaction. A commit keeps one status per context, the latest (as Gitea does), and at most
//! `max_status_contexts` contexts from outside. `latest_statuses` is the read pages use: the
//! combined state of many commits at once (a log page asks for 50) with the first few statuses
//! of each, so a commit with 1,000 contexts costs a page a bounded number of rows.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;

use super::{AtLeast, Error, Forge, Grant, Level, Result, Write, blocking, rfc3339};
use crate::git::read::CommitInfo;
use crate::model::{CommitState, Repo, StatusContext, UserId, WebhookEventKind};
use crate::storage::{NewStatus, StatusRow, StatusSample, Tx};

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
    /// When its context was first reported on the commit, and last.
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
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
            updated_at: r.updated_at,
        }
    }
}

/// A commit's combined state over all its statuses, and the first of them a page shows
/// (failures first, then pending ones, then by context).
#[derive(Debug, Clone)]
pub struct CombinedStatus {
    pub state: CommitState,
    pub statuses: Vec<CommitStatus>,
    /// How many statuses (contexts) the commit has: `statuses.len()` or more.
    pub total: usize,
}

impl CombinedStatus {
    /// The combined statuses of each commit in `samples` (rows of one commit together).
    pub(super) fn from_samples(samples: Vec<StatusSample>) -> HashMap<String, CombinedStatus> {
        let mut out: HashMap<String, CombinedStatus> = HashMap::new();
        for sample in samples {
            let (row, [total, failing, pending]) = sample.into_row();
            let combined = out
                .entry(row.sha.clone())
                .or_insert_with(|| CombinedStatus {
                    state: CommitState::combine_counts(total, failing, pending),
                    statuses: Vec::new(),
                    total: usize::try_from(total).unwrap_or(0),
                });
            combined.statuses.push(CommitStatus::from(row));
        }
        out
    }

    /// Statuses the commit has beyond those listed.
    pub fn more(&self) -> usize {
        self.total.saturating_sub(self.statuses.len())
    }
}

/// Statuses a commit page lists; the rest are counted ("N more").
pub const SHOWN_ON_COMMIT: i64 = 100;
/// Statuses a status mark's title names on the log, tree, summary and branches pages.
pub const SHOWN_IN_MARK: i64 = 10;
/// The combined status's statuses in the API (the list endpoint pages through all of them).
pub const SHOWN_IN_API: i64 = 100;

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
    /// `webhook_wakeup()` after committing. For the domain's own reports (checks, deploys).
    pub(in crate::domain) async fn record_status(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        report: &StatusReport<'_>,
        creator: (Option<UserId>, &str),
        commit: Option<&CommitInfo>,
    ) -> Result<CommitStatus> {
        self.record_status_within(tx, repo, report, creator, commit, None)
            .await
    }

    /// `record_status`, refused when the commit already has `max_contexts` other contexts.
    async fn record_status_within(
        &self,
        tx: &mut Tx,
        repo: &Repo,
        report: &StatusReport<'_>,
        creator: (Option<UserId>, &str),
        commit: Option<&CommitInfo>,
        max_contexts: Option<i64>,
    ) -> Result<CommitStatus> {
        let new = NewStatus {
            repo_id: repo.id,
            sha: report.sha,
            context: report.context.as_str(),
            state: report.state.as_str(),
            description: cut(report.description, MAX_DESCRIPTION),
            target_url: cut(report.target_url, MAX_URL),
            creator_id: creator.0,
            creator_name: creator.1,
        };
        let Some(row) = tx.upsert_status(new, max_contexts).await? else {
            let max = max_contexts.unwrap_or_default();
            return Err(Error::InvalidInput(format!(
                "this commit already has statuses for {max} contexts, the most one commit keeps; \
                 post to one of its contexts to update it"
            )));
        };
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
            let payload = json!({
                "id": status.id,
                "sha": status.sha,
                "context": status.context,
                "state": status.state.as_str(),
                "description": status.description,
                "target_url": status.target_url,
                "created_at": rfc3339(status.created_at),
                "updated_at": rfc3339(status.updated_at),
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
    /// name a commit of the repository. Contexts under labforge's own prefixes are refused, and
    /// a new context once the commit has `max_status_contexts`. The status names the grant's
    /// user as its creator (`labforge` when the server itself reports).
    ///
    /// Posting needs write access, so a read grant does not compile:
    /// ```compile_fail
    /// # use labforge::domain::{Forge, Grant, Read};
    /// # use labforge::domain::statuses::StatusReport;
    /// async fn post(forge: &Forge, grant: &Grant<Read>, report: &StatusReport<'_>) {
    ///     let _ = forge.create_status(grant, report).await;
    /// }
    /// ```
    /// Its twin, which differs only in the grant, compiles:
    /// ```
    /// # use labforge::domain::{Forge, Grant, Write};
    /// # use labforge::domain::statuses::StatusReport;
    /// async fn post(forge: &Forge, grant: &Grant<Write>, report: &StatusReport<'_>) {
    ///     let _ = forge.create_status(grant, report).await;
    /// }
    /// ```
    pub async fn create_status<L: AtLeast<Write>>(
        &self,
        grant: &Grant<L>,
        report: &StatusReport<'_>,
    ) -> Result<CommitStatus> {
        let repo = grant.repo();
        let creator = grant.actor().map_or((None, "labforge"), |a| {
            (Some(a.user.id), a.user.name.as_str())
        });
        StatusContext::parse_outside(report.context.as_str()).map_err(Error::InvalidInput)?;
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
            .record_status_within(
                &mut tx,
                repo,
                &StatusReport {
                    sha: &commit.id.0,
                    ..*report
                },
                creator,
                Some(&commit),
                Some(self.max_status_contexts),
            )
            .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(status)
    }

    /// The statuses of a commit (`rev`: an id, short id, branch or tag), latest first, one page;
    /// with the commit's full id. None when `rev` names no commit.
    pub async fn statuses<L: Level>(
        &self,
        grant: &Grant<L>,
        rev: &str,
        state: Option<CommitState>,
        page: i64,
        limit: i64,
    ) -> Result<Option<(String, Vec<CommitStatus>)>> {
        let repo = grant.repo();
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

    /// The combined status of one commit named by `rev`, with its full id and its first
    /// `SHOWN_IN_API` statuses.
    pub async fn combined_status<L: Level>(
        &self,
        grant: &Grant<L>,
        rev: &str,
    ) -> Result<Option<(String, CombinedStatus)>> {
        let Some(commit) = self.commit_info(grant.repo(), rev).await? else {
            return Ok(None);
        };
        let mut all = self
            .latest_statuses(grant, std::slice::from_ref(&commit.id.0), SHOWN_IN_API)
            .await?;
        let combined = all.remove(&commit.id.0).unwrap_or(CombinedStatus {
            state: CommitState::Pending,
            statuses: Vec::new(),
            total: 0,
        });
        Ok(Some((commit.id.0, combined)))
    }

    /// The combined status of each of `shas` (full ids) that has any, with its first `shown`
    /// statuses: one query, whatever the number of commits and their contexts. For the log,
    /// tree, summary, branches and commit pages.
    pub async fn latest_statuses<L: Level>(
        &self,
        grant: &Grant<L>,
        shas: &[String],
        shown: i64,
    ) -> Result<HashMap<String, CombinedStatus>> {
        if shas.is_empty() {
            return Ok(HashMap::new());
        }
        let samples = self
            .db
            .first_statuses(grant.repo().id, shas, shown.max(1))
            .await?;
        Ok(CombinedStatus::from_samples(samples))
    }

    /// Who pushed `sha` with `-o skip-checks`, and when (for the commit page).
    pub async fn checks_skipped_for<L: Level>(
        &self,
        grant: &Grant<L>,
        sha: &str,
    ) -> Result<Vec<(String, OffsetDateTime)>> {
        Ok(self.db.checks_skipped_for(grant.repo().id, sha).await?)
    }

    /// Who skipped the checks of the push that started deploy run `run_id`, if they did.
    pub async fn checks_skipped_for_deploy(&self, run_id: i64) -> Result<Option<String>> {
        Ok(self.db.deploy_checks_skipped_by(run_id).await?)
    }

    /// The commit `rev` names in `repo`, if any (domain-internal: callers hold a grant).
    pub(in crate::domain) async fn commit_info(
        &self,
        repo: &Repo,
        rev: &str,
    ) -> Result<Option<CommitInfo>> {
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
