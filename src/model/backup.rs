//! What `/healthz?verbose` says about scheduled backups.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BackupStatus {
    /// Whether `[backup]` is configured.
    pub enabled: bool,
    /// RFC 3339 times, UTC.
    pub last_success_at: Option<String>,
    pub last_file: Option<String>,
    pub last_bytes: Option<u64>,
    pub last_duration_ms: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// Failures since the last success; each is retried.
    pub failures: u32,
    pub next_at: Option<String>,
}
