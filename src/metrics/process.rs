//! The process' own numbers, read from /proc when scraped: resident memory, open descriptors
//! (connections, packs and git's pipes all use them; see `raise_open_file_limit`) and uptime.

use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

#[derive(Default)]
pub(super) struct ProcessGauges {
    resident: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    uptime: Gauge,
}

impl ProcessGauges {
    pub(super) fn register(&self, r: &mut Registry) {
        r.register_with_unit(
            "process_resident_memory",
            "resident memory of the serve process",
            Unit::Bytes,
            self.resident.clone(),
        );
        r.register(
            "process_open_fds",
            "file descriptors open now",
            self.open_fds.clone(),
        );
        r.register(
            "process_max_fds",
            "the soft limit on open file descriptors",
            self.max_fds.clone(),
        );
        r.register_with_unit(
            "process_uptime",
            "time since the server started",
            Unit::Seconds,
            self.uptime.clone(),
        );
    }

    pub(super) fn refresh(&self, uptime: Duration) {
        self.uptime
            .set(i64::try_from(uptime.as_secs()).unwrap_or(i64::MAX));
        if let Some(bytes) = resident_bytes() {
            self.resident.set(bytes);
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // One entry is the directory handle reading it.
            let open = dir.count().saturating_sub(1);
            self.open_fds.set(i64::try_from(open).unwrap_or(i64::MAX));
        }
        if let Ok((soft, _)) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        {
            self.max_fds.set(i64::try_from(soft).unwrap_or(i64::MAX));
        }
    }
}

/// Resident pages (`/proc/self/statm`'s second field) times the page size.
fn resident_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages.saturating_mul(if page > 0 { page } else { 4096 }))
}
