//! What the signed-in home page and the repository lists read about many repositories at once:
//! one query per kind of fact over an id list, never one per repository.

use time::OffsetDateTime;

use super::{Db, DeployRunRow, Result, StatusSample};
use crate::model::{DeployReason, DeployStatus, RepoId};

/// A repository's line in a list: when it was last pushed and its open issue count.
#[derive(Debug, Clone)]
pub struct RepoActivityRow {
    pub repo_id: RepoId,
    pub pushed_at: Option<OffsetDateTime>,
    pub open_issues: i64,
}

/// One ref update of a received push.
#[derive(Debug, Clone)]
pub struct RecentPushRow {
    pub repo_id: RepoId,
    pub pusher_name: String,
    pub at: OffsetDateTime,
    pub ref_name: String,
    pub old_id: String,
    pub new_id: String,
}

/// An issue opened or closed (one row per event).
#[derive(Debug, Clone)]
pub struct IssueEventRow {
    pub repo_id: RepoId,
    pub number: i64,
    pub title: String,
    pub closed: bool,
    pub at: OffsetDateTime,
}

impl Db {
    pub async fn repo_activity(&self, ids: &[RepoId]) -> Result<Vec<RepoActivityRow>> {
        Ok(sqlx::query_as!(
            RepoActivityRow,
            r#"SELECT r.id AS "repo_id!", r.pushed_at,
                      COALESCE(c.open_count, 0)::int8 AS "open_issues!"
               FROM repositories r LEFT JOIN issue_counters c ON c.repo_id = r.id
               WHERE r.id = ANY($1)"#,
            ids
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The first `per_commit` statuses (see `first_statuses`) of each repository's default-branch
    /// head, with the head's counts, over `ids`. The head is what the newest received push left
    /// on the default branch (pull-mirror syncs record pushes too); a repository never pushed
    /// to through labforge has none.
    pub async fn head_statuses(
        &self,
        ids: &[RepoId],
        per_commit: i64,
    ) -> Result<Vec<StatusSample>> {
        Ok(sqlx::query_as!(
            StatusSample,
            r#"SELECT s.id AS "id!", s.repo_id AS "repo_id!", s.sha AS "sha!",
                      s.context AS "context!", s.state AS "state!",
                      s.description AS "description!", s.target_url AS "target_url!",
                      s.creator_id, s.creator_name AS "creator_name!",
                      s.created_at AS "created_at!", s.updated_at AS "updated_at!",
                      s.total AS "total!", s.failing AS "failing!", s.pending AS "pending!"
               FROM repositories r
               CROSS JOIN LATERAL (
                   SELECT pr.new_id FROM push_events e
                   JOIN push_event_refs pr ON pr.event_id = e.id
                   WHERE e.repo_id = r.id AND e.state = 'received'
                     AND pr.ref_name = 'refs/heads/' || r.default_branch
                   ORDER BY e.id DESC LIMIT 1) head
               CROSS JOIN LATERAL (
                   SELECT cs.*,
                       count(*) OVER () AS total,
                       count(*) FILTER (WHERE cs.state IN ('failure', 'error')) OVER () AS failing,
                       count(*) FILTER (WHERE cs.state = 'pending') OVER () AS pending
                   FROM commit_statuses cs
                   WHERE cs.repo_id = r.id AND cs.sha = head.new_id
                   ORDER BY CASE cs.state WHEN 'failure' THEN 0 WHEN 'error' THEN 0
                                          WHEN 'pending' THEN 1 ELSE 2 END, cs.context
                   LIMIT $2) s
               WHERE r.id = ANY($1)"#,
            ids,
            per_commit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Each deploy's newest run that was not superseded (what happened last), over `ids`.
    pub async fn latest_deploy_runs(&self, ids: &[RepoId]) -> Result<Vec<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"SELECT DISTINCT ON (repo_id, deploy_name)
                    id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                    triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                    finished_at
             FROM deploy_runs WHERE repo_id = ANY($1) AND status <> 'superseded'
             ORDER BY repo_id, deploy_name, id DESC"#,
            ids
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Each deploy's newest succeeded run, over `ids`.
    pub async fn last_good_deploys_in(&self, ids: &[RepoId]) -> Result<Vec<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"SELECT DISTINCT ON (repo_id, deploy_name)
                    id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                    triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                    finished_at
             FROM deploy_runs WHERE repo_id = ANY($1) AND status = 'succeeded'
             ORDER BY repo_id, deploy_name, id DESC"#,
            ids
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest ref updates of received pushes to `ids`, newest first.
    pub async fn recent_pushes(&self, ids: &[RepoId], limit: i64) -> Result<Vec<RecentPushRow>> {
        Ok(sqlx::query_as!(
            RecentPushRow,
            r#"SELECT e.repo_id, e.pusher_name, COALESCE(e.received_at, e.created_at) AS "at!",
                      f.ref_name, f.old_id, f.new_id
               FROM (SELECT * FROM push_events WHERE repo_id = ANY($1) AND state = 'received'
                     ORDER BY id DESC LIMIT $2) e
               JOIN push_event_refs f ON f.event_id = e.id
               ORDER BY e.id DESC, f.ref_name LIMIT $2"#,
            ids,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Issues opened or closed in `ids`, newest event first.
    pub async fn recent_issue_events(
        &self,
        ids: &[RepoId],
        limit: i64,
    ) -> Result<Vec<IssueEventRow>> {
        Ok(sqlx::query_as!(
            IssueEventRow,
            r#"SELECT repo_id AS "repo_id!", number AS "number!", title AS "title!",
                      closed AS "closed!", at AS "at!" FROM (
                 (SELECT repo_id, number, title, false AS closed, created_at AS at FROM issues
                  WHERE repo_id = ANY($1) ORDER BY id DESC LIMIT $2)
                 UNION ALL
                 (SELECT repo_id, number, title, true, closed_at FROM issues
                  WHERE repo_id = ANY($1) AND state = 'closed' ORDER BY closed_at DESC LIMIT $2)
               ) ev ORDER BY at DESC LIMIT $2"#,
            ids,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
