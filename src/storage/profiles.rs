//! Users as the API shows them (Gitea's User object): who they are plus when they joined and
//! last signed in. Apart from `UserRow`, which carries the password hash for sign-in and
//! should travel no further than that.

use time::OffsetDateTime;

use super::{Db, Result};

#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

impl Db {
    pub async fn profile_by_name(&self, name: &str) -> Result<Option<ProfileRow>> {
        Ok(sqlx::query_as!(
            ProfileRow,
            "SELECT id, name, email, is_admin, disabled, created_at, last_login_at
             FROM users WHERE lower(name) = lower($1)",
            name
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The users among `ids` that exist (callers pass one page's authors, so the list is short).
    pub async fn profiles_by_ids(&self, ids: &[i64]) -> Result<Vec<ProfileRow>> {
        Ok(sqlx::query_as!(
            ProfileRow,
            "SELECT id, name, email, is_admin, disabled, created_at, last_login_at
             FROM users WHERE id = ANY($1)",
            ids
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// One page of the users whose name contains `text` (any case; every user when empty),
    /// or only the user `uid`, by name; and how many match in all.
    pub async fn search_profiles(
        &self,
        text: &str,
        uid: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ProfileRow>, i64)> {
        let rows = sqlx::query_as!(
            ProfileRow,
            "SELECT id, name, email, is_admin, disabled, created_at, last_login_at
             FROM users
             WHERE strpos(lower(name), lower($1)) > 0 AND ($2::BIGINT IS NULL OR id = $2)
             ORDER BY lower(name) OFFSET $3 LIMIT $4",
            text,
            uid,
            offset,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM users
               WHERE strpos(lower(name), lower($1)) > 0 AND ($2::BIGINT IS NULL OR id = $2)"#,
            text,
            uid
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((rows, total))
    }

    /// Notes a sign-in with the password (web or HTTP Basic).
    pub async fn touch_last_login(&self, id: i64) -> Result<()> {
        sqlx::query!(
            "UPDATE users SET last_login_at = now()
             WHERE id = $1 AND (last_login_at IS NULL OR last_login_at < now() - interval '1 minute')",
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A user's SSH key with its text, as the API lists it.
#[derive(Debug, Clone)]
pub struct KeyTextRow {
    pub id: i64,
    pub user_id: i64,
    pub title: String,
    pub fingerprint: String,
    pub public_key: String,
    pub created_at: OffsetDateTime,
}

impl Db {
    /// One page of a user's keys, oldest first, and how many they have.
    pub async fn key_texts_for_user(
        &self,
        user_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<KeyTextRow>, i64)> {
        let rows = sqlx::query_as!(
            KeyTextRow,
            "SELECT id, user_id, title, fingerprint, public_key, created_at
             FROM ssh_keys WHERE user_id = $1 ORDER BY created_at, id OFFSET $2 LIMIT $3",
            user_id,
            offset,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM ssh_keys WHERE user_id = $1"#,
            user_id
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((rows, total))
    }

    /// One of the user's keys; None for another user's key, as for a missing one.
    pub async fn key_text(&self, user_id: i64, id: i64) -> Result<Option<KeyTextRow>> {
        Ok(sqlx::query_as!(
            KeyTextRow,
            "SELECT id, user_id, title, fingerprint, public_key, created_at
             FROM ssh_keys WHERE id = $1 AND user_id = $2",
            id,
            user_id
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// A token as the API lists it: never its secret, only its last eight characters.
#[derive(Debug, Clone)]
pub struct ApiTokenRow {
    pub id: i64,
    pub title: String,
    pub scope: crate::model::TokenScope,
    pub last_eight: String,
}

impl Db {
    pub async fn api_tokens_for_user(
        &self,
        user_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ApiTokenRow>, i64)> {
        let rows = sqlx::query_as!(
            ApiTokenRow,
            r#"SELECT id, title, scope AS "scope: crate::model::TokenScope", last_eight
               FROM access_tokens WHERE user_id = $1 ORDER BY created_at, id OFFSET $2 LIMIT $3"#,
            user_id,
            offset,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM access_tokens WHERE user_id = $1"#,
            user_id
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((rows, total))
    }

    /// The id of the user's token named `title` (any case), for Gitea's delete by name.
    pub async fn token_id_by_title(&self, user_id: i64, title: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar!(
            "SELECT id FROM access_tokens WHERE user_id = $1 AND lower(title) = lower($2)",
            user_id,
            title
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}
