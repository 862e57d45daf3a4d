//! The repository as the API shows it (Gitea's Repository object): the row, its owner's
//! user fields, the caller's collaborator level, whether it mirrors, its open issues and its
//! topics, in one query for one repository or one page of a search.

use time::OffsetDateTime;

use super::{Db, Result};
use crate::model::RepoAccess;

/// One repository with all the API shows of it.
#[derive(Debug, Clone)]
pub struct RepoApiRow {
    pub repo: super::RepoRow,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub archived_at: Option<OffsetDateTime>,
    pub topics: Vec<String>,
    pub owner_email: String,
    pub owner_created_at: OffsetDateTime,
    pub owner_is_admin: bool,
    pub owner_disabled: bool,
    /// The viewer's collaborator level, if they are one.
    pub collaborator: Option<RepoAccess>,
    pub mirror: bool,
    pub open_issues: i64,
}

/// What `/repos/search` (and the user listings built on it) filters and sorts by.
#[derive(Debug, Clone, Default)]
pub struct RepoSearch<'a> {
    /// The viewer (-1 for nobody signed in) and whether they are a site admin (sees all).
    pub viewer_id: i64,
    pub viewer_is_admin: bool,
    /// A substring of the name (or of the description with `include_description`), or an
    /// exact topic with `topic`; empty matches all.
    pub keyword: &'a str,
    pub topic: bool,
    pub include_description: bool,
    /// Owned by this user (and with `collaborations`, shared with them too).
    pub owner_id: Option<i64>,
    pub collaborations: bool,
    pub private: Option<bool>,
    /// False leaves private repositories out altogether (Gitea's `private=false`).
    pub include_private: bool,
    pub archived: Option<bool>,
    /// `alpha`, `created`, `updated` or `id`; `descending` reverses it.
    pub sort: &'a str,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

