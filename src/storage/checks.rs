use time::OffsetDateTime;

use super::{Db, Result, Tx};
use crate::model::{CheckOutcome, LogStream, RepoId};

/// A check run as pages show it.
#[derive(Debug, Clone)]
pub struct CheckRunRow {
    pub id: i64,
    pub repo_id: RepoId,
    pub check_name: String,
    pub ref_name: String,
    pub old_id: String,
    pub new_id: String,
    pub pusher_name: String,
    pub outcome: CheckOutcome,
    pub exit_code: Option<i32>,
    pub sandboxed: bool,
    pub log_truncated: bool,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
}

pub struct NewCheckRun<'a> {
    pub repo_id: RepoId,
    pub check_name: &'a str,
    pub ref_name: &'a str,
    pub old_id: &'a str,
    pub new_id: &'a str,
    pub pusher_name: &'a str,
    pub outcome: CheckOutcome,
    pub exit_code: Option<i32>,
    pub sandboxed: bool,
    pub log_truncated: bool,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    /// (stream, line) in order: 'o' the check's output, 's' labforge's notes.
    pub lines: &'a [(LogStream, String)],
}

#[derive(Debug, Clone)]
pub struct CheckLogRow {
    pub seq: i32,
    pub stream: LogStream,
    pub line: String,
}

impl Tx {
    /// Records a finished run with its output; returns its id.
    pub async fn insert_check_run(&mut self, new: NewCheckRun<'_>) -> Result<i64> {
        let id = sqlx::query_scalar!(
            "INSERT INTO check_runs (repo_id, check_name, ref_name, old_id, new_id, pusher_name,
                                     outcome, exit_code, sandboxed, log_truncated, started_at,
                                     finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            new.repo_id,
            new.check_name,
            new.ref_name,
            new.old_id,
            new.new_id,
            new.pusher_name,
            new.outcome.as_str(),
            new.exit_code,
            new.sandboxed,
            new.log_truncated,
            new.started_at,
            new.finished_at
        )
        .fetch_one(&mut *self.inner)
        .await?;
        let streams: Vec<&str> = new.lines.iter().map(|(s, _)| s.as_str()).collect();
        let texts: Vec<&str> = new.lines.iter().map(|(_, l)| l.as_str()).collect();
        sqlx::query!(
            "INSERT INTO check_log (run_id, seq, stream, line)
             SELECT $1, n::int, s, l FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS t(s, l, n)",
            id,
            &streams as &[&str],
            &texts as &[&str]
        )
        .execute(&mut *self.inner)
        .await?;
        Ok(id)
    }
}

impl Db {
    pub async fn check_run(&self, repo_id: RepoId, id: i64) -> Result<Option<CheckRunRow>> {
        Ok(sqlx::query_as!(
            CheckRunRow,
            r#"SELECT id, repo_id, check_name, ref_name, old_id, new_id, pusher_name,
                    outcome AS "outcome: CheckOutcome",
                    exit_code, sandboxed, log_truncated, started_at, finished_at
             FROM check_runs WHERE repo_id = $1 AND id = $2"#,
            repo_id,
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The newest runs first.
    pub async fn check_runs(&self, repo_id: RepoId, limit: i64) -> Result<Vec<CheckRunRow>> {
        Ok(sqlx::query_as!(
            CheckRunRow,
            r#"SELECT id, repo_id, check_name, ref_name, old_id, new_id, pusher_name,
                    outcome AS "outcome: CheckOutcome",
                    exit_code, sandboxed, log_truncated, started_at, finished_at
             FROM check_runs WHERE repo_id = $1 ORDER BY id DESC LIMIT $2"#,
            repo_id,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn check_log(&self, run_id: i64) -> Result<Vec<CheckLogRow>> {
        Ok(sqlx::query_as!(
            CheckLogRow,
            r#"SELECT seq, stream AS "stream!: LogStream", line FROM check_log WHERE run_id = $1 ORDER BY seq"#,
            run_id
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
