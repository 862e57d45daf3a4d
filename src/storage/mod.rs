//! All SQL lives in this room, one file per table group, checked at compile time by
//! `sqlx::query!` against the offline data in `.sqlx/`.

mod backup;
mod checks;
mod comments;
mod dashboard;
mod deploy_keys;
mod deploys;
mod issues;
mod keys;
mod labels;
mod orgs;
mod profiles;
mod protection;
mod pull_mirrors;
mod push_mirrors;
mod pushes;
mod queues;
mod redirects;
mod repo_api;
mod repos;
mod sessions;
mod site_admin;
mod statuses;
mod text_set;
mod tokens;
mod tx;
mod users;
mod webhook_deliveries;
mod webhooks;

pub use backup::{BackupRepoRow, MIGRATOR, MigrationState, SnapshotTx, newest_known_migration};
pub use checks::{CheckLogRow, CheckRunRow, NewCheckRun};
pub use comments::NewEvent;
pub use dashboard::{IssueEventRow, RecentPushRow, RepoActivityRow};
pub use deploy_keys::{DeployKeyRow, NewDeployKey};
pub use deploys::{DeployLogRow, DeployRunRow, InterruptedRun, NewDeployRun};
pub use issues::{IssueFilter, NewIssue};
pub use keys::{KeyRow, NewKey};
pub use orgs::{NewTeam, OrgRow, TeamRow};
pub use profiles::{ApiTokenRow, KeyTextRow, ProfileRow};
pub use protection::ProtectedBranchRow;
pub use pull_mirrors::{ClaimedPullRow, PullMirrorRow};
pub use push_mirrors::{ClaimedMirrorRow, NewPushMirror, PushMirrorRow};
pub use pushes::{NewPush, PendingPushRow};
pub use queues::QueueSizes;
pub use repo_api::{CollaboratorUserRow, RepoApiRow, RepoSearch};
pub use repos::{AccessRow, CollaboratorRow, NewRepo, PendingRepo, RepoRow};
pub use sessions::SessionRow;
pub use site_admin::{AdminRepoRow, AdminUserRow, AuditRow};
pub use statuses::{NewStatus, StatusRow, StatusSample};
pub use tokens::{NewToken, TokenListRow, TokenRow};
pub use tx::Tx;
pub use users::{NewUser, UserRow};
pub use webhook_deliveries::{AttemptRecord, ClaimedDeliveryRow, DeliveryRow, NewDelivery};
pub use webhooks::{WebhookFields, WebhookRow};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A unique constraint refused the write; carries the constraint's name.
    #[error("conflict on {0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Turns a unique-constraint violation into `Conflict`, the one place that knows how.
fn on_constraint(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StorageError::Conflict(db.constraint().unwrap_or("unique").to_owned());
    }
    StorageError::Db(e)
}

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    pub async fn connect(options: PgConnectOptions) -> Result<Self> {
        let options = options.log_statements(tracing::log::LevelFilter::Trace);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(0)
            // While PostgreSQL restarts a request fails after this, with a clear 503, instead of
            // hanging for sqlx's default 30 s.
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query!("SELECT 1 AS one")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    /// Connections the pool holds, and how many of them are idle (for `/metrics`).
    pub fn pool_sizes(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates database `name` unless it exists, through the server's maintenance database.
/// Used by the managed cluster (which starts empty) and by tests (one database each).
pub async fn ensure_database(server: PgConnectOptions, name: &str) -> Result<()> {
    let mut conn = server.database("postgres").connect().await?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        name
    )
    .fetch_one(&mut conn)
    .await?;
    if !exists {
        // Identifiers cannot be bound; quote it as an identifier.
        let quoted = name.replace('"', "\"\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{quoted}\"")))
            .execute(&mut conn)
            .await
            .map_err(on_constraint)?;
    }
    conn.close().await?;
    Ok(())
}
