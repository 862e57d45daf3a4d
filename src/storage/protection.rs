use super::{Db, Result, on_constraint};
use crate::model::RepoId;

#[derive(Debug, Clone)]
pub struct ProtectedBranchRow {
    pub id: i64,
    pub pattern: String,
    pub admins_only: bool,
    /// Checks that must have run and passed on a push to a matching branch.
    pub required_checks: Vec<String>,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}

impl Db {
    pub async fn protected_branches(&self, repo_id: RepoId) -> Result<Vec<ProtectedBranchRow>> {
        Ok(sqlx::query_as!(
            ProtectedBranchRow,
            "SELECT id, pattern, admins_only, required_checks, created_at, updated_at
             FROM protected_branches WHERE repo_id = $1
             ORDER BY pattern",
            repo_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds a rule, or replaces `admins_only` and the required checks of the rule with the
    /// same pattern.
    pub async fn protect_branch(
        &self,
        repo_id: RepoId,
        pattern: &str,
        admins_only: bool,
        required_checks: &[String],
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO protected_branches (repo_id, pattern, admins_only, required_checks)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (repo_id, pattern) DO UPDATE
             SET admins_only = EXCLUDED.admins_only, required_checks = EXCLUDED.required_checks,
                 updated_at = now()",
            repo_id,
            pattern,
            admins_only,
            required_checks
        )
        .execute(&self.pool)
        .await
        .map_err(on_constraint)?;
        Ok(())
    }

    pub async fn unprotect_branch(&self, repo_id: RepoId, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM protected_branches WHERE repo_id = $1 AND id = $2",
            repo_id,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
