//! Giving memory back after load. glibc's malloc keeps what a burst of requests freed in its
//! per-thread arenas (RSS stayed at the peak: 238 MiB after a storm, idle 29 MiB); only the top
//! of each heap is returned by itself. `malloc_trim(0)` returns every free page of every arena,
//! so `serve` calls it every few seconds from one thread of its own. mimalloc was tried first:
//! it purges a thread's freed pages only when that thread allocates again, so memory freed by
//! threads that then sat idle (tokio's workers, the blocking pool) stayed resident under a busy
//! test run (206 MiB a minute after the storm). Figures in bench/RESULTS.md.

use std::sync::Once;
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(5);

/// Starts the trimming thread (once per process, however many servers it runs).
pub fn give_back_freed_memory() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("malloc-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(EVERY);
                    trim();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the memory trimming thread");
        }
    });
}

#[cfg(target_env = "gnu")]
fn trim() {
    // SAFETY: malloc_trim takes the arenas' own locks; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim() {}