/// A `RepoApiRow` from a record of either query below (`query!` gives each its own anonymous
/// type, with the same field names): one mapping, so the two cannot drift apart.
macro_rules! api_row {
    ($r:expr) => {{
        let r = $r;
        RepoApiRow {
            repo: super::RepoRow {
                id: r.id,
                owner_id: r.owner_id,
                owner: r.owner,
                name: r.name,
                description: r.description,
                is_private: r.is_private,
                default_branch: r.default_branch,
                archived: r.archived,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
            archived_at: r.archived_at,
            topics: r.topics,
            owner_email: r.owner_email,
            owner_created_at: r.owner_created_at,
            owner_is_admin: r.owner_is_admin,
            owner_disabled: r.owner_disabled,
            collaborator: r.access,
            mirror: r.mirror,
            open_issues: r.open_issues,
        }
    }};
}

impl Db {
    /// One page of the repositories the viewer may read that match, and how many match in all.
    pub async fn search_repos(&self, s: &RepoSearch<'_>) -> Result<(Vec<RepoApiRow>, i64)> {
        let rows = sqlx::query!(
            r#"SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                      r.default_branch, r.archived, r.created_at, r.updated_at, r.archived_at,
                      r.topics, u.email AS owner_email, u.created_at AS owner_created_at,
                      u.is_admin AS owner_is_admin, u.disabled AS owner_disabled,
                      c.access AS "access?: RepoAccess",
                      (m.repo_id IS NOT NULL) AS "mirror!",
                      COALESCE(ic.open_count, 0)::int8 AS "open_issues!",
                      count(*) OVER () AS "total!"
               FROM repositories r
               JOIN users u ON u.id = r.owner_id
               LEFT JOIN collaborators c ON c.repo_id = r.id AND c.user_id = $1
               LEFT JOIN pull_mirrors m ON m.repo_id = r.id
               LEFT JOIN issue_counters ic ON ic.repo_id = r.id
               WHERE ($2 OR NOT r.is_private OR r.owner_id = $1 OR c.user_id IS NOT NULL)
                 AND ($3 = ''
                      OR ($4 AND $3 = ANY (r.topics))
                      OR (NOT $4 AND strpos(lower(r.name), lower($3)) > 0)
                      OR (NOT $4 AND $5 AND strpos(lower(r.description), lower($3)) > 0))
                 AND ($6::int8 IS NULL OR r.owner_id = $6
                      OR ($7 AND EXISTS (SELECT 1 FROM collaborators o
                                         WHERE o.repo_id = r.id AND o.user_id = $6)))
                 AND ($8::bool IS NULL OR r.is_private = $8)
                 AND ($9::bool IS NULL OR r.archived = $9)
                 AND ($14 OR NOT r.is_private)
               ORDER BY
                 CASE WHEN $10 = 'alpha' AND NOT $11 THEN lower(r.name) END ASC,
                 CASE WHEN $10 = 'alpha' AND $11 THEN lower(r.name) END DESC,
                 CASE WHEN $10 = 'created' AND NOT $11 THEN r.created_at END ASC,
                 CASE WHEN $10 = 'created' AND $11 THEN r.created_at END DESC,
                 CASE WHEN $10 = 'updated' AND NOT $11 THEN r.updated_at END ASC,
                 CASE WHEN $10 = 'updated' AND $11 THEN r.updated_at END DESC,
                 CASE WHEN NOT $11 THEN r.id END ASC,
                 CASE WHEN $11 THEN r.id END DESC
               LIMIT $12 OFFSET $13"#,
            s.viewer_id,
            s.viewer_is_admin,
            s.keyword,
            s.topic,
            s.include_description,
            s.owner_id,
            s.collaborations,
            s.private,
            s.archived,
            s.sort,
            s.descending,
            s.limit,
            s.offset,
            s.include_private
        )
        .fetch_all(&self.pool)
        .await?;
        let total = rows.first().map_or(0, |r| r.total);
        let rows = rows.into_iter().map(|r| api_row!(r)).collect();
        Ok((rows, total))
    }

    /// The same row for one repository, whoever looks (the caller has its grant already).
    pub async fn repo_api_row(&self, repo_id: i64, viewer_id: i64) -> Result<Option<RepoApiRow>> {
        let r = sqlx::query!(
            r#"SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                      r.default_branch, r.archived, r.created_at, r.updated_at, r.archived_at,
                      r.topics, u.email AS owner_email, u.created_at AS owner_created_at,
                      u.is_admin AS owner_is_admin, u.disabled AS owner_disabled,
                      c.access AS "access?: RepoAccess",
                      (m.repo_id IS NOT NULL) AS "mirror!",
                      COALESCE(ic.open_count, 0)::int8 AS "open_issues!"
               FROM repositories r
               JOIN users u ON u.id = r.owner_id
               LEFT JOIN collaborators c ON c.repo_id = r.id AND c.user_id = $2
               LEFT JOIN pull_mirrors m ON m.repo_id = r.id
               LEFT JOIN issue_counters ic ON ic.repo_id = r.id
               WHERE r.id = $1"#,
            repo_id,
            viewer_id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| api_row!(r)))
    }

    /// The repository's path by id, for `/repositories/{id}` (which then authorizes by path).
    pub async fn repo_path_by_id(&self, repo_id: i64) -> Result<Option<(String, String)>> {
        let r = sqlx::query!(
            "SELECT u.name AS owner, r.name FROM repositories r JOIN users u ON u.id = r.owner_id
             WHERE r.id = $1",
            repo_id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| (r.owner, r.name)))
    }

    pub async fn set_archived(&self, repo_id: i64, archived: bool) -> Result<()> {
        sqlx::query!(
            "UPDATE repositories
             SET archived = $2, updated_at = now(),
                 archived_at = CASE WHEN $2 THEN now() ELSE NULL END
             WHERE id = $1 AND archived <> $2",
            repo_id,
            archived
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_topics(&self, repo_id: i64, topics: &[String]) -> Result<()> {
        sqlx::query!(
            "UPDATE repositories SET topics = $2, updated_at = now() WHERE id = $1",
            repo_id,
            topics
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A collaborator's row with their user id, for the API's collaborator listing.
    pub async fn collaborator_page(
        &self,
        repo_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<CollaboratorUserRow>, i64)> {
        let rows = sqlx::query!(
            r#"SELECT u.id, u.name, u.email, u.created_at, u.is_admin, u.disabled,
                      c.access AS "access: RepoAccess", count(*) OVER () AS "total!"
               FROM collaborators c JOIN users u ON u.id = c.user_id
               WHERE c.repo_id = $1 ORDER BY lower(u.name) LIMIT $2 OFFSET $3"#,
            repo_id,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await?;
        let total = rows.first().map_or(0, |r| r.total);
        Ok((
            rows.into_iter()
                .map(|r| CollaboratorUserRow {
                    id: r.id,
                    name: r.name,
                    email: r.email,
                    created_at: r.created_at,
                    is_admin: r.is_admin,
                    disabled: r.disabled,
                    access: r.access,
                })
                .collect(),
            total,
        ))
    }

    /// A user's fields as the API's User object shows them, by name (any case).
    pub async fn api_user(&self, name: &str) -> Result<Option<CollaboratorUserRow>> {
        let r = sqlx::query!(
            r#"SELECT id, name, email, created_at, is_admin, disabled FROM users
               WHERE lower(name) = lower($1)"#,
            name
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| CollaboratorUserRow {
            id: r.id,
            name: r.name,
            email: r.email,
            created_at: r.created_at,
            is_admin: r.is_admin,
            disabled: r.disabled,
            access: RepoAccess::None,
        }))
    }
}

/// A user with the level they have on a repository (`None` when not asked).
#[derive(Debug, Clone)]
pub struct CollaboratorUserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub is_admin: bool,
    pub disabled: bool,
    pub access: RepoAccess,
}
