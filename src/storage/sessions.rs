use time::OffsetDateTime;

use super::{Db, Result, UserRow, on_constraint};

pub struct SessionRow {
    pub id: i64,
    pub user: UserRow,
    pub csrf_token: String,
}

impl Db {
    pub async fn insert_session(
        &self,
        user_id: i64,
        token_hash: &[u8],
        csrf: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO sessions (user_id, token_hash, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
            user_id,
            token_hash,
            csrf,
            expires_at
        )
        .execute(&self.pool)
        .await
        .map_err(on_constraint)?;
        Ok(())
    }

    /// The live (unexpired) session with this token hash, with its user.
    pub async fn session_by_hash(&self, token_hash: &[u8]) -> Result<Option<SessionRow>> {
        let row = sqlx::query!(
            "SELECT s.id AS session_id, s.csrf_token, u.id, u.name, u.email, u.password_hash,
                    u.is_admin, u.disabled
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
            token_hash
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| SessionRow {
            id: r.session_id,
            csrf_token: r.csrf_token,
            user: UserRow {
                id: r.id,
                name: r.name,
                email: r.email,
                password_hash: r.password_hash,
                is_admin: r.is_admin,
                disabled: r.disabled,
            },
        }))
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
        sqlx::query!("DELETE FROM sessions WHERE token_hash = $1", token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
