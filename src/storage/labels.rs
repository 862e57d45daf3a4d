//! Labels of a repository and which issues carry them.

use super::{Db, Result, Tx, on_constraint};
use crate::model::{IssueId, Label, RepoId};

impl Db {
    /// A repository's labels by name.
    pub async fn labels(&self, repo_id: RepoId) -> Result<Vec<Label>> {
        Ok(sqlx::query_as!(
            Label,
            "SELECT id, name, color, description FROM labels WHERE repo_id = $1 ORDER BY lower(name)",
            repo_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn insert_label(
        &self,
        repo_id: RepoId,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<Label> {
        sqlx::query_as!(
            Label,
            "INSERT INTO labels (repo_id, name, color, description) VALUES ($1, $2, $3, $4)
             RETURNING id, name, color, description",
            repo_id,
            name,
            color,
            description
        )
        .fetch_one(&self.pool)
        .await
        .map_err(on_constraint)
    }

    /// Renames or recolours a label; false if the repository has no such label.
    pub async fn update_label(
        &self,
        repo_id: RepoId,
        id: i64,
        name: &str,
        color: &str,
        description: &str,
    ) -> Result<bool> {
        let done = sqlx::query!(
            "UPDATE labels SET name = $3, color = $4, description = $5 WHERE repo_id = $1 AND id = $2",
            repo_id,
            id,
            name,
            color,
            description
        )
        .execute(&self.pool)
        .await
        .map_err(on_constraint)?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_label(&self, repo_id: RepoId, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM labels WHERE repo_id = $1 AND id = $2",
            repo_id,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// (issue id, label) for each label on each of `issues`, by label name.
    pub async fn labels_of_issues(&self, issues: &[IssueId]) -> Result<Vec<(IssueId, Label)>> {
        let rows = sqlx::query!(
            "SELECT il.issue_id, l.id, l.name, l.color, l.description
             FROM issue_labels il JOIN labels l ON l.id = il.label_id
             WHERE il.issue_id = ANY($1) ORDER BY lower(l.name)",
            issues
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let label = Label {
                    id: r.id,
                    name: r.name,
                    color: r.color,
                    description: r.description,
                };
                (r.issue_id, label)
            })
            .collect())
    }
}

impl Tx {
    /// The issue's labels as this transaction sees them (a webhook payload built inside it must
    /// not wait for a second pool connection while holding this one).
    pub async fn labels_of_issue(&mut self, issue: IssueId) -> Result<Vec<Label>> {
        Ok(sqlx::query_as!(
            Label,
            "SELECT l.id, l.name, l.color, l.description
             FROM issue_labels il JOIN labels l ON l.id = il.label_id
             WHERE il.issue_id = $1 ORDER BY lower(l.name)",
            issue
        )
        .fetch_all(&mut *self.inner)
        .await?)
    }

    /// Makes the issue carry exactly `label_ids` (labels of its repository); returns the labels
    /// added and removed, for the timeline.
    pub async fn set_issue_labels(
        &mut self,
        repo_id: RepoId,
        issue_id: IssueId,
        label_ids: &[i64],
    ) -> Result<(Vec<Label>, Vec<Label>)> {
        let removed = sqlx::query_as!(
            Label,
            "WITH gone AS (
               DELETE FROM issue_labels WHERE issue_id = $1 AND NOT (label_id = ANY($2))
               RETURNING label_id)
             SELECT l.id, l.name, l.color, l.description FROM gone JOIN labels l ON l.id = gone.label_id
             ORDER BY lower(l.name)",
            issue_id,
            label_ids
        )
        .fetch_all(&mut *self.inner)
        .await?;
        let added = sqlx::query_as!(
            Label,
            "WITH new AS (
               INSERT INTO issue_labels (label_id, issue_id, number, is_open)
               SELECT l.id, i.id, i.number, i.state = 'open' FROM labels l, issues i
               WHERE l.repo_id = $1 AND l.id = ANY($3) AND i.id = $2
               ON CONFLICT DO NOTHING RETURNING label_id)
             SELECT l.id, l.name, l.color, l.description FROM new JOIN labels l ON l.id = new.label_id
             ORDER BY lower(l.name)",
            repo_id,
            issue_id,
            label_ids
        )
        .fetch_all(&mut *self.inner)
        .await?;
        Ok((added, removed))
    }
}
