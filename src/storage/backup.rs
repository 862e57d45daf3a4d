//! What backups and upgrades ask the database: an exported snapshot that `pg_dump --snapshot`
//! shares, whether a restore target is empty, and which migrations are applied.

use sqlx::migrate::{Migrate, Migrator};

use super::{Db, Result};

/// Every migration this binary knows, in version order.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// sqlx's bookkeeping table.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// A read-only transaction whose snapshot was exported: `pg_dump --snapshot=ID` sees exactly
/// what its queries see, for as long as it stays open.
pub struct SnapshotTx {
    inner: sqlx::Transaction<'static, sqlx::Postgres>,
    pub id: String,
}

/// A repository as a backup lists it.
pub struct BackupRepoRow {
    pub owner: String,
    pub name: String,
    pub default_branch: String,
}

/// One migration: this binary's, the database's, or both.
pub struct MigrationState {
    pub version: i64,
    /// Empty for a migration the database has and this binary does not know (a newer one).
    pub description: String,
    pub applied: bool,
    pub known: bool,
}

impl Db {
    pub async fn begin_snapshot(&self) -> Result<SnapshotTx> {
        let mut inner = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let id = sqlx::query_scalar!(r#"SELECT pg_export_snapshot() AS "id!""#)
            .fetch_one(&mut *inner)
            .await?;
        Ok(SnapshotTx { inner, id })
    }

    /// True when the database has no tables of its own (a restore target must be empty).
    pub async fn is_empty(&self) -> Result<bool> {
        let any = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = 'public') AS "any!""#
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(!any)
    }

    /// Applied and pending migrations, and applied ones this binary does not know.
    pub async fn migration_states(&self) -> anyhow::Result<Vec<MigrationState>> {
        let mut conn = self.pool.acquire().await?;
        let applied: Vec<i64> = if self.has_migrations_table().await? {
            conn.list_applied_migrations(MIGRATIONS_TABLE)
                .await?
                .into_iter()
                .map(|m| m.version)
                .collect()
        } else {
            Vec::new()
        };
        let mut states: Vec<MigrationState> = MIGRATOR
            .iter()
            .map(|m| MigrationState {
                version: m.version,
                description: m.description.to_string(),
                applied: applied.contains(&m.version),
                known: true,
            })
            .collect();
        for version in applied {
            if !MIGRATOR.version_exists(version) {
                states.push(MigrationState {
                    version,
                    description: String::new(),
                    applied: true,
                    known: false,
                });
            }
        }
        states.sort_by_key(|s| s.version);
        Ok(states)
    }

    async fn has_migrations_table(&self) -> Result<bool> {
        let exists = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
                              WHERE schemaname = 'public' AND tablename = '_sqlx_migrations') AS "exists!""#
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(exists)
    }
}

impl SnapshotTx {
    pub async fn repositories(&mut self) -> Result<Vec<BackupRepoRow>> {
        Ok(sqlx::query_as!(
            BackupRepoRow,
            r#"SELECT u.name AS owner, r.name, r.default_branch
               FROM repositories r JOIN users u ON u.id = r.owner_id
               ORDER BY r.id"#
        )
        .fetch_all(&mut *self.inner)
        .await?)
    }

    /// The applied migrations' versions as of the snapshot.
    pub async fn applied_migrations(&mut self) -> anyhow::Result<Vec<i64>> {
        Ok((*self.inner)
            .list_applied_migrations(MIGRATIONS_TABLE)
            .await?
            .into_iter()
            .map(|m| m.version)
            .collect())
    }

    /// Ends the transaction (it only read); `pg_dump` has its own copy of the snapshot by then.
    pub async fn finish(self) -> Result<()> {
        self.inner.rollback().await?;
        Ok(())
    }
}

/// The newest migration this binary knows: a backup from a newer schema cannot be restored.
pub fn newest_known_migration() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}
