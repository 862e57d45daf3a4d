//! The forge's services: the database (managed or given), migrations, the `Forge` built from
//! its parts, and the one `SystemKey`. Shared by `serve` and the admin commands.

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::domain::deploys::DeployState;
use crate::domain::push::HookGate;
use crate::domain::{Forge, PasswordCheck, SystemKey};
use crate::git::{GitRunner, RepoStore, Upkeep};
use crate::postgres::{ClusterOptions, ManagedCluster};
use crate::storage::{self, Db};

/// The forge's services and the database they use; shared by `serve` and the admin commands.
pub struct Services {
    pub forge: Arc<Forge>,
    pub(super) cluster: Option<Arc<ManagedCluster>>,
    /// Held by `serve`: tells admin commands the cluster is in use.
    pub(super) serve_lock: Option<std::fs::File>,
    /// How `pg_dump` reaches the same database (backups).
    pub database: crate::backup::PgTarget,
    /// What lets the workers and the operator's commands act without a visitor's decision;
    /// minted here and nowhere else (see `only_app_mints_the_system_key`).
    pub system_key: Arc<SystemKey>,
}

/// The database to use: `database` when given, else `DATABASE_URL`, else the managed cluster
/// (started, or found running) with its database created. Not migrated: `restore` and
/// `migrate --status` need it as it is.
pub async fn open_database(
    config: &Config,
    database: Option<PgConnectOptions>,
) -> anyhow::Result<(PgConnectOptions, Option<ManagedCluster>)> {
    Ok(match (database, &config.database_url) {
        (Some(options), _) => (options, None),
        (None, Some(url)) => {
            let options =
                PgConnectOptions::from_str(url.expose()).context("parsing DATABASE_URL")?;
            (options, None)
        }
        (None, None) => {
            let root = config.data_dir.join("pg");
            let cluster = tokio::task::spawn_blocking(move || {
                ManagedCluster::ensure_started(&root, ClusterOptions::default())
            })
            .await??;
            let server = cluster.connect_options("postgres");
            crate::postgres::wait_ready(&server).await?;
            storage::ensure_database(server, crate::postgres::DATABASE).await?;
            (
                cluster.connect_options(crate::postgres::DATABASE),
                Some(cluster),
            )
        }
    })
}

/// Stops a managed cluster an admin-style command started, unless `serve` uses it.
pub async fn release_cluster(cluster: Option<ManagedCluster>) -> anyhow::Result<()> {
    if let Some(cluster) = cluster
        && cluster.started_here
        && !cluster.serve_is_using()
    {
        tokio::task::spawn_blocking(move || cluster.stop()).await??;
    }
    Ok(())
}

impl Services {
    /// Connects to `DATABASE_URL`, or starts (or finds running) the managed cluster, then migrates.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        Self::open_with(config, None).await
    }

    /// As `open`, but with `database` (when given) instead of the configured one.
    pub async fn open_with(
        config: &Config,
        database: Option<PgConnectOptions>,
    ) -> anyhow::Result<Self> {
        let (options, cluster) = open_database(config, database).await?;
        let cluster = cluster.map(Arc::new);
        match Self::open_on(config, options, cluster.clone()).await {
            Ok(services) => Ok(services),
            Err(e) => {
                // Nothing is left orphaned: a cluster started for this call stops with it.
                if let Some(cluster) = cluster.filter(|c| c.started_here) {
                    let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
                }
                Err(e)
            }
        }
    }

    pub(super) async fn open_on(
        config: &Config,
        options: PgConnectOptions,
        cluster: Option<Arc<ManagedCluster>>,
    ) -> anyhow::Result<Self> {
        let target = crate::backup::PgTarget::new(options.clone(), config.database_url.as_ref());
        let db = Db::connect(options)
            .await
            .context("connecting to PostgreSQL")?;
        db.migrate().await.context("running database migrations")?;
        let runner = GitRunner::detect(config.git_timeout)?;
        std::fs::create_dir_all(config.repos_dir())
            .with_context(|| format!("creating {}", config.repos_dir().display()))?;
        // Private repositories are files on disk: no other local account may read them.
        std::fs::set_permissions(
            config.repos_dir(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        let upkeep = Upkeep::new(
            runner.clone(),
            config.upkeep_delay,
            config.upkeep_prune_after_days,
        );
        let reads = crate::git::read::ReadCache::new(config.cache);
        let forge = Forge::new(crate::domain::ForgeParts {
            db,
            repos: RepoStore::new(config.repos_dir().canonicalize()?)
                .with_hook_program(config.program.clone()),
            runner,
            upkeep,
            push_to_create: config.push_to_create,
            users_may_create_orgs: config.users_may_create_orgs,
            upload_slots: Arc::new(Semaphore::new(config.max_upload_packs)),
            download_slots: Arc::new(Semaphore::new(crate::domain::MAX_DOWNLOADS)),
            reads: Arc::new(reads),
            logins: Default::default(),
            hooks: Arc::new(HookGate::new(
                config.data_dir.join("labforge.sock"),
                crate::domain::random_hex(32)?,
            )),
            deploys: Arc::new(DeployState::new(
                config.deploys.clone(),
                config.base_url.clone(),
                config.data_dir.join("deploys"),
            )),
            checks: Arc::new(crate::domain::push::CheckState::new(
                config.checks.clone(),
                &config.check_limits,
            )),
            passwords: PasswordCheck::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            webhooks: crate::domain::webhooks::WebhookService::new(Arc::new(config.clone())),
            egress: Arc::new(crate::domain::egress::Egress::new(
                config.webhook.allowed_hosts.clone(),
                config.mirror.allowed_hosts.clone(),
            )),
            mirror: config.mirror.clone(),
            backup_status: Arc::default(),
            max_status_contexts: i64::try_from(config.max_status_contexts).unwrap_or(i64::MAX),
            metrics: Arc::new(crate::metrics::Metrics::new(
                config.metrics.enabled,
                config.metrics.per_repo,
            )),
        });
        Ok(Self {
            forge: Arc::new(forge),
            cluster,
            serve_lock: None,
            database: target,
            system_key: Arc::new(SystemKey::mint_for_app()),
        })
    }

    /// Closes the pool, then stops the managed cluster: `serve` (`as_serve`) one that labforge
    /// started (never one started by hand); an admin command only one it started itself while
    /// no `serve` uses it.
    pub async fn close(self, as_serve: bool) -> anyhow::Result<()> {
        self.forge.close_database().await;
        drop(self.serve_lock);
        if let Some(cluster) = self.cluster {
            let stop = if as_serve {
                cluster.belongs_to_serve()
            } else {
                cluster.started_here && !cluster.serve_is_using()
            };
            if stop {
                tokio::task::spawn_blocking(move || cluster.stop()).await??;
            } else if as_serve {
                tracing::info!("leaving PostgreSQL running: labforge did not start it");
            }
        }
        Ok(())
    }

    /// The managed cluster, when there is one (for the supervisor).
    pub(super) fn cluster(&self) -> Option<Arc<ManagedCluster>> {
        self.cluster.clone()
    }
}
