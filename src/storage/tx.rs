//! A transaction handed through the domain without showing it sqlx: writes that must land together
//! (a push and the jobs it queues) take `&mut Tx`, and nothing is written until `commit()`.

use super::{Db, Result};

pub struct Tx {
    pub(super) inner: sqlx::Transaction<'static, sqlx::Postgres>,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.inner.commit().await?;
        Ok(())
    }
}

impl Db {
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx {
            inner: self.pool.begin().await?,
        })
    }
}
