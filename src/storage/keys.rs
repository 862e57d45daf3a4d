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
