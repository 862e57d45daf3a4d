//! Comments and the timeline of events around them.

use super::{Db, Result, Tx};
use crate::model::{Comment, IssueId, TimelineEvent, TimelineKind, UserId};

/// A timeline event to record. Events tied to a commit or to another issue are unique per
/// (issue, commit, kind) and (issue, source issue): recording one twice records nothing.
#[derive(Default)]
pub struct NewEvent<'a> {
    pub issue_id: IssueId,
    pub actor_id: Option<UserId>,
    pub kind: TimelineKind,
    pub comment_id: Option<i64>,
    pub label_name: Option<&'a str>,
    pub label_color: Option<&'a str>,
    pub commit_id: Option<&'a str>,
    pub source_issue_id: Option<IssueId>,
    pub old_title: Option<&'a str>,
}

impl Tx {
    /// Records an event; false when the same commit or issue reference was recorded before.
    pub async fn insert_event(&mut self, e: NewEvent<'_>) -> Result<bool> {
        let done = sqlx::query!(
            "INSERT INTO issue_events (issue_id, actor_id, kind, comment_id, label_name, label_color,
                                       commit_id, source_issue_id, old_title)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT DO NOTHING",
            e.issue_id,
            e.actor_id,
            e.kind.as_str(),
            e.comment_id,
            e.label_name,
            e.label_color,
            e.commit_id,
            e.source_issue_id,
            e.old_title
        )
        .execute(&mut *self.inner)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether a commit already has an event of `kind` on the issue.
    pub async fn has_commit_event(
        &mut self,
        issue_id: IssueId,
        commit: &str,
        kind: TimelineKind,
    ) -> Result<bool> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM issue_events
                              WHERE issue_id = $1 AND commit_id = $2 AND kind = $3) AS "exists!""#,
            issue_id,
            commit,
            kind.as_str()
        )
        .fetch_one(&mut *self.inner)
        .await?)
    }

    /// Adds a comment and its `commented` event, and counts it on the issue.
    pub async fn insert_comment(
        &mut self,
        issue_id: IssueId,
        author_id: UserId,
        body: &str,
    ) -> Result<i64> {
        let id = sqlx::query_scalar!(
            "INSERT INTO issue_comments (issue_id, author_id, body) VALUES ($1, $2, $3) RETURNING id",
            issue_id,
            author_id,
            body
        )
        .fetch_one(&mut *self.inner)
        .await?;
        // Counted and indexed in one row update (the row is wide and its search text indexed).
        sqlx::query!(
            "UPDATE issues SET comment_count = comment_count + 1, updated_at = now(),
                    comments_search = (
                      SELECT to_tsvector('english', COALESCE(string_agg(body, E'\\n' ORDER BY id), ''))
                      FROM issue_comments WHERE issue_id = $1)
             WHERE id = $1",
            issue_id
        )
        .execute(&mut *self.inner)
        .await?;
        self.insert_event(NewEvent {
            issue_id,
            actor_id: Some(author_id),
            kind: TimelineKind::Commented,
            comment_id: Some(id),
            ..NewEvent::default()
        })
        .await?;
        Ok(id)
    }

    pub async fn update_comment(&mut self, id: i64, body: &str) -> Result<()> {
        let issue_id = sqlx::query_scalar!(
            "UPDATE issue_comments SET body = $2, updated_at = now() WHERE id = $1 RETURNING issue_id",
            id,
            body
        )
        .fetch_one(&mut *self.inner)
        .await?;
        self.index_comments(issue_id).await
    }

    /// Rewrites the issue's search text of its comments (see the migration for why it lives on
    /// the issue; `insert_comment` does the same in its count update). Issues have tens of
    /// comments, not thousands, so rebuilding is cheap.
    async fn index_comments(&mut self, issue_id: IssueId) -> Result<()> {
        sqlx::query!(
            "UPDATE issues SET comments_search = (
               SELECT to_tsvector('english', COALESCE(string_agg(body, E'\\n' ORDER BY id), ''))
               FROM issue_comments WHERE issue_id = $1)
             WHERE id = $1",
            issue_id
        )
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    pub async fn comment_by_id(&mut self, id: i64) -> Result<Comment> {
        Ok(sqlx::query_as!(
            Comment,
            r#"SELECT c.id, c.issue_id, c.author_id, COALESCE(u.name, 'ghost') AS "author!", c.body,
                      c.created_at, c.updated_at
               FROM issue_comments c LEFT JOIN users u ON u.id = c.author_id WHERE c.id = $1"#,
            id
        )
        .fetch_one(&mut *self.inner)
        .await?)
    }

    /// Comment `id` of the issue, read in the transaction (None if the issue has no such one).
    pub async fn comment(&mut self, issue_id: IssueId, id: i64) -> Result<Option<Comment>> {
        Ok(sqlx::query_as!(
            Comment,
            r#"SELECT c.id, c.issue_id, c.author_id, COALESCE(u.name, 'ghost') AS "author!", c.body,
                      c.created_at, c.updated_at
               FROM issue_comments c LEFT JOIN users u ON u.id = c.author_id
               WHERE c.issue_id = $1 AND c.id = $2"#,
            issue_id,
            id
        )
        .fetch_optional(&mut *self.inner)
        .await?)
    }
}

impl Db {
    /// An issue's comments, oldest first.
    pub async fn comments(
        &self,
        issue_id: IssueId,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Comment>> {
        Ok(sqlx::query_as!(
            Comment,
            r#"SELECT c.id, c.issue_id, c.author_id, COALESCE(u.name, 'ghost') AS "author!", c.body,
                      c.created_at, c.updated_at
               FROM issue_comments c LEFT JOIN users u ON u.id = c.author_id
               WHERE c.issue_id = $1 ORDER BY c.id LIMIT $2 OFFSET $3"#,
            issue_id,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The whole timeline in order, comments included.
    pub async fn timeline(&self, issue_id: IssueId) -> Result<Vec<TimelineEvent>> {
        let rows = sqlx::query!(
            r#"SELECT e.id, e.kind AS "kind: TimelineKind", COALESCE(a.name, 'ghost') AS "actor!", e.created_at,
                      e.label_name, e.label_color, e.commit_id, s.number AS "source_number?",
                      e.old_title, c.id AS "comment_id?", c.author_id AS "comment_author_id?",
                      COALESCE(ca.name, 'ghost') AS "comment_author!", c.body AS "comment_body?",
                      c.created_at AS "comment_created_at?", c.updated_at AS "comment_updated_at?"
               FROM issue_events e
               LEFT JOIN users a ON a.id = e.actor_id
               LEFT JOIN issues s ON s.id = e.source_issue_id
               LEFT JOIN issue_comments c ON c.id = e.comment_id
               LEFT JOIN users ca ON ca.id = c.author_id
               WHERE e.issue_id = $1 ORDER BY e.id"#,
            issue_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let comment = match (
                    r.comment_id,
                    r.comment_body,
                    r.comment_created_at,
                    r.comment_updated_at,
                ) {
                    (Some(id), Some(body), Some(created_at), Some(updated_at)) => Some(Comment {
                        id,
                        issue_id,
                        author_id: r.comment_author_id,
                        author: r.comment_author,
                        body,
                        created_at,
                        updated_at,
                    }),
                    _ => None,
                };
                TimelineEvent {
                    id: r.id,
                    kind: r.kind,
                    actor: r.actor,
                    created_at: r.created_at,
                    comment,
                    label_name: r.label_name,
                    label_color: r.label_color,
                    commit_id: r.commit_id,
                    source_number: r.source_number,
                    old_title: r.old_title,
                }
            })
            .collect())
    }
}
