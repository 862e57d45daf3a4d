//! Issues: numbering, the list with its filters and search, state changes.

use super::{Db, Result, Tx};
use crate::model::{Issue, IssueId, IssueStatus, RepoId, UserId};

/// What the issue list is narrowed to. Every field is optional but the repository.
pub struct IssueFilter<'a> {
    /// None for both.
    pub state: Option<IssueStatus>,
    /// Issues carrying every one of these labels.
    pub label_ids: &'a [i64],
    pub author_id: Option<UserId>,
    /// A websearch query over title, body and comments.
    pub query: Option<&'a str>,
    pub offset: i64,
    pub limit: i64,
}

impl Db {
    /// (open, closed) issues of a repository.
    pub async fn issue_counts(&self, repo_id: RepoId) -> Result<(i64, i64)> {
        let row = sqlx::query!(
            "SELECT open_count, last_number FROM issue_counters WHERE repo_id = $1",
            repo_id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or((0, 0), |r| (r.open_count, r.last_number - r.open_count)))
    }

    pub async fn issue(&self, repo_id: RepoId, number: i64) -> Result<Option<Issue>> {
        Ok(sqlx::query_as!(
            Issue,
            r#"SELECT i.id, i.repo_id, i.number, i.author_id, COALESCE(u.name, 'ghost') AS "author!",
                      i.title, i.body, i.state AS "state: IssueStatus", cu.name AS "closed_by?", i.closed_by_commit,
                      i.closed_at, i.comment_count, i.created_at, i.updated_at
               FROM issues i
               LEFT JOIN users u ON u.id = i.author_id
               LEFT JOIN users cu ON cu.id = i.closed_by_id
               WHERE i.repo_id = $1 AND i.number = $2"#,
            repo_id,
            number
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Those of `numbers` that are issues of the repository, in no particular order.
    pub async fn issues_by_number(&self, repo_id: RepoId, numbers: &[i64]) -> Result<Vec<Issue>> {
        Ok(sqlx::query_as!(
            Issue,
            r#"SELECT i.id, i.repo_id, i.number, i.author_id, COALESCE(u.name, 'ghost') AS "author!",
                      i.title, i.body, i.state AS "state: IssueStatus", cu.name AS "closed_by?", i.closed_by_commit,
                      i.closed_at, i.comment_count, i.created_at, i.updated_at
               FROM issues i
               LEFT JOIN users u ON u.id = i.author_id
               LEFT JOIN users cu ON cu.id = i.closed_by_id
               WHERE i.repo_id = $1 AND i.number = ANY($2)"#,
            repo_id,
            numbers
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Which of `numbers` are issues of the repository (for `#N` links).
    pub async fn existing_issue_numbers(
        &self,
        repo_id: RepoId,
        numbers: &[i64],
    ) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar!(
            "SELECT number FROM issues WHERE repo_id = $1 AND number = ANY($2) ORDER BY number",
            repo_id,
            numbers
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Issues newest first, narrowed by `filter`.
    ///
    /// Each optional filter is written `$n IS NULL OR ...`; such a statement only plans well when
    /// planned for its actual parameters (a generic plan cannot know whether the search index
    /// helps), so it runs with `plan_cache_mode = force_custom_plan` for its transaction. A
    /// search then either walks the newest issues testing each (a common term: the page fills
    /// quickly) or ORs the two GIN indexes (a rare term), as the statistics say. A label filter
    /// walks the label's own (label, state, number) index instead of the issues.
    pub async fn list_issues(
        &self,
        repo_id: RepoId,
        filter: &IssueFilter<'_>,
    ) -> Result<Vec<Issue>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await?;
        let rows = if filter.label_ids.is_empty() {
            sqlx::query_as!(
                Issue,
                r#"SELECT i.id, i.repo_id, i.number, i.author_id,
                          COALESCE(u.name, 'ghost') AS "author!", i.title, i.body, i.state AS "state: IssueStatus",
                          cu.name AS "closed_by?", i.closed_by_commit, i.closed_at,
                          i.comment_count, i.created_at, i.updated_at
                   FROM issues i
                   LEFT JOIN users u ON u.id = i.author_id
                   LEFT JOIN users cu ON cu.id = i.closed_by_id
                   WHERE i.repo_id = $1
                     AND ($2::text IS NULL OR i.state = $2)
                     AND ($3::bigint IS NULL OR i.author_id = $3)
                     AND ($4::text IS NULL
                          OR i.search @@ websearch_to_tsquery('english', $4)
                          OR i.comments_search @@ websearch_to_tsquery('english', $4))
                   ORDER BY i.number DESC
                   LIMIT $5 OFFSET $6"#,
                repo_id,
                filter.state.map(IssueStatus::as_str),
                filter.author_id,
                filter.query,
                filter.limit,
                filter.offset
            )
            .fetch_all(&mut *tx)
            .await?
        } else {
            let first = filter.label_ids[0];
            let rest = &filter.label_ids[1..];
            sqlx::query_as!(
                Issue,
                r#"SELECT i.id, i.repo_id, i.number, i.author_id,
                          COALESCE(u.name, 'ghost') AS "author!", i.title, i.body, i.state AS "state: IssueStatus",
                          cu.name AS "closed_by?", i.closed_by_commit, i.closed_at,
                          i.comment_count, i.created_at, i.updated_at
                   FROM issue_labels il
                   JOIN issues i ON i.id = il.issue_id
                   LEFT JOIN users u ON u.id = i.author_id
                   LEFT JOIN users cu ON cu.id = i.closed_by_id
                   WHERE il.label_id = $7 AND i.repo_id = $1
                     AND ($2::text IS NULL OR il.is_open = ($2 = 'open'))
                     AND ($3::bigint IS NULL OR i.author_id = $3)
                     AND ($4::text IS NULL
                          OR i.search @@ websearch_to_tsquery('english', $4)
                          OR i.comments_search @@ websearch_to_tsquery('english', $4))
                     AND (cardinality($8::bigint[]) = 0
                          OR (SELECT count(*) FROM issue_labels x
                              WHERE x.issue_id = il.issue_id AND x.label_id = ANY($8))
                             = cardinality($8))
                   ORDER BY il.number DESC
                   LIMIT $5 OFFSET $6"#,
                repo_id,
                filter.state.map(IssueStatus::as_str),
                filter.author_id,
                filter.query,
                filter.limit,
                filter.offset,
                first,
                rest
            )
            .fetch_all(&mut *tx)
            .await?
        };
        tx.commit().await?;
        Ok(rows)
    }
}

/// A new issue's fields.
pub struct NewIssue<'a> {
    pub repo_id: RepoId,
    pub author_id: UserId,
    pub title: &'a str,
    pub body: &'a str,
}

impl Tx {
    /// (number, id) of those of `numbers` that are issues of the repository.
    pub async fn issue_ids_by_number(
        &mut self,
        repo_id: RepoId,
        numbers: &[i64],
    ) -> Result<Vec<(i64, IssueId)>> {
        let rows = sqlx::query!(
            "SELECT number, id FROM issues WHERE repo_id = $1 AND number = ANY($2)",
            repo_id,
            numbers
        )
        .fetch_all(&mut *self.inner)
        .await?;
        Ok(rows.into_iter().map(|r| (r.number, r.id)).collect())
    }

    /// Inserts an issue with the repository's next number and its `opened` event. The counter
    /// row stays locked until the transaction ends, so concurrent openers queue for numbers.
    pub async fn insert_issue(&mut self, new: NewIssue<'_>) -> Result<IssueId> {
        let number = sqlx::query_scalar!(
            "INSERT INTO issue_counters (repo_id, last_number, open_count) VALUES ($1, 1, 1)
             ON CONFLICT (repo_id) DO UPDATE
               SET last_number = issue_counters.last_number + 1,
                   open_count = issue_counters.open_count + 1
             RETURNING last_number",
            new.repo_id
        )
        .fetch_one(&mut *self.inner)
        .await?;
        let id = sqlx::query_scalar!(
            "INSERT INTO issues (repo_id, number, author_id, title, body) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
            new.repo_id,
            number,
            new.author_id,
            new.title,
            new.body
        )
        .fetch_one(&mut *self.inner)
        .await?;
        sqlx::query!(
            "INSERT INTO issue_events (issue_id, actor_id, kind) VALUES ($1, $2, 'opened')",
            id,
            new.author_id
        )
        .execute(&mut *self.inner)
        .await?;
        Ok(id)
    }

    /// The issue, locked until the transaction ends: state changes and commit references
    /// for one issue happen one at a time.
    pub async fn lock_issue(&mut self, repo_id: RepoId, number: i64) -> Result<Option<IssueId>> {
        Ok(sqlx::query_scalar!(
            "SELECT id FROM issues WHERE repo_id = $1 AND number = $2 FOR UPDATE",
            repo_id,
            number
        )
        .fetch_optional(&mut *self.inner)
        .await?)
    }

    /// Reads an issue inside the transaction (after `lock_issue`, the state is current).
    pub async fn issue_by_id(&mut self, id: IssueId) -> Result<Issue> {
        Ok(sqlx::query_as!(
            Issue,
            r#"SELECT i.id, i.repo_id, i.number, i.author_id, COALESCE(u.name, 'ghost') AS "author!",
                      i.title, i.body, i.state AS "state: IssueStatus", cu.name AS "closed_by?", i.closed_by_commit,
                      i.closed_at, i.comment_count, i.created_at, i.updated_at
               FROM issues i
               LEFT JOIN users u ON u.id = i.author_id
               LEFT JOIN users cu ON cu.id = i.closed_by_id
               WHERE i.id = $1"#,
            id
        )
        .fetch_one(&mut *self.inner)
        .await?)
    }

    /// Closes an open issue (by a user, or by a user's pushed commit); false if it was closed.
    pub async fn close_issue(
        &mut self,
        id: IssueId,
        closer_id: Option<UserId>,
        commit: Option<&str>,
    ) -> Result<bool> {
        let repo_id = sqlx::query_scalar!(
            "UPDATE issues SET state = 'closed', closed_by_id = $2, closed_by_commit = $3,
                    closed_at = now(), updated_at = now()
             WHERE id = $1 AND state = 'open' RETURNING repo_id",
            id,
            closer_id,
            commit
        )
        .fetch_optional(&mut *self.inner)
        .await?;
        let Some(repo_id) = repo_id else {
            return Ok(false);
        };
        self.set_open(id, repo_id, false).await?;
        Ok(true)
    }

    /// Reopens a closed issue; false if it was open.
    pub async fn reopen_issue(&mut self, id: IssueId) -> Result<bool> {
        let repo_id = sqlx::query_scalar!(
            "UPDATE issues SET state = 'open', closed_by_id = NULL, closed_by_commit = NULL,
                    closed_at = NULL, updated_at = now()
             WHERE id = $1 AND state = 'closed' RETURNING repo_id",
            id
        )
        .fetch_optional(&mut *self.inner)
        .await?;
        let Some(repo_id) = repo_id else {
            return Ok(false);
        };
        self.set_open(id, repo_id, true).await?;
        Ok(true)
    }

    /// The copies of an issue's state: the repository's open count and its label rows.
    async fn set_open(&mut self, id: IssueId, repo_id: RepoId, open: bool) -> Result<()> {
        let delta: i64 = if open { 1 } else { -1 };
        sqlx::query!(
            "UPDATE issue_counters SET open_count = open_count + $2 WHERE repo_id = $1",
            repo_id,
            delta
        )
        .execute(&mut *self.inner)
        .await?;
        sqlx::query!(
            "UPDATE issue_labels SET is_open = $2 WHERE issue_id = $1",
            id,
            open
        )
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    pub async fn update_issue_text(&mut self, id: IssueId, title: &str, body: &str) -> Result<()> {
        sqlx::query!(
            "UPDATE issues SET title = $2, body = $3, updated_at = now() WHERE id = $1",
            id,
            title,
            body
        )
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }
}
