//! Reading a backup back: checked whole into a staging folder before anything is written, then
//! the database restored into an empty one (older schemas migrated), then each repository.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};

use super::archive;
use super::manifest::{DATABASE, HOST_KEY, HOST_KEY_PUB, Manifest};
use super::pg::{self, PgTarget};
use super::signature::TrustedKeys;
use crate::config::Config;
use crate::git::bundle::{self, RestoredRepo};
use crate::git::{GitRunner, RepoStore};
use crate::storage::Db;

/// A backup read and checked into a staging folder inside the (empty) data folder.
pub struct Staged {
    pub manifest: Manifest,
    /// The fingerprint of the `--verify-key` key that signed it.
    pub signed_by: Option<String>,
    staging: tempfile::TempDir,
}

/// Extracts `src` into `staging`, checking checksums (archive), then every bundle against the
/// manifest and `git bundle verify`, and the dump with `pg_restore --list`.
pub(super) async fn extract_checked(
    src: &Path,
    staging: &Path,
    runner: &GitRunner,
    accept: impl FnOnce(&Manifest) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<archive::Extracted> {
    let (src, dest) = (src.to_path_buf(), staging.to_path_buf());
    let extracted = super::blocking(move || {
        let source = archive::open_source(&src)?;
        archive::extract(source, Some(&dest), accept)
    })
    .await?;
    let manifest = &extracted.manifest;
    let scratch = staging.join(".scratch.git");
    bundle::init_scratch(&scratch)?;
    for entry in &manifest.repositories {
        if !entry.bundle {
            continue;
        }
        let path = archive::staged(staging, &entry.bundle_path());
        let header = bundle::read_bundle_header(&path)
            .with_context(|| format!("{}: its bundle", entry.full_name()))?;
        ensure!(
            super::same_refs(&header, &entry.ref_entries()),
            "{}: the bundle's refs differ from the manifest's",
            entry.full_name()
        );
        runner
            .verify_bundle(&scratch, &path)
            .await
            .with_context(|| format!("{}: git bundle verify", entry.full_name()))?;
    }
    pg::check_dump(&staging.join(DATABASE))
        .await
        .context("the database dump")?;
    Ok(extracted)
}

/// `restore --verify-key`: reads the whole backup once without writing anything, checking every
/// entry against `SHA256SUMS` and `SHA256SUMS` against the signature. Returns the verified sums
/// (the staged reading must find the same) and the signing key's fingerprint.
async fn check_signature_first(
    src: &Path,
    trusted: std::sync::Arc<TrustedKeys>,
) -> anyhow::Result<(Vec<u8>, String)> {
    ensure!(
        src != Path::new("-"),
        "--verify-key reads the backup twice (checked before anything is written): give a file, \
         not standard input"
    );
    let src = src.to_path_buf();
    super::blocking(move || {
        let extracted = archive::extract(archive::open_source(&src)?, None, |_| Ok(()))?;
        let signer = trusted.check(&extracted.sums, extracted.signature.as_deref())?;
        Ok((extracted.sums, signer))
    })
    .await
}

/// A restore target must be empty: a missing folder, or one with nothing in it.
fn check_empty_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return Ok(());
    };
    if let Some(first) = entries.flatten().next() {
        bail!(
            "refusing to restore into {}: it is not empty (it holds {}); restore needs an empty data folder",
            data_dir.display(),
            first.file_name().to_string_lossy()
        );
    }
    Ok(())
}

/// Steps one and two of a restore: the data folder is empty, and the backup is read whole and
/// checked (a newer schema refused) before any database is touched. With `trusted` keys, an
/// unsigned or wrongly signed backup is refused before even the data folder is made.
pub async fn stage_for_restore(
    config: &Config,
    src: &Path,
    runner: &GitRunner,
    trusted: Option<TrustedKeys>,
) -> anyhow::Result<Staged> {
    check_empty_data_dir(&config.data_dir)?;
    let verified = match trusted {
        Some(keys) => Some(
            check_signature_first(src, std::sync::Arc::new(keys))
                .await
                .context("nothing was restored or changed")?,
        ),
        None => None,
    };
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(&config.data_dir)?;
    let newest = crate::storage::newest_known_migration();
    let extracted = extract_checked(src, staging.path(), runner, move |m| {
        ensure!(
            m.schema_version <= newest,
            "this backup is from a newer labforge (database schema {}, labforge {}); this one knows \
             schema {newest} at most: restore it with labforge {} or newer",
            m.schema_version,
            m.labforge_version,
            m.labforge_version
        );
        Ok(())
    })
    .await?;
    let signed_by = match verified {
        Some((sums, signer)) => {
            // The file could have been swapped between the two readings.
            ensure!(
                extracted.sums == sums,
                "the backup changed while it was read: its SHA256SUMS is not the one whose \
                 signature was checked"
            );
            Some(signer)
        }
        None => None,
    };
    Ok(Staged {
        manifest: extracted.manifest,
        signed_by,
        staging,
    })
}

/// The rest: database (empty, else refused), migrations for an older schema, repositories,
/// host key. `db` and `pg` reach the same database.
pub async fn restore_staged(
    config: &Config,
    staged: Staged,
    db: &Db,
    pg: &PgTarget,
    runner: &GitRunner,
) -> anyhow::Result<()> {
    if !db.is_empty().await? {
        bail!(
            "refusing to restore into database {}: it is not empty; restore needs an empty database",
            pg.database()
        );
    }
    let staging = staged.staging.path();
    pg.restore(&staging.join(DATABASE))
        .await
        .context("restoring the database")?;
    db.migrate()
        .await
        .context("migrating the restored database")?;
    let repos_dir = config.repos_dir();
    std::fs::create_dir_all(&repos_dir)?;
    std::fs::set_permissions(&repos_dir, std::fs::Permissions::from_mode(0o700))?;
    let store = RepoStore::new(repos_dir.canonicalize()?).with_hook_program(config.program.clone());
    for entry in &staged.manifest.repositories {
        let dir = store.dir_for_stored(&entry.owner, &entry.name)?;
        let bundle: Option<PathBuf> = entry
            .bundle
            .then(|| archive::staged(staging, &entry.bundle_path()));
        let description = if entry.description {
            Some(std::fs::read(archive::staged(
                staging,
                &entry.description_path(),
            ))?)
        } else {
            None
        };
        let refs = entry.ref_entries();
        store
            .restore(
                runner,
                &dir,
                RestoredRepo {
                    default_branch: &entry.default_branch,
                    head: entry.head.as_deref(),
                    refs: &refs,
                    bundle: bundle.as_deref(),
                    description,
                },
            )
            .await
            .with_context(|| format!("restoring {}", entry.full_name()))?;
    }
    if staged.manifest.host_key {
        for (name, mode) in [(HOST_KEY, 0o600), (HOST_KEY_PUB, 0o644)] {
            let to = config.data_dir.join(name);
            std::fs::copy(staging.join(name), &to)?;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// After a failed restore: the data folder was empty before, so everything in it came from the
/// backup (which is still there); emptying it lets the operator fix the cause and run again.
pub fn empty_data_dir_again(data_dir: &Path) {
    for entry in std::fs::read_dir(data_dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(e) = removed {
            tracing::warn!(path = %path.display(), error = %e, "emptying the data folder after a failed restore");
        }
    }
}
