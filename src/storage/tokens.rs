use sqlx::postgres::types::PgInterval;
use time::OffsetDateTime;

use super::{Db, Result, on_constraint};
use crate::model::TokenScope;

pub struct NewToken<'a> {
    pub user_id: i64,
    pub title: &'a str,
    pub lookup: &'a str,
    pub token_hash: &'a [u8],
    pub scope: TokenScope,
    pub expires_at: Option<OffsetDateTime>,
    /// The secret's last eight characters, listed as Gitea lists them.
    pub last_eight: &'a str,
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: Vec<u8>,
    pub scope: TokenScope,
    pub expired: bool,
}

/// How stale `last_used_at` may get before a use writes it again: keeps a clone's many
/// requests from turning into many writes.
const LAST_USED_RESOLUTION: PgInterval = PgInterval {
    months: 0,
    days: 0,
    microseconds: 60_000_000,
};

impl Db {
    pub async fn insert_token(&self, new: NewToken<'_>) -> Result<i64> {
        sqlx::query_scalar!(
            "INSERT INTO access_tokens (user_id, title, lookup, token_hash, scope, expires_at, last_eight)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            new.user_id,
            new.title,
            new.lookup,
            new.token_hash,
            new.scope.as_str(),
            new.expires_at,
            new.last_eight
        )
        .fetch_one(&self.pool)
        .await
        .map_err(on_constraint)
    }

    pub async fn token_by_lookup(&self, lookup: &str) -> Result<Option<TokenRow>> {
        Ok(sqlx::query_as!(
            TokenRow,
            r#"SELECT id, user_id, token_hash, scope AS "scope: TokenScope",
                      (expires_at IS NOT NULL AND expires_at <= now()) AS "expired!"
               FROM access_tokens WHERE lookup = $1"#,
            lookup
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn touch_token(&self, id: i64) -> Result<()> {
        sqlx::query!(
            "UPDATE access_tokens SET last_used_at = now()
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - $2::interval)",
            id,
            LAST_USED_RESOLUTION
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct TokenListRow {
    pub id: i64,
    pub title: String,
    pub scope: TokenScope,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

impl Db {
    pub async fn tokens_for_user(&self, user_id: i64) -> Result<Vec<TokenListRow>> {
        Ok(sqlx::query_as!(
            TokenListRow,
            r#"SELECT id, title, scope AS "scope: TokenScope", created_at, last_used_at, expires_at
               FROM access_tokens WHERE user_id = $1 ORDER BY created_at, id"#,
            user_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_token(&self, user_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM access_tokens WHERE id = $1 AND user_id = $2",
            id,
            user_id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
