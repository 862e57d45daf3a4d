//! The running configuration as the site admin's page shows it: every row of `SETTINGS` with
//! the value in use, secrets redacted. A secret is named in `SECRET_SETTINGS`; its value is
//! never returned, only whether it is set. `[[deploy]]` and `[[check]]` are listed on their
//! own (names, repositories, triggers, programs) with the names of their environment
//! variables and never a value (`secret_env` is for passwords; `env` may hold them by mistake).

use super::Config;
use super::settings::{SETTINGS, Setting};

/// Settings whose values are secrets: the page says only whether they are set. A database URL
/// may carry a password; the metrics token is a password.
pub const SECRET_SETTINGS: &[&str] = &["DATABASE_URL", "LABFORGE_METRICS_TOKEN"];

/// One row of the page.
#[derive(Debug, Clone)]
pub struct ShownSetting {
    pub setting: &'static Setting,
    pub value: String,
}

const REDACTED: &str = "set (redacted)";
const UNSET: &str = "unset";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| UNSET.to_owned(), |v| v.to_string())
}

fn mib(bytes: u64) -> String {
    format!("{}", bytes / (1024 * 1024))
}

/// The value in use for `env`, or None for a setting this page does not show (read only at
/// start, outside `Config`: the config file's own path, the log format and filter).
fn value_of(config: &Config, env: &str) -> Option<String> {
    let secs = |d: std::time::Duration| d.as_secs().to_string();
    let backup = config.backup.as_ref();
    Some(match env {
        "LABFORGE_DATA_DIR" => config.data_dir.display().to_string(),
        "LABFORGE_HTTP_ADDR" => config.http_addr.to_string(),
        "LABFORGE_SSH_ADDR" => config.ssh_addr.to_string(),
        "LABFORGE_SSH_PUBLIC" => config.ssh_public.clone(),
        "LABFORGE_BASE_URL" => config.base_url.clone(),
        "DATABASE_URL" => match config.database_url {
            Some(_) => REDACTED.to_owned(),
            None => "unset: the managed PostgreSQL".to_owned(),
        },
        "LABFORGE_PUSH_TO_CREATE" => config.push_to_create.to_string(),
        "LABFORGE_USERS_MAY_CREATE_ORGS" => config.users_may_create_orgs.to_string(),
        "LABFORGE_MAX_UPLOAD_PACKS" => config.max_upload_packs.to_string(),
        "LABFORGE_SSH_MAX_CONNECTIONS" => config.ssh_max_connections.to_string(),
        "LABFORGE_SSH_MAX_UNAUTHENTICATED" => config.ssh_max_unauthenticated.to_string(),
        "LABFORGE_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS" => {
            config.ssh_max_unauthenticated_per_address.to_string()
        }
        "LABFORGE_SSH_AUTH_TIMEOUT_SECS" => secs(config.ssh_auth_timeout),
        "LABFORGE_SSH_IDLE_TIMEOUT_SECS" => secs(config.ssh_idle_timeout),
        "LABFORGE_HTTP_MAX_CONNECTIONS" => config.http_max_connections.to_string(),
        "LABFORGE_HTTP_MAX_CONNECTIONS_PER_ADDRESS" => {
            config.http_max_connections_per_address.to_string()
        }
        "LABFORGE_HTTP_HEADER_TIMEOUT_SECS" => secs(config.http_header_timeout),
        "LABFORGE_GIT_TIMEOUT_SECS" => secs(config.git_timeout),
        "LABFORGE_UPKEEP_DELAY_SECS" => secs(config.upkeep_delay),
        "LABFORGE_SHUTDOWN_GRACE_SECS" => secs(config.shutdown_grace),
        "LABFORGE_UPKEEP_PRUNE_AFTER_DAYS" => config.upkeep_prune_after_days.to_string(),
        "LABFORGE_MAX_STATUS_CONTEXTS" => config.max_status_contexts.to_string(),
        "LABFORGE_CHECKS_WORK_DIR" => config.check_limits.work_dir.display().to_string(),
        "LABFORGE_CHECKS_PUSH_MIB" => mib(config.check_limits.push_bytes),
        "LABFORGE_CHECKS_TOTAL_MIB" => mib(config.check_limits.total_bytes),
        "LABFORGE_CACHE_MEMORY_MIB" => mib(config.cache.memory_bytes as u64),
        "LABFORGE_CACHE_FILTER_MIB" => mib(config.cache.filter_bytes as u64),
        "LABFORGE_CACHE_DISK_MIB" => mib(config.cache.disk_bytes),
        "LABFORGE_WEBHOOK_ALLOWED_HOSTS" => config.webhook.allowed_hosts.to_string(),
        "LABFORGE_WEBHOOK_RETRY_BASE_SECS" => secs(config.webhook.retry_base),
        "LABFORGE_WEBHOOK_TIMEOUT_SECS" => secs(config.webhook.timeout),
        "LABFORGE_BACKUP_DIR" => opt(backup.map(|b| b.dir.display().to_string())),
        "LABFORGE_BACKUP_EVERY" => opt(backup.map(|b| format!("{} s", b.every.as_secs()))),
        "LABFORGE_BACKUP_KEEP" => opt(backup.map(|b| b.keep)),
        "LABFORGE_MIRROR_ALLOWED_HOSTS" => config.mirror.allowed_hosts.to_string(),
        "LABFORGE_MIRROR_SYNC_TIMEOUT_SECS" => secs(config.mirror.sync_timeout),
        "LABFORGE_MIRROR_LOW_SPEED_BYTES" => config.mirror.low_speed_bytes.to_string(),
        "LABFORGE_MIRROR_LOW_SPEED_SECS" => config.mirror.low_speed_secs.to_string(),
        "LABFORGE_MIRROR_PARALLEL_SYNCS" => config.mirror.parallel_syncs.to_string(),
        "LABFORGE_METRICS_ENABLED" => config.metrics.enabled.to_string(),
        "LABFORGE_METRICS_TOKEN" => match config.metrics.token {
            Some(_) => REDACTED.to_owned(),
            None => UNSET.to_owned(),
        },
        "LABFORGE_METRICS_ADDR" => opt(config.metrics.addr),
        "LABFORGE_METRICS_PER_REPO" => config.metrics.per_repo.to_string(),
        "LABFORGE_TRUSTED_PROXIES" => {
            if config.trusted_proxies.is_empty() {
                "none".to_owned()
            } else {
                config.trusted_proxies.to_string()
            }
        }
        "LABFORGE_PROGRAM" => config.program.display().to_string(),
        _ => return None,
    })
}

