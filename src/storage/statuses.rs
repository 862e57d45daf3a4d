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

impl Tx {
    pub async fn insert_status(&mut self, new: NewStatus<'_>) -> Result<StatusRow> {
        Ok(sqlx::query_as!(
            StatusRow,
            "INSERT INTO commit_statuses (repo_id, sha, context, state, description, target_url,
                                          creator_id, creator_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING id, repo_id, sha, context, state, description, target_url, creator_id,
                       creator_name, created_at",
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
        .await?)
    }
}

impl Db {
    /// Every status of one commit, newest first (`state` filters when given).
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
                    creator_name, created_at
             FROM commit_statuses
             WHERE repo_id = $1 AND sha = $2 AND ($3::text IS NULL OR state = $3)
             ORDER BY id DESC LIMIT $4 OFFSET $5",
            repo_id,
            sha,
            state,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest status of each context of each of `shas`, ordered by sha, then context.
    pub async fn latest_statuses(
        &self,
        repo_id: RepoId,
        shas: &[String],
    ) -> Result<Vec<StatusRow>> {
        Ok(sqlx::query_as!(
            StatusRow,
            "SELECT DISTINCT ON (sha, context)
                    id, repo_id, sha, context, state, description, target_url, creator_id,
                    creator_name, created_at
             FROM commit_statuses WHERE repo_id = $1 AND sha = ANY($2)
             ORDER BY sha, context, id DESC",
            repo_id,
            shas
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
