use time::OffsetDateTime;

use super::{Db, Result, Tx};
use crate::model::{DeployReason, DeployStatus, LogStream, RepoId, UserId};

#[derive(Debug, Clone)]
pub struct DeployRunRow {
    pub id: i64,
    pub repo_id: RepoId,
    pub deploy_name: String,
    pub ref_name: String,
    pub old_id: String,
    pub new_id: String,
    pub reason: DeployReason,
    pub rerun_of: Option<i64>,
    pub triggered_by_name: String,
    pub status: DeployStatus,
    pub exit_code: Option<i32>,
    pub log_truncated: bool,
    pub queued_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

pub struct InterruptedRun {
    pub id: i64,
    pub process: Option<String>,
}

pub struct NewDeployRun<'a> {
    pub repo_id: RepoId,
    pub deploy_name: &'a str,
    pub ref_name: &'a str,
    pub old_id: &'a str,
    pub new_id: &'a str,
    pub push_event_id: Option<i64>,
    pub reason: DeployReason,
    pub rerun_of: Option<i64>,
    pub triggered_by_id: Option<UserId>,
    pub triggered_by_name: &'a str,
    /// Whether older queued runs of the deploy are superseded. A gate run (`-o deploy=gate`)
    /// does not: its push may still be refused, and then their commits would never deploy.
    pub supersede: bool,
}

#[derive(Debug, Clone)]
pub struct DeployLogRow {
    pub seq: i32,
    pub at: OffsetDateTime,
    pub stream: LogStream,
    pub line: String,
}

impl Tx {
    /// Queues a run; older queued runs of the same deploy are superseded (only the newest
    /// queued commit runs next). Returns the new run's id and the superseded runs' ids.
    pub async fn queue_deploy_run(&mut self, new: NewDeployRun<'_>) -> Result<(i64, Vec<i64>)> {
        let superseded = if new.supersede {
            sqlx::query_scalar!(
                "UPDATE deploy_runs SET status = 'superseded', finished_at = now()
                 WHERE repo_id = $1 AND deploy_name = $2 AND status = 'queued' RETURNING id",
                new.repo_id,
                new.deploy_name
            )
            .fetch_all(&mut *self.inner)
            .await?
        } else {
            Vec::new()
        };
        let id = sqlx::query_scalar!(
            "INSERT INTO deploy_runs (repo_id, deploy_name, ref_name, old_id, new_id, push_event_id,
                                      reason, rerun_of, triggered_by_id, triggered_by_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            new.repo_id,
            new.deploy_name,
            new.ref_name,
            new.old_id,
            new.new_id,
            new.push_event_id,
            new.reason.as_str(),
            new.rerun_of,
            new.triggered_by_id,
            new.triggered_by_name
        )
        .fetch_one(&mut *self.inner)
        .await?;
        Ok((id, superseded))
    }
}

impl Tx {
    /// The runs already made for push event `push_event_id` (by `-o deploy=gate`, before the
    /// refs moved): (deploy, ref, commit). Its post-receive does not queue them again.
    pub async fn deploy_runs_of_push(
        &mut self,
        push_event_id: i64,
    ) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query!(
            "SELECT deploy_name, ref_name, new_id FROM deploy_runs WHERE push_event_id = $1",
            push_event_id
        )
        .fetch_all(&mut *self.inner)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.deploy_name, r.ref_name, r.new_id))
            .collect())
    }
}

