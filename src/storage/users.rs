use super::{Db, Result, on_constraint};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub is_admin: bool,
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
             RETURNING id, name, email, password_hash, is_admin",
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
            "SELECT id, name, email, password_hash, is_admin FROM users WHERE lower(name) = lower($1)",
            name
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as!(
            UserRow,
            "SELECT id, name, email, password_hash, is_admin FROM users WHERE id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as!(
            UserRow,
            "SELECT id, name, email, password_hash, is_admin FROM users ORDER BY lower(name)"
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Db {
    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> Result<()> {
        sqlx::query!(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            user_id,
            hash
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
