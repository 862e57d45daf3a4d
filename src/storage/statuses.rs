use time::OffsetDateTime;

use super::{Db, Result, Tx};
use crate::model::{RepoId, UserId};

#[derive(Debug, Clone)]
pub struct StatusRow {
    pub id: i64,
    pub repo_id: RepoId,
    pub sha: String,
    pub context: String,
    pub state: String,
    pub description: String,
    pub target_url: String,
    pub creator_id: Option<UserId>,
    pub creator_name: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub struct NewStatus<'a> {
    pub repo_id: RepoId,
    pub sha: &'a str,
    pub context: &'a str,
    pub state: &'a str,
    pub description: &'a str,
    pub target_url: &'a str,
    pub creator_id: Option<UserId>,
    pub creator_name: &'a str,
}

/// A status a page shows, with its commit's counts over all its statuses.
#[derive(Debug, Clone)]
pub struct StatusSample {
    pub id: i64,
    pub repo_id: RepoId,
    pub sha: String,
    pub context: String,
    pub state: String,
    pub description: String,
    pub target_url: String,
    pub creator_id: Option<UserId>,
    pub creator_name: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The commit's statuses, those in a failing state (failure, error), and pending ones.
    pub total: i64,
    pub failing: i64,
    pub pending: i64,
}

impl StatusSample {
    pub fn into_row(self) -> (StatusRow, [i64; 3]) {
        (
            StatusRow {
                id: self.id,
                repo_id: self.repo_id,
                sha: self.sha,
                context: self.context,
                state: self.state,
                description: self.description,
                target_url: self.target_url,
                creator_id: self.creator_id,
                creator_name: self.creator_name,
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            [self.total, self.failing, self.pending],
        )
    }
}

impl Tx {
    /// Records `new` as its context's status on the commit, replacing the context's earlier one
    /// (a commit keeps the latest status per context). With `max_contexts`, a context the commit
    /// does not have yet is refused (None) once it has that many; a lock per commit, held to the
    /// end of the transaction, keeps two writers from both taking the last place.
    pub async fn upsert_status(
        &mut self,
        new: NewStatus<'_>,
        max_contexts: Option<i64>,
    ) -> Result<Option<StatusRow>> {
        if let Some(max) = max_contexts {
            sqlx::query!(
                r#"SELECT true AS "locked!"
                   FROM pg_advisory_xact_lock(hashtextextended('commit_statuses ' || $1::bigint::text || ' ' || $2::text, 0))"#,
                new.repo_id,
                new.sha
            )
            .fetch_one(&mut *self.inner)
            .await?;
            let seen = sqlx::query!(
                r#"SELECT count(*) AS "contexts!", coalesce(bool_or(context = $3), false) AS "known!"
                   FROM commit_statuses WHERE repo_id = $1 AND sha = $2"#,
                new.repo_id,
                new.sha,
                new.context
            )
            .fetch_one(&mut *self.inner)
            .await?;
            if !seen.known && seen.contexts >= max {
                return Ok(None);
            }
        }
        Ok(Some(
            sqlx::query_as!(
                StatusRow,
                "INSERT INTO commit_statuses (repo_id, sha, context, state, description, target_url,
                                              creator_id, creator_name)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (repo_id, sha, context) DO UPDATE
                 SET state = EXCLUDED.state, description = EXCLUDED.description,
                     target_url = EXCLUDED.target_url, creator_id = EXCLUDED.creator_id,
                     creator_name = EXCLUDED.creator_name, updated_at = now()
                 RETURNING id, repo_id, sha, context, state, description, target_url, creator_id,
                           creator_name, created_at, updated_at",
                new.repo_id,
                new.sha,
                new.context,
                new.state,
                new.description,
                new.target_url,
                new.creator_id,
                new.creator_name
            )
            .fetch_one(&mut *self.inner)
            .await?,
        ))
    }
}

impl Db {
    /// The statuses of one commit (one per context), latest first (`state` filters when given).
    pub async fn statuses(
        &self,
        repo_id: RepoId,
        sha: &str,
        state: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<StatusRow>> {
        Ok(sqlx::query_as!(
            StatusRow,
            "SELECT id, repo_id, sha, context, state, description, target_url, creator_id,
                    creator_name, created_at, updated_at
             FROM commit_statuses
             WHERE repo_id = $1 AND sha = $2 AND ($3::text IS NULL OR state = $3)
             ORDER BY updated_at DESC, id DESC LIMIT $4 OFFSET $5",
            repo_id,
            sha,
            state,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The first `per_commit` statuses of each of `shas`, failures first, then pending ones,
    /// then by context (what a page shows of a commit with many contexts), each with its
    /// commit's counts over all its statuses (the combined state needs every one).
    pub async fn first_statuses(
        &self,
        repo_id: RepoId,
        shas: &[String],
        per_commit: i64,
    ) -> Result<Vec<StatusSample>> {
        Ok(sqlx::query_as!(
            StatusSample,
            r#"SELECT id AS "id!", repo_id AS "repo_id!", sha AS "sha!", context AS "context!",
                      state AS "state!", description AS "description!", target_url AS "target_url!",
                      creator_id, creator_name AS "creator_name!", created_at AS "created_at!",
                      updated_at AS "updated_at!", total AS "total!", failing AS "failing!",
                      pending AS "pending!"
               FROM (
                   SELECT *,
                       row_number() OVER (
                           PARTITION BY sha
                           ORDER BY CASE state WHEN 'failure' THEN 0 WHEN 'error' THEN 0
                                               WHEN 'pending' THEN 1 ELSE 2 END, context
                       ) AS n,
                       count(*) OVER (PARTITION BY sha) AS total,
                       count(*) FILTER (WHERE state IN ('failure', 'error')) OVER (PARTITION BY sha) AS failing,
                       count(*) FILTER (WHERE state = 'pending') OVER (PARTITION BY sha) AS pending
                   FROM commit_statuses WHERE repo_id = $1 AND sha = ANY($2)
               ) ranked
               WHERE n <= $3
               ORDER BY sha, n"#,
            repo_id,
            shas,
            per_commit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Who pushed `sha` with `-o skip-checks`, and when (newest first).
    pub async fn checks_skipped_for(
        &self,
        repo_id: RepoId,
        sha: &str,
    ) -> Result<Vec<(String, OffsetDateTime)>> {
        let rows = sqlx::query!(
            r#"SELECT e.pusher_name, e.received_at AS "received_at!"
               FROM push_event_refs r JOIN push_events e ON e.id = r.event_id
               WHERE r.new_id = $2 AND e.repo_id = $1 AND e.checks_skipped
                 AND e.state = 'received'
               ORDER BY e.id DESC LIMIT 10"#,
            repo_id,
            sha
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.pusher_name, r.received_at))
            .collect())
    }

    /// Who skipped the checks of the push that started deploy run `run_id`, if they did.
    pub async fn deploy_checks_skipped_by(&self, run_id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar!(
            "SELECT e.pusher_name FROM deploy_runs d JOIN push_events e ON e.id = d.push_event_id
             WHERE d.id = $1 AND e.checks_skipped",
            run_id
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}