impl Db {
    /// Ties a gate run, made before its push was recorded, to the push.
    pub async fn link_deploy_run_to_push(&self, id: i64, push_event_id: i64) -> Result<()> {
        sqlx::query!(
            "UPDATE deploy_runs SET push_event_id = $2 WHERE id = $1",
            id,
            push_event_id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the oldest queued run whose deploy is not running. One claimer per process (the
    /// worker's loop), so the NOT EXISTS sees every run it started itself.
    pub async fn claim_deploy_run(&self) -> Result<Option<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"UPDATE deploy_runs SET status = 'running', started_at = now()
             WHERE id = (
                 SELECT r.id FROM deploy_runs r
                 WHERE r.status = 'queued' AND NOT EXISTS (
                     SELECT 1 FROM deploy_runs x WHERE x.repo_id = r.repo_id
                       AND x.deploy_name = r.deploy_name AND x.status = 'running')
                 ORDER BY r.id FOR UPDATE SKIP LOCKED LIMIT 1)
             RETURNING id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                       triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                       finished_at"#
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Notes which process runs a run (see `worker::process_identity`).
    pub async fn set_deploy_process(&self, id: i64, process: &str) -> Result<()> {
        sqlx::query!(
            "UPDATE deploy_runs SET process = $2 WHERE id = $1 AND status = 'running'",
            id,
            process
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// At start: runs left `running` by a process that died are `interrupted` (offered for
    /// re-run, not restarted: a deploy may not be safe to run twice). Returns them with the
    /// process each was running in, if it got that far.
    pub async fn interrupt_running_deploys(&self) -> Result<Vec<InterruptedRun>> {
        Ok(sqlx::query_as!(
            InterruptedRun,
            "UPDATE deploy_runs SET status = 'interrupted', finished_at = now()
             WHERE status = 'running' RETURNING id, process"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends a run. Only a running run changes (a cancel that raced the end loses cleanly).
    pub async fn finish_deploy_run(
        &self,
        id: i64,
        status: DeployStatus,
        exit_code: Option<i32>,
        truncated: bool,
    ) -> Result<bool> {
        let done = sqlx::query!(
            "UPDATE deploy_runs SET status = $2, exit_code = $3, log_truncated = $4,
                    finished_at = now()
             WHERE id = $1 AND status = 'running'",
            id,
            status.as_str(),
            exit_code,
            truncated
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a queued run (a running one is stopped by the worker, which then records it).
    pub async fn cancel_queued_deploy(&self, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "UPDATE deploy_runs SET status = 'cancelled', finished_at = now()
             WHERE id = $1 AND status = 'queued'",
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn deploy_run(&self, repo_id: RepoId, id: i64) -> Result<Option<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"SELECT id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                    triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                    finished_at
             FROM deploy_runs WHERE repo_id = $1 AND id = $2"#,
            repo_id,
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn deploy_run_by_id(&self, id: i64) -> Result<Option<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"SELECT id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                    triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                    finished_at
             FROM deploy_runs WHERE id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn deploy_runs(
        &self,
        repo_id: RepoId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"SELECT id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                    triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                    finished_at
             FROM deploy_runs WHERE repo_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"#,
            repo_id,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Each deploy's newest succeeded run: the "last good" commit on the summary page.
    pub async fn last_good_deploys(&self, repo_id: RepoId) -> Result<Vec<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"SELECT DISTINCT ON (deploy_name)
                    id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                    triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                    finished_at
             FROM deploy_runs WHERE repo_id = $1 AND status = 'succeeded'
             ORDER BY deploy_name, id DESC"#,
            repo_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest succeeded run of a deploy older than run `before`.
    pub async fn last_good_before(
        &self,
        repo_id: RepoId,
        deploy_name: &str,
        before: i64,
    ) -> Result<Option<DeployRunRow>> {
        Ok(sqlx::query_as!(
            DeployRunRow,
            r#"SELECT id, repo_id, deploy_name, ref_name, old_id, new_id, reason AS "reason: DeployReason", rerun_of,
                    triggered_by_name, status AS "status: DeployStatus", exit_code, log_truncated, queued_at, started_at,
                    finished_at
             FROM deploy_runs WHERE repo_id = $1 AND deploy_name = $2 AND id < $3
               AND status = 'succeeded'
             ORDER BY id DESC LIMIT 1"#,
            repo_id,
            deploy_name,
            before
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn append_deploy_log(&self, run_id: i64, lines: &[DeployLogRow]) -> Result<()> {
        let seqs: Vec<i32> = lines.iter().map(|l| l.seq).collect();
        let ats: Vec<OffsetDateTime> = lines.iter().map(|l| l.at).collect();
        let streams: Vec<&str> = lines.iter().map(|l| l.stream.as_str()).collect();
        let texts: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
        sqlx::query!(
            "INSERT INTO deploy_log (run_id, seq, at, stream, line)
             SELECT $1, * FROM UNNEST($2::int[], $3::timestamptz[], $4::text[], $5::text[])",
            run_id,
            &seqs,
            &ats,
            &streams as &[&str],
            &texts as &[&str]
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Adds one of labforge's own lines after whatever the run has logged.
    pub async fn append_deploy_note(&self, run_id: i64, line: &str) -> Result<()> {
        sqlx::query!(
            "INSERT INTO deploy_log (run_id, seq, at, stream, line)
             SELECT $1, COALESCE(max(seq), 0) + 1, now(), $3, $2 FROM deploy_log WHERE run_id = $1",
            run_id,
            line,
            LogStream::Note.as_str()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lines after `after_seq`, in order, at most `limit`.
    pub async fn deploy_log(
        &self,
        run_id: i64,
        after_seq: i32,
        limit: i64,
    ) -> Result<Vec<DeployLogRow>> {
        Ok(sqlx::query_as!(
            DeployLogRow,
            r#"SELECT seq, at, stream AS "stream!: LogStream", line FROM deploy_log
               WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"#,
            run_id,
            after_seq,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Status, exit code and run time in milliseconds (when it ran).
    pub async fn deploy_outcome(
        &self,
        run_id: i64,
    ) -> Result<Option<(DeployStatus, Option<i32>, Option<f64>)>> {
        let row = sqlx::query!(
            r#"SELECT status AS "status: DeployStatus", exit_code,
                      (EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000)::float8 AS ms
               FROM deploy_runs WHERE id = $1"#,
            run_id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.status, r.exit_code, r.ms)))
    }
}
