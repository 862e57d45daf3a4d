//! The operator's commands around the data as a whole: `labforge backup`, `labforge restore`
//! and `labforge migrate --status`. Output for people and scripts on stderr/stdout, as `admin`.

use std::path::Path;

use anyhow::Context;

use crate::app::{Services, open_database, release_cluster};
use crate::backup::{self, Destination, Hold, PgTarget};
use crate::config::Config;
use crate::git::GitRunner;
use crate::storage::Db;

/// `labforge backup DEST`: online when `serve` runs (it holds pushes for the instant),
/// otherwise with the managed cluster started and stopped as the admin commands do.
pub async fn backup(config: &Config, dest: &str, sign: Option<&Path>) -> anyhow::Result<()> {
    let dest = Destination::parse(dest)?;
    // Read before anything starts: a wrong key file costs nothing.
    let sign = sign
        .map(backup::SigningKey::read)
        .transpose()?
        .map(std::sync::Arc::new);
    let fingerprint = sign.as_ref().map(|k| k.fingerprint());
    let services = Services::open(config).await?;
    let socket = config.data_dir.join("labforge.sock");
    let result = backup::create(
        &services.forge,
        &services.database,
        &config.data_dir,
        Hold::ServeSocket(socket),
        &dest,
        sign,
    )
    .await;
    services.close(false).await?;
    let summary = result?;
    eprintln!("backup written: {summary}");
    if let Some(fingerprint) = fingerprint {
        eprintln!("signed with the key {fingerprint}");
    }
    Ok(())
}

/// What `--verify` says about authenticity, whatever it found.
const INTEGRITY_ONLY: &str = "integrity only: the checksums show the backup was not damaged by \
    accident, not who made it (whoever can write a backup can write matching checksums, and \
    restore runs its database dump). To refuse backups you did not make, sign them (backup --sign \
    KEY) and check with --verify-key KEY.pub.";

/// `labforge backup --verify SRC [--verify-key KEY.pub]`: reads and checks the whole backup;
/// restores nothing. Says plainly what the check proves.
pub async fn verify(config: &Config, src: &Path, verify_key: Option<&Path>) -> anyhow::Result<()> {
    let trusted = verify_key.map(backup::TrustedKeys::read).transpose()?;
    let runner = GitRunner::detect(config.git_timeout)?;
    let extracted = backup::verify(src, &runner).await?;
    let manifest = &extracted.manifest;
    let refs: usize = manifest.repositories.iter().map(|r| r.refs.len()).sum();
    println!(
        "ok: {} repositories, {refs} refs, database schema {}, taken at {} by labforge {}",
        manifest.repositories.len(),
        manifest.schema_version,
        manifest.created_at,
        manifest.labforge_version
    );
    match trusted {
        Some(keys) => {
            let signer = keys.check(&extracted.sums, extracted.signature.as_deref())?;
            println!("authentic: signed by the key {signer}, which --verify-key trusts");
        }
        None => {
            println!("{INTEGRITY_ONLY}");
            if extracted.signature.is_some() {
                println!("(it is signed; the signature was not checked without --verify-key)");
            }
        }
    }
    Ok(())
}

/// `labforge restore SRC` into an empty data folder and an empty database.
pub async fn restore(config: &Config, src: &Path, verify_key: Option<&Path>) -> anyhow::Result<()> {
    let trusted = verify_key.map(backup::TrustedKeys::read).transpose()?;
    let runner = GitRunner::detect(config.git_timeout)?;
    let staged = backup::stage_for_restore(config, src, &runner, trusted).await?;
    if let Some(signer) = &staged.signed_by {
        eprintln!("the backup is signed by the trusted key {signer}");
    }
    let result = restore_into(config, staged, &runner).await;
    if result.is_err() {
        backup::empty_data_dir_again(&config.data_dir);
    }
    let (repos, schema) = result.map_err(|e| {
        e.context(format!(
            "the restore failed; {} is empty again",
            config.data_dir.display()
        ))
    })?;
    eprintln!(
        "restored {repos} repositories and the database (schema {schema}, migrated to {}) into {}",
        crate::storage::newest_known_migration(),
        config.data_dir.display()
    );
    Ok(())
}

/// The database and repositories of a staged restore; the managed cluster, if it was started
/// here, is stopped again however it ends.
async fn restore_into(
    config: &Config,
    staged: backup::Staged,
    runner: &GitRunner,
) -> anyhow::Result<(usize, i64)> {
    let (options, cluster) = open_database(config, None).await?;
    let result = async {
        let db = Db::connect(options.clone())
            .await
            .context("connecting to PostgreSQL")?;
        let pg = PgTarget::new(options, config.database_url.as_ref());
        let repos = staged.manifest.repositories.len();
        let schema = staged.manifest.schema_version;
        let restored = backup::restore_staged(config, staged, &db, &pg, runner).await;
        db.close().await;
        restored.map(|()| (repos, schema))
    }
    .await;
    release_cluster(cluster).await?;
    result
}

/// `labforge migrate --status`: each migration, applied or pending, without applying any.
pub async fn migrate_status(config: &Config) -> anyhow::Result<()> {
    let (options, cluster) = open_database(config, None).await?;
    let result = async {
        let db = Db::connect(options)
            .await
            .context("connecting to PostgreSQL")?;
        let states = db.migration_states().await;
        db.close().await;
        states
    }
    .await;
    release_cluster(cluster).await?;
    for m in result? {
        let state = match (m.applied, m.known) {
            (true, true) => "applied",
            (false, _) => "pending",
            (true, false) => "applied, unknown to this labforge (newer)",
        };
        println!("{}\t{state}\t{}", m.version, m.description);
    }
    Ok(())
}
