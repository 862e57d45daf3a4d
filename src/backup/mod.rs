//! Backups: `labforge backup DEST`, `labforge backup --verify SRC`, `labforge restore SRC`, and
//! the scheduled ones `serve` takes.
//!
//! One instant for everything: ref updates are held at the pre-receive gate (pushes already
//! approved are recorded first), a PostgreSQL snapshot is exported and every repository's refs
//! are read, then the gate opens again, after a moment. `pg_dump --snapshot` and one bundle per
//! repository of exactly the recorded refs are written afterwards, while pushes go on.

mod archive;
mod manifest;
mod pg;
mod restore;
pub mod schedule;
mod signature;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::domain::Forge;
use crate::git::RepoDir;
use crate::git::bundle::{RecordedRefs, RefEntry};
use crate::storage::BackupRepoRow;
pub use archive::Extracted;
use archive::{ArchiveWriter, Sink};
use manifest::{DATABASE, FORMAT, HOST_KEY, HOST_KEY_PUB, MANIFEST, Manifest, ManifestRef};
pub use pg::PgTarget;
pub use restore::{Staged, empty_data_dir_again, restore_staged, stage_for_restore};
pub use signature::{SigningKey, TrustedKeys};

/// Where a backup goes: a `.tar` or `.tar.zst` file, or standard output (`-`, compressed).
#[derive(Debug, Clone)]
pub enum Destination {
    File { path: PathBuf, compress: bool },
    Stdout,
}

impl Destination {
    pub fn parse(arg: &str) -> anyhow::Result<Self> {
        if arg == "-" {
            return Ok(Destination::Stdout);
        }
        let compress = if arg.ends_with(".tar.zst") {
            true
        } else if arg.ends_with(".tar") {
            false
        } else {
            bail!("the backup's name must end in .tar or .tar.zst (or be - for standard output)");
        };
        Ok(Destination::File {
            path: PathBuf::from(arg),
            compress,
        })
    }

    fn compress(&self) -> bool {
        match self {
            Destination::File { compress, .. } => *compress,
            Destination::Stdout => true,
        }
    }
}

/// Who holds ref updates for the instant.
pub enum Hold {
    /// `serve` itself (scheduled backups).
    InProcess,
    /// The `serve` listening on this hook socket, if one is; none means nothing can push.
    ServeSocket(PathBuf),
}

#[derive(Debug)]
pub struct Summary {
    pub repositories: usize,
    pub refs: usize,
    pub schema_version: i64,
    pub created_at: String,
    /// The file's size (None on standard output).
    pub bytes: Option<u64>,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} repositories, {} refs, database schema {}, taken at {}",
            self.repositories, self.refs, self.schema_version, self.created_at
        )?;
        if let Some(bytes) = self.bytes {
            write!(f, ", {bytes} bytes")?;
        }
        write!(f, ", {:.1} s", self.elapsed.as_secs_f64())
    }
}

/// A repository at the instant: its row, folder, refs and description.
type RecordedRepo = (BackupRepoRow, RepoDir, RecordedRefs, Option<Vec<u8>>);

/// What the instant recorded.
struct Recorded {
    snapshot: crate::storage::SnapshotTx,
    migrations: Vec<i64>,
    created_at: String,
    repos: Vec<RecordedRepo>,
}

