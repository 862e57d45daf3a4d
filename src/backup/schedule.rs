//! Scheduled backups from `serve` (`[backup] dir, every, keep`): one now if the newest in `dir`
//! is older than `every`, then every `every`; a failure is logged, shown on `/healthz?verbose`
//! and retried after 1, 2, 4 ... minutes (never later than `every`); after a success only the
//! newest `keep` backups stay.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::{Destination, Hold, PgTarget};
use crate::config::BackupConfig;
use crate::domain::Forge;
use crate::model::BackupStatus;

const PREFIX: &str = "labforge-";
const SUFFIX: &str = ".tar.zst";

pub struct Scheduled {
    pub forge: Arc<Forge>,
    pub pg: PgTarget,
    pub data_dir: PathBuf,
    pub config: BackupConfig,
    pub status: Arc<Mutex<BackupStatus>>,
}

pub async fn run(job: Scheduled, stop: CancellationToken) {
    set_status(&job.status, |s| s.enabled = true);
    let mut wait = until_due(&job.config);
    loop {
        let next = SystemTime::now() + wait;
        set_status(&job.status, |s| {
            s.next_at = Some(rfc3339(next));
        });
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = match once(&job).await {
            Ok(()) => job.config.every,
            Err(failures) => retry_delay(failures, job.config.every),
        };
    }
}

/// Time until the next backup: `every` after the newest one in the folder, or now.
fn until_due(config: &BackupConfig) -> Duration {
    let newest = backups_in(&config.dir)
        .last()
        .and_then(|p| std::fs::metadata(p).ok()?.modified().ok());
    match newest {
        Some(t) => (t + config.every)
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
        None => Duration::ZERO,
    }
}

fn retry_delay(failures: u32, every: Duration) -> Duration {
    let minutes = 1u64 << failures.saturating_sub(1).min(6);
    Duration::from_secs(60 * minutes).min(every)
}

/// One backup; on failure the number of failures in a row.
async fn once(job: &Scheduled) -> Result<(), u32> {
    let name = format!(
        "{PREFIX}{}{SUFFIX}",
        time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .expect("a UTC time formats")
    );
    let path = job.config.dir.join(&name);
    let result = async {
        std::fs::create_dir_all(&job.config.dir)
            .with_context(|| format!("creating the backup folder {}", job.config.dir.display()))?;
        let dest = Destination::File {
            path: path.clone(),
            compress: true,
        };
        super::create(
            &job.forge,
            &job.pg,
            &job.data_dir,
            Hold::InProcess,
            &dest,
            None,
        )
        .await
    }
    .await;
    job.forge.metrics().backup_finished(result.is_ok());
    match result {
        Ok(summary) => {
            tracing::info!(file = %path.display(), %summary, "backup written");
            let pruned = prune(&job.config.dir, job.config.keep);
            if pruned > 0 {
                tracing::info!(pruned, "old backups removed");
            }
            set_status(&job.status, |s| {
                s.last_success_at = Some(summary.created_at.clone());
                s.last_file = Some(path.display().to_string());
                s.last_bytes = summary.bytes;
                s.last_duration_ms = Some(summary.elapsed.as_millis() as u64);
                s.failures = 0;
            });
            Ok(())
        }
        Err(e) => {
            let mut failures = 0;
            set_status(&job.status, |s| {
                s.failures += 1;
                failures = s.failures;
                s.last_error = Some(format!("{e:#}"));
                s.last_error_at = Some(rfc3339(SystemTime::now()));
            });
            tracing::error!(error = %format!("{e:#}"), failures, "scheduled backup failed; it is retried");
            Err(failures)
        }
    }
}

/// Our backups in `dir`, oldest first (the names sort by time).
fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(PREFIX) && name.ends_with(SUFFIX)
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Removes all but the newest `keep` backups; returns how many went.
fn prune(dir: &Path, keep: usize) -> usize {
    let found = backups_in(dir);
    let excess = found.len().saturating_sub(keep);
    let mut removed = 0;
    for old in &found[..excess] {
        match std::fs::remove_file(old) {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(file = %old.display(), error = %e, "removing an old backup failed")
            }
        }
    }
    removed
}

fn set_status(status: &Mutex<BackupStatus>, f: impl FnOnce(&mut BackupStatus)) {
    f(&mut status
        .lock()
        .expect("backup status is never poisoned: no code panics while holding it"));
}

fn rfc3339(t: SystemTime) -> String {
    crate::domain::rfc3339(time::OffsetDateTime::from(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_but_never_past_every() {
        let day = Duration::from_secs(86400);
        assert_eq!(retry_delay(1, day), Duration::from_secs(60));
        assert_eq!(retry_delay(3, day), Duration::from_secs(240));
        assert_eq!(retry_delay(40, day), Duration::from_secs(3840));
        assert_eq!(
            retry_delay(1, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn prune_keeps_the_newest_and_only_touches_our_files() {
        let dir = tempfile::tempdir().unwrap();
        for stamp in ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"] {
            std::fs::write(dir.path().join(format!("{PREFIX}{stamp}{SUFFIX}")), "x").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(prune(dir.path(), 2), 1);
        let left = backups_in(dir.path());
        assert_eq!(left.len(), 2);
        assert!(left[0].ends_with("labforge-20260102T000000Z.tar.zst"));
        assert!(dir.path().join("notes.txt").exists());
    }
}
