//! One `serve` per data folder. Two would share the hook socket (pushes through the first fail
//! with "the hook's secret is wrong") and the managed cluster (the second stops it under the
//! first). `serve` holds an exclusive `flock` on `DATA_DIR/labforge.lock` for its whole life and
//! writes its pid there, so a second one can say who holds the folder. The kernel drops the lock
//! when the process dies, however it dies: nothing stale to clean up after a `kill -9`.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Held while `serve` runs; dropping it (or the process ending) releases the folder. Until
/// `keep` is called, dropping it also removes what `acquire` created (the lock file, the folder
/// itself when it is empty again): a `serve` that fails at start leaves nothing behind.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
    data_dir: PathBuf,
    created_dir: bool,
    created_file: bool,
    kept: bool,
}

impl DataLock {
    /// Takes the folder or fails at once with `DATA_DIR is already served by pid N`.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        let created_dir = !data_dir.exists();
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data folder {}", data_dir.display()))?;
        let path = data_dir.join("labforge.lock");
        let created_file = !path.exists();
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match lock_waiting_for_ourselves(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = holder(&file).map_or_else(|| "?".to_owned(), |p| p.to_string());
                bail!(
                    "{} is already served by pid {holder}; stop that labforge first, or give this \
                     one another LABFORGE_DATA_DIR",
                    data_dir.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(Self {
            _file: file,
            data_dir: data_dir.to_path_buf(),
            created_dir,
            created_file,
            kept: false,
        })
    }

    /// Start-up succeeded: what `acquire` created stays.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for DataLock {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if self.created_file {
            let _ = std::fs::remove_file(self.data_dir.join("labforge.lock"));
        }
        if self.created_dir {
            // Only if empty: whatever else start-up made there before failing is left to see.
            let _ = std::fs::remove_dir(&self.data_dir);
        }
    }
}

/// `try_lock`, except that a lock this very process held a moment ago (an app restarted in
/// the same process, as tests and embedders do) is waited for briefly: a child forked by
/// another thread holds a copy of the old descriptor, and so the lock, until it execs.
fn lock_waiting_for_ourselves(file: &File) -> Result<(), TryLockError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match file.try_lock() {
            Err(TryLockError::WouldBlock)
                if holder(file) == Some(std::process::id())
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The pid written in the lock file.
fn holder(mut file: &File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataLock::acquire(dir.path()).unwrap();
        // As if another process held it (this one would wait for itself, see above).
        std::fs::write(dir.path().join("labforge.lock"), "4242\n").unwrap();
        let err = DataLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is already served by pid 4242"), "{err}");
        drop(first);
        DataLock::acquire(dir.path()).expect("free again once the first is gone");
    }

    #[test]
    fn a_lock_not_kept_removes_only_what_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        drop(DataLock::acquire(&data).unwrap());
        assert!(!data.exists(), "a folder it made and left empty goes");
        std::fs::create_dir(&data).unwrap();
        drop(DataLock::acquire(&data).unwrap());
        assert!(data.is_dir(), "a folder that was there stays");
        assert!(
            !data.join("labforge.lock").exists(),
            "its own lock file goes"
        );
        let mut kept = DataLock::acquire(&data).unwrap();
        kept.keep();
        drop(kept);
        assert!(
            data.join("labforge.lock").exists(),
            "a kept lock's file stays"
        );
        drop(DataLock::acquire(&data).unwrap());
        assert!(
            data.join("labforge.lock").exists(),
            "a lock file that was there stays"
        );
    }
}