/// Takes a backup of everything `forge` holds into `dest`, signed with `sign` when given.
pub async fn create(
    forge: &Forge,
    pg: &PgTarget,
    data_dir: &Path,
    hold: Hold,
    dest: &Destination,
    sign: Option<std::sync::Arc<SigningKey>>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    if let Destination::File { path, .. } = dest
        && path.exists()
    {
        bail!("{} exists already; choose a new name", path.display());
    }
    let staging = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(data_dir)
        .with_context(|| format!("making a staging folder in {}", data_dir.display()))?;
    let instant = {
        let (local, remote) = match hold {
            Hold::InProcess => (Some(forge.hold_ref_updates().await?), None),
            Hold::ServeSocket(socket) => {
                (None, crate::transport::backup_hold::hold(&socket).await?)
            }
        };
        let taken = take_instant(forge).await;
        drop(local);
        if let Some(remote) = remote {
            remote.release().await;
        }
        taken?
    };
    let Recorded {
        snapshot,
        migrations,
        created_at,
        repos,
    } = instant;
    let dump = staging.path().join(DATABASE);
    let dumped = pg.dump(&snapshot.id, &dump, !dest.compress()).await;
    snapshot.finish().await?;
    dumped?;
    let manifest = Manifest {
        format: FORMAT,
        labforge_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at,
        schema_version: migrations.iter().copied().max().unwrap_or(0),
        migrations,
        excluded_data: pg::EXCLUDED_DATA.iter().map(|t| (*t).to_owned()).collect(),
        host_key: data_dir.join(HOST_KEY).is_file() && data_dir.join(HOST_KEY_PUB).is_file(),
        repositories: repos
            .iter()
            .map(|(row, _, refs, description)| manifest_entry(row, refs, description.is_some()))
            .collect(),
    };
    let partial = match dest {
        Destination::File { path, .. } => Some(partial_path(path)),
        Destination::Stdout => None,
    };
    let written = write_archive(
        forge,
        data_dir,
        staging.path(),
        &manifest,
        &repos,
        dest,
        sign,
    )
    .await;
    if let Err(e) = written {
        if let Some(p) = &partial {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    let bytes = match (dest, &partial) {
        (Destination::File { path, .. }, Some(p)) => {
            std::fs::rename(p, path)
                .with_context(|| format!("renaming {} to {}", p.display(), path.display()))?;
            Some(std::fs::metadata(path)?.len())
        }
        _ => None,
    };
    Ok(Summary {
        repositories: manifest.repositories.len(),
        refs: manifest.repositories.iter().map(|r| r.refs.len()).sum(),
        schema_version: manifest.schema_version,
        created_at: manifest.created_at,
        bytes,
        elapsed: started.elapsed(),
    })
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// The instant itself: snapshot, repository list and every repository's refs. Called while
/// ref updates are held; reading refs is a few file reads per repository.
async fn take_instant(forge: &Forge) -> anyhow::Result<Recorded> {
    let mut snapshot = forge.backup_snapshot().await?;
    let rows = snapshot.repositories().await?;
    let migrations = snapshot.applied_migrations().await?;
    let created_at = crate::domain::rfc3339(time::OffsetDateTime::now_utc());
    let store = forge.repo_store().clone();
    let repos = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .map(|row| {
                let dir = store.dir_for_stored(&row.owner, &row.name)?;
                let refs = dir.record_refs().with_context(|| {
                    format!(
                        "reading the refs of {}/{} at {}",
                        row.owner,
                        row.name,
                        dir.path().display()
                    )
                })?;
                let description = dir.description();
                Ok((row, dir, refs, description))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await??;
    Ok(Recorded {
        snapshot,
        migrations,
        created_at,
        repos,
    })
}

fn manifest_entry(
    row: &BackupRepoRow,
    refs: &RecordedRefs,
    description: bool,
) -> manifest::RepoEntry {
    manifest::RepoEntry {
        owner: row.owner.clone(),
        name: row.name.clone(),
        default_branch: row.default_branch.clone(),
        head: refs.head.clone(),
        refs: refs
            .refs
            .iter()
            .map(|r| ManifestRef {
                name: r.name.clone(),
                id: r.id.clone(),
            })
            .collect(),
        refs_sha256: manifest::refs_sha256(&refs.refs),
        bundle: !refs.refs.is_empty(),
        description,
    }
}

/// Manifest, database, host key, then each repository's bundle (written to `staging` first:
/// a tar entry's size comes before its bytes) and description, then the sums.
async fn write_archive(
    forge: &Forge,
    data_dir: &Path,
    staging: &Path,
    manifest: &Manifest,
    repos: &[RecordedRepo],
    dest: &Destination,
    sign: Option<std::sync::Arc<SigningKey>>,
) -> anyhow::Result<()> {
    let sink = match dest {
        Destination::File { path, compress } => Sink::create(&partial_path(path), *compress)?,
        Destination::Stdout => Sink::stdout()?,
    };
    let mut writer = ArchiveWriter::new(sink);
    let text = serde_json::to_vec_pretty(manifest)?;
    let (db, key, key_pub) = (
        staging.join(DATABASE),
        data_dir.join(HOST_KEY),
        data_dir.join(HOST_KEY_PUB),
    );
    let host_key = manifest.host_key;
    writer = blocking(move || {
        writer.append_bytes(MANIFEST, &text)?;
        writer.append_file(DATABASE, &db)?;
        if host_key {
            writer.append_file(HOST_KEY, &key)?;
            writer.append_file(HOST_KEY_PUB, &key_pub)?;
        }
        Ok(writer)
    })
    .await?;
    for ((_, dir, refs, description), entry) in repos.iter().zip(&manifest.repositories) {
        if entry.bundle {
            let bundle = staging.join("repo.bundle");
            let sum = forge
                .git_runner()
                .write_bundle(dir, &refs.refs, &bundle)
                .await
                .with_context(|| format!("writing the bundle of {}", entry.full_name()))?;
            let name = entry.bundle_path();
            writer = blocking(move || {
                writer.append_hashed_file(&name, &bundle, sum)?;
                std::fs::remove_file(&bundle)?;
                Ok(writer)
            })
            .await?;
        }
        if let Some(text) = description.clone() {
            let name = entry.description_path();
            writer = blocking(move || {
                writer.append_bytes(&name, &text)?;
                Ok(writer)
            })
            .await?;
        }
    }
    blocking(move || writer.finish(sign.as_deref())).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a backup task failed")?
}

/// Checks a backup without restoring it: manifest, every checksum, each bundle's header
/// against the manifest and `git bundle verify`, and the database dump's table of contents.
/// The signature, if any, is returned for the caller to check: sums alone prove integrity
/// against accidents, not who made the backup.
pub async fn verify(src: &Path, runner: &crate::git::GitRunner) -> anyhow::Result<Extracted> {
    let staging = tempfile::Builder::new()
        .prefix("labforge-verify-")
        .tempdir()?;
    restore::extract_checked(src, staging.path(), runner, |_| Ok(())).await
}

/// Ref lists compared as sets: a bundle's header and the manifest name the same refs.
fn same_refs(a: &[RefEntry], b: &[RefEntry]) -> bool {
    let mut a: Vec<_> = a.iter().map(|r| (&r.name, &r.id)).collect();
    let mut b: Vec<_> = b.iter().map(|r| (&r.name, &r.id)).collect();
    a.sort();
    b.sort();
    a == b
}