/// Every setting with the value in use (secrets redacted; a setting read only at start says
/// so).
pub fn running(config: &Config) -> Vec<ShownSetting> {
    SETTINGS
        .iter()
        .map(|setting| {
            let value = if SECRET_SETTINGS.contains(&setting.env) {
                // The match above redacts them too; this keeps a secret redacted even if
                // its arm is ever changed by mistake.
                match value_of(config, setting.env).as_deref() {
                    Some(UNSET) | None => UNSET.to_owned(),
                    Some(v) if v.starts_with("unset") => v.to_owned(),
                    Some(_) => REDACTED.to_owned(),
                }
            } else {
                value_of(config, setting.env)
                    .unwrap_or_else(|| "read at start (not shown)".to_owned())
            };
            ShownSetting { setting, value }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings read before the loader, outside `Config`: the page names them without a value.
    const NOT_IN_CONFIG: &[&str] = &["LABFORGE_CONFIG", "LABFORGE_LOG_FORMAT", "RUST_LOG"];

    /// A setting added to the table without a line here would show "read at start": only the
    /// three that are read before the loader may.
    #[test]
    fn every_setting_the_loader_reads_has_a_value_and_secrets_are_listed_settings() {
        let config = Config::from_pairs(&[]).unwrap();
        for s in SETTINGS {
            let shown = value_of(&config, s.env);
            assert_eq!(
                shown.is_none(),
                NOT_IN_CONFIG.contains(&s.env),
                "{}: add its value to shown.rs",
                s.env
            );
        }
        for env in SECRET_SETTINGS {
            assert!(SETTINGS.iter().any(|s| s.env == *env), "{env}");
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let config = Config::from_pairs(&[
            ("DATABASE_URL", "postgres://lab:hunter2-db@db/labforge"),
            ("LABFORGE_METRICS_ENABLED", "true"),
            ("LABFORGE_METRICS_TOKEN", "hunter2-metrics-token"),
        ])
        .unwrap();
        let rows = running(&config);
        let all: String = rows.iter().map(|r| r.value.as_str()).collect();
        assert!(!all.contains("hunter2"), "{all}");
        let db = rows
            .iter()
            .find(|r| r.setting.env == "DATABASE_URL")
            .unwrap();
        assert_eq!(db.value, REDACTED);
        let plain = Config::from_pairs(&[]).unwrap();
        let db = running(&plain);
        let db = db.iter().find(|r| r.setting.env == "DATABASE_URL").unwrap();
        assert_eq!(db.value, "unset: the managed PostgreSQL");
    }
}
