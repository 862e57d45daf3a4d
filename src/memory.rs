//! Giving memory back after load. glibc's malloc keeps what a burst of requests freed in its
//! per-thread arenas (RSS stayed at the peak: 238 MiB after a storm, idle 29 MiB); only the top
//! of each heap is returned by itself. `malloc_trim(0)` returns every free page of every arena,
//! so `serve` calls it every few seconds from one thread of its own. mimalloc was tried first:
//! it purges a thread's freed pages only when that thread allocates again, so memory freed by
//! threads that then sat idle (tokio's workers, the blocking pool) stayed resident under a busy
//! test run (206 MiB a minute after the storm). Figures in bench/RESULTS.md.
//!
//! The same thread watches the pages of mapped files: gix maps git's packs whole, and every page
//! a history page or walk reads stays counted in labforge's RSS while the repository handle it
//! read through lives (browsing 1,000 pages of an 80,000-commit history peaked at 397 MiB, 290
//! of it pack pages). When mapped files grew by more than `MAPPED_GROWTH_ALLOWED_KIB` over the
//! least they held in the last ten seconds, every open repository handle is retired
//! (`git::retire_open_handles`): requests and walks open afresh and the old maps go. Unmapping
//! loses nothing: the pages stay in the kernel's page cache. Measured from that floor (not from
//! the start), what stays mapped for good (labforge's own code, warm repositories' hot pages)
//! never makes it retire again and again: only fast growth does.

use std::sync::Once;
use std::time::Duration;

/// How often the mapped files' resident size is looked at (one read of /proc/self/status):
/// a walk maps about 100 MiB of pack a second.
const WATCH_EVERY: Duration = Duration::from_millis(25);
/// `malloc_trim` runs every this many looks (1 s): walks free tens of megabytes a second.
const TRIM_EVERY: u32 = 40;
/// Growth of mapped files' resident pages over their floor that retires the open handles.
const MAPPED_GROWTH_ALLOWED_KIB: u64 = 16 * 1024;
/// The floor is the least of this many last looks (ten seconds): after a retirement the old
/// maps go within the handle sweeper's 100 ms, and what stays mapped for good sets the floor.
/// Over one second the floor rose with a busy browse (each retirement's dip fell out of the
/// window while new pages were mapped): mapped files reached 106 MiB over a 22 MiB floor.
const FLOOR_LOOKS: usize = 400;

/// Starts the trimming thread (once per process, however many servers it runs).
pub fn give_back_freed_memory() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("malloc-trim".into())
            .spawn(|| {
                let mut recent = std::collections::VecDeque::with_capacity(FLOOR_LOOKS);
                for look in 1u32.. {
                    std::thread::sleep(WATCH_EVERY);
                    let Some(kib) = resident_file_kib() else {
                        continue;
                    };
                    if recent.len() == FLOOR_LOOKS {
                        recent.pop_front();
                    }
                    recent.push_back(kib);
                    let floor = recent.iter().copied().min().unwrap_or(kib);
                    if kib > floor.saturating_add(MAPPED_GROWTH_ALLOWED_KIB) {
                        crate::git::retire_open_handles();
                    }
                    if look % TRIM_EVERY == 0 {
                        trim();
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the memory trimming thread");
        }
    });
}

/// Caps glibc's malloc arenas at the number of cores (at least 2, at most 8; glibc's default is
/// eight per core). Each thread that allocates while the others hold theirs gets an arena, and
/// freed memory stays spread over all of them: browsing a long history peaked at 80 MiB of
/// labforge's own memory with the default and 60 MiB with two arenas on a 2-core machine, with
/// no change in page times (bench/RESULTS.md). An operator's `MALLOC_ARENA_MAX` wins. Call it
/// before any thread starts.
pub fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    set_arena_max(cores.clamp(2, 8) as i32);
}

#[cfg(target_env = "gnu")]
fn set_arena_max(arenas: i32) {
    // SAFETY: mallopt only sets a malloc parameter; called before other threads allocate.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(target_env = "gnu"))]
fn set_arena_max(_: i32) {}

#[cfg(target_env = "gnu")]
fn trim() {
    // SAFETY: malloc_trim takes the arenas' own locks; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim() {}

/// How much of labforge's resident memory is pages of mapped files (`RssFile`).
fn resident_file_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("RssFile:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn the_resident_size_of_mapped_files_is_read() {
        // The test binary's own code is mapped and partly resident.
        assert!(super::resident_file_kib().is_some_and(|kib| kib > 0));
    }
}
