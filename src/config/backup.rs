//! `[backup]`: scheduled backups that `serve` writes, turned on by a folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::{absolute, deploy};

/// `[backup]`: where `serve` writes scheduled backups, how often, and how many it keeps.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileBackupConfig {
    dir: Option<PathBuf>,
    every: Option<String>,
    keep: Option<usize>,
}

/// `[backup]` and its `LABFORGE_BACKUP_*` variables; a folder turns scheduled backups on.
pub(super) fn backup_config(
    file: FileBackupConfig,
    config_dir: &Path,
    env: &impl Fn(&str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<Option<BackupConfig>> {
    let dir = match env("LABFORGE_BACKUP_DIR")? {
        Some(v) => PathBuf::from(v),
        None => match file.dir {
            Some(d) => config_dir.join(d),
            None => return Ok(None),
        },
    };
    let every = match env("LABFORGE_BACKUP_EVERY")?.or(file.every) {
        Some(v) => deploy::parse_duration(&v).with_context(|| format!("[backup] every = {v}"))?,
        None => Duration::from_secs(86400),
    };
    let keep = match env("LABFORGE_BACKUP_KEEP")? {
        Some(v) => v
            .parse()
            .with_context(|| format!("LABFORGE_BACKUP_KEEP={v}"))?,
        None => file.keep.unwrap_or(7),
    };
    if keep == 0 {
        bail!("[backup] keep must be at least 1");
    }
    Ok(Some(BackupConfig {
        dir: absolute(&dir)?,
        every,
        keep,
    }))
}
