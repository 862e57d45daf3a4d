use super::{Db, Result, on_constraint};

pub struct NewKey<'a> {
    pub user_id: i64,
    pub title: &'a str,
    pub algorithm: &'a str,
    pub public_key: &'a str,
    pub fingerprint: &'a str,
}

impl Db {
    pub async fn insert_key(&self, new: NewKey<'_>) -> Result<i64> {
        sqlx::query_scalar!(
            "INSERT INTO ssh_keys (user_id, title, algorithm, public_key, fingerprint)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            new.user_id,
            new.title,
            new.algorithm,
            new.public_key,
            new.fingerprint
        )
        .fetch_one(&self.pool)
        .await
        .map_err(on_constraint)
    }
}

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: i64,
    pub user_id: i64,
    pub title: String,
    pub algorithm: String,
    pub fingerprint: String,
    pub created_at: time::OffsetDateTime,
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl Db {
    pub async fn key_by_fingerprint(&self, fingerprint: &str) -> Result<Option<KeyRow>> {
        Ok(sqlx::query_as!(
            KeyRow,
            "SELECT id, user_id, title, algorithm, fingerprint, created_at, last_used_at
             FROM ssh_keys WHERE fingerprint = $1",
            fingerprint
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The key sshd's forced command names (`labforge serv key-ID`).
    pub async fn key_by_id(&self, id: i64) -> Result<Option<KeyRow>> {
        Ok(sqlx::query_as!(
            KeyRow,
            "SELECT id, user_id, title, algorithm, fingerprint, created_at, last_used_at
             FROM ssh_keys WHERE id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn keys_for_user(&self, user_id: i64) -> Result<Vec<KeyRow>> {
        Ok(sqlx::query_as!(
            KeyRow,
            "SELECT id, user_id, title, algorithm, fingerprint, created_at, last_used_at
             FROM ssh_keys WHERE user_id = $1 ORDER BY created_at, id",
            user_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn touch_key(&self, id: i64) -> Result<()> {
        sqlx::query!(
            "UPDATE ssh_keys SET last_used_at = now()
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Db {
    /// Removes one of the user's keys; false if they have no key with that id.
    pub async fn delete_key(&self, user_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM ssh_keys WHERE id = $1 AND user_id = $2",
            id,
            user_id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
