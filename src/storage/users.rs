use super::{Db, Result, on_constraint};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub is_admin: bool,
    /// Disabled by the operator: no sign-in, token, password or key works.
    pub disabled: bool,
}

pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
}

impl Db {
    pub async fn insert_user(&self, new: NewUser<'_>) -> Result<UserRow> {
        sqlx::query_as!(
            UserRow,
            "INSERT INTO users (name, email, password_hash, is_admin) VALUES ($1, $2, $3, $4)
             RETURNING id, name, email, password_hash, is_admin, disabled",
            new.name,
            new.email,
            new.password_hash,
            new.is_admin
        )
        .fetch_one(&self.pool)
        .await
        .map_err(on_constraint)
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as!(
            UserRow,
            "SELECT id, name, email, password_hash, is_admin, disabled FROM users
             WHERE lower(name) = lower($1) AND kind = 'user'",
            name
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as!(
            UserRow,
            "SELECT id, name, email, password_hash, is_admin, disabled FROM users
             WHERE id = $1 AND kind = 'user'",
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as!(
            UserRow,
            "SELECT id, name, email, password_hash, is_admin, disabled FROM users
             WHERE kind = 'user' ORDER BY lower(name)"
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Db {
    /// Disables or enables the user; a disabled user's web sessions end in the same statement's
    /// transaction. False if there is no such user.
    pub async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query!(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            user_id,
            disabled
        )
        .execute(&mut *tx)
        .await?;
        if disabled {
            sqlx::query!("DELETE FROM sessions WHERE user_id = $1", user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Names of the repositories `user_id` owns, `OWNER/NAME`, for refusing a deletion.
    pub async fn repos_owned_by(&self, user_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar!(
            r#"SELECT u.name || '/' || r.name AS "path!" FROM repositories r
               JOIN users u ON u.id = r.owner_id
               WHERE r.owner_id = $1 ORDER BY lower(r.name)"#,
            user_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes the user unless they own a repository (checked in the same statement, so a
    /// repository created meanwhile is never lost with its owner). Their keys, tokens, sessions
    /// and collaborations go with them; issues and comments they wrote stay, without an author.
    pub async fn delete_user_owning_nothing(&self, user_id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM users WHERE id = $1 AND kind = 'user'
             AND NOT EXISTS (SELECT 1 FROM repositories WHERE owner_id = $1)",
            user_id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets the password hash and ends the user's web sessions but `keep` (the session that
    /// changed it, if any), in one transaction.
    pub async fn set_password_ending_sessions(
        &self,
        user_id: i64,
        hash: &str,
        keep: Option<i64>,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            user_id,
            hash
        )
        .execute(&mut *tx)
        .await?;
        let ended = sqlx::query!(
            "DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2",
            user_id,
            keep
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }
}
