//! Every setting in one table: its environment variable, its key in the config file, its default
//! and one line of help. `serve --help` is printed from it, and the tests below hold the loader
//! to it (every variable the loader reads is listed and every listed one is read, every file key
//! is listed, every literal default is what the loader uses), so help and loader cannot drift.
//! A new setting is one line here, next to the line in `config.rs` that reads it.

/// One setting. `file` is `key` for a top-level key, `section.key` for `[section] key`, or empty
/// for a variable only the environment sets.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub env: &'static str,
    pub file: &'static str,
    pub default: Shown,
    pub help: &'static str,
}

/// A default as the help shows it.
#[derive(Debug, Clone, Copy)]
pub enum Shown {
    /// A value the variable itself accepts: setting it changes nothing (a test checks this).
    Value(&'static str),
    /// A default worked out at start (`2 x cores`), or none.
    Described(&'static str),
}

impl Shown {
    fn text(self) -> &'static str {
        match self {
            Shown::Value(v) | Shown::Described(v) => v,
        }
    }
}

const fn v(
    env: &'static str,
    file: &'static str,
    default: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        env,
        file,
        default: Shown::Value(default),
        help,
    }
}

const fn d(
    env: &'static str,
    file: &'static str,
    default: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        env,
        file,
        default: Shown::Described(default),
        help,
    }
}

#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    d("LABFORGE_CONFIG", "", "unset", "the config file (as --config)"),
    v("LABFORGE_DATA_DIR", "data_dir", "./data", "data folder: repositories, the managed PostgreSQL"),
    v("LABFORGE_HTTP_ADDR", "http_addr", "0.0.0.0:3000", "HTTP listen address"),
    v("LABFORGE_SSH_ADDR", "ssh_addr", "0.0.0.0:2222", "SSH server listen address"),
    d("LABFORGE_SSH_PUBLIC", "ssh_public", "base URL's host + SSH port", "host:port for SSH clone URLs"),
    d("LABFORGE_BASE_URL", "base_url", "from the HTTP address", "public URL for links and clone URLs"),
    d("DATABASE_URL", "database_url", "unset: the managed one", "an external PostgreSQL"),
    v("LABFORGE_PUSH_TO_CREATE", "push_to_create", "true", "pushing to a missing OWNER/NAME creates it, private"),
    v("LABFORGE_USERS_MAY_CREATE_ORGS", "users_may_create_orgs", "false", "every user may create organizations (else site admins only)"),
    d("LABFORGE_MAX_UPLOAD_PACKS", "max_upload_packs", "2 x cores", "concurrent clones and fetches"),
    v("LABFORGE_SSH_MAX_CONNECTIONS", "ssh_max_connections", "512", "open SSH connections"),
    v("LABFORGE_SSH_MAX_UNAUTHENTICATED", "ssh_max_unauthenticated", "128", "SSH connections still authenticating"),
    v("LABFORGE_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS", "ssh_max_unauthenticated_per_address", "100", "of those, from one address (IPv6: one /64)"),
    v("LABFORGE_SSH_AUTH_TIMEOUT_SECS", "ssh_auth_timeout_secs", "30", "time to authenticate over SSH"),
    v("LABFORGE_SSH_IDLE_TIMEOUT_SECS", "ssh_idle_timeout_secs", "600", "idle SSH connections close after"),
    v("LABFORGE_HTTP_MAX_CONNECTIONS", "http_max_connections", "2048", "open HTTP connections"),
    v("LABFORGE_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "http_max_connections_per_address", "128", "open HTTP connections from one address (IPv6: one /64)"),
    v("LABFORGE_HTTP_HEADER_TIMEOUT_SECS", "http_header_timeout_secs", "15", "time to send a request's headers (also ends idle connections)"),
    v("LABFORGE_GIT_TIMEOUT_SECS", "git_timeout_secs", "3600", "upper bound on one git process"),
    v("LABFORGE_UPKEEP_DELAY_SECS", "upkeep_delay_secs", "60", "quiet time after a push before repacking"),
    v("LABFORGE_SHUTDOWN_GRACE_SECS", "shutdown_grace_secs", "30", "how long a stop waits for running pushes"),
    v("LABFORGE_UPKEEP_PRUNE_AFTER_DAYS", "upkeep_prune_after_days", "14", "unreachable objects are deleted once this old"),
    v("LABFORGE_MAX_STATUS_CONTEXTS", "max_status_contexts", "1000", "commit status contexts one commit keeps"),
    d("LABFORGE_CHECKS_WORK_DIR", "checks.work_dir", "DATA_DIR/checks", "where pushed trees are written for checks"),
    v("LABFORGE_CHECKS_PUSH_MIB", "checks.push_mib", "512", "bytes one push's checked trees may take"),
    v("LABFORGE_CHECKS_TOTAL_MIB", "checks.total_mib", "1024", "bytes all pushes' checked trees may take at once"),
    v("LABFORGE_CACHE_MEMORY_MIB", "cache.memory_mib", "16", "history answers kept in memory, all repositories"),
    v("LABFORGE_CACHE_FILTER_MIB", "cache.filter_mib", "32", "changed-path filters kept in memory, all repositories"),
    v("LABFORGE_CACHE_DISK_MIB", "cache.disk_mib", "64", "history answers kept on disk, per repository"),
    v("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "webhook.allowed_hosts", "private,external", "where webhooks may go"),
    v("LABFORGE_WEBHOOK_RETRY_BASE_SECS", "webhook.retry_base_secs", "30", "first webhook retry's delay"),
    v("LABFORGE_WEBHOOK_TIMEOUT_SECS", "webhook.timeout_secs", "10", "upper bound on one webhook delivery"),
    d("LABFORGE_BACKUP_DIR", "backup.dir", "unset: no scheduled backups", "where serve writes scheduled backups"),
    v("LABFORGE_MIRROR_ALLOWED_HOSTS", "mirror.allowed_hosts", "private,external", "where mirrors and imports may connect"),
    v("LABFORGE_MIRROR_SYNC_TIMEOUT_SECS", "mirror.sync_timeout_secs", "600", "upper bound on one mirror sync or import"),
    v("LABFORGE_MIRROR_LOW_SPEED_BYTES", "mirror.low_speed_bytes", "1000", "a sync slower than this many bytes a second..."),
    v("LABFORGE_MIRROR_LOW_SPEED_SECS", "mirror.low_speed_secs", "60", "...for this many seconds is ended"),
    v("LABFORGE_MIRROR_PARALLEL_SYNCS", "mirror.parallel_syncs", "4", "mirror syncs running at once"),
    v("LABFORGE_METRICS_ENABLED", "metrics.enabled", "false", "serve Prometheus metrics at /metrics"),
    d("LABFORGE_METRICS_TOKEN", "metrics.token", "unset: no token", "scrapes must send Authorization: Bearer TOKEN"),
    d("LABFORGE_METRICS_ADDR", "metrics.addr", "unset: on the HTTP address", "serve /metrics on this address alone"),
    v("LABFORGE_METRICS_PER_REPO", "metrics.per_repo", "false", "series by repository name (needs the token)"),
    d("LABFORGE_TRUSTED_PROXIES", "trusted_proxies", "unset: none", "proxies (addresses, networks) whose X-Forwarded-For names the client"),
    v("LABFORGE_BACKUP_EVERY", "backup.every", "1d", "how often"),
    v("LABFORGE_BACKUP_KEEP", "backup.keep", "7", "how many scheduled backups stay"),
    d("LABFORGE_PROGRAM", "", "this executable", "the labforge the hook shims run"),
    v("LABFORGE_LOG_FORMAT", "", "text", "text or json (colour only on a terminal)"),
    d("RUST_LOG", "", "info for serve", "log filter"),
];

/// Variables read outside `Config::from_sources` (by `Config::load` and `main`'s logging).
pub const READ_BEFORE_THE_LOADER: &[&str] = &["LABFORGE_CONFIG", "LABFORGE_LOG_FORMAT", "RUST_LOG"];

/// Whether `env` is in the table (the loader asks before it reads a variable).
pub fn is_listed(env: &str) -> bool {
    SETTINGS.iter().any(|s| s.env == env)
}

/// `serve --help`'s list, two lines a setting: names, then what it does and its default.
pub fn help_text() -> String {
    let mut text = String::from(
        "Settings: each is an environment variable and, where one is shown, a key in the \
         --config file ([section] key for a key in a section). The environment wins over the \
         file, the file over the [default].\n",
    );
    for s in SETTINGS {
        let file = match s.file.split_once('.') {
            Some((section, key)) => format!(", [{section}] {key}"),
            None if s.file.is_empty() => String::new(),
            None => format!(", {}", s.file),
        };
        text.push_str(&format!(
            "  {}{file}\n      {} [{}]\n",
            s.env,
            s.help,
            s.default.text()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, FileConfig};
    use std::cell::RefCell;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    /// Loads with `env` as the whole environment, recording every variable the loader asks for.
    fn load_recording(env: &[(&str, &str)]) -> (anyhow::Result<Config>, BTreeSet<String>) {
        let asked = RefCell::new(BTreeSet::new());
        let config = Config::from_sources(FileConfig::default(), PathBuf::from("/etc/lf"), |k| {
            asked.borrow_mut().insert(k.to_owned());
            env.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        });
        (config, asked.into_inner())
    }

    #[test]
    fn every_variable_the_loader_reads_is_listed_and_every_listed_one_is_read() {
        // A backup folder makes the loader read the other backup settings too.
        let (config, asked) = load_recording(&[("LABFORGE_BACKUP_DIR", "/b")]);
        config.unwrap();
        let listed: BTreeSet<String> = SETTINGS
            .iter()
            .map(|s| s.env.to_owned())
            .filter(|e| !READ_BEFORE_THE_LOADER.contains(&e.as_str()))
            .collect();
        assert_eq!(
            asked, listed,
            "the loader's variables and config::settings differ"
        );
    }

    /// Every `"LABFORGE_…"` string in the configuration's sources (and `main`) is a listed
    /// setting: a variable read some other way than through the loader is caught here too.
    #[test]
    fn every_labforge_variable_named_in_the_sources_is_listed() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![root.join("config.rs"), root.join("main.rs")];
        for entry in std::fs::read_dir(root.join("config")).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n != "settings.rs") {
                files.push(path);
            }
        }
        let mut found = 0;
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (i, _) in text.match_indices("\"LABFORGE_") {
                let name: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                let closed = text[i + 1 + name.len()..].starts_with('"');
                if !closed || name == "LABFORGE_" {
                    continue; // a prefix check or part of a longer text
                }
                found += 1;
                assert!(
                    is_listed(&name),
                    "{name} in {} is not in config::settings",
                    file.display()
                );
            }
        }
        assert!(
            found > 20,
            "the scan found only {found} names: is it still reading the sources?"
        );
    }

    /// The keys serde accepts, read from its "unknown field" message: a top-level key, or
    /// `section.key` for each key of a `[section]`; `[[list]]` definitions are not settings.
    fn accepted_file_keys() -> BTreeSet<String> {
        fn fields(toml_text: &str) -> Option<Vec<String>> {
            let err = toml::from_str::<FileConfig>(toml_text).err()?.to_string();
            let (_, list) = err.split_once("unknown field `zz_unknown`, expected")?;
            Some(
                list.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect(),
            )
        }
        let mut keys = BTreeSet::new();
        let top = fields("zz_unknown = 1").expect("serde names the accepted fields");
        for field in top {
            if fields(&format!("[[{field}]]\nzz_unknown = 1")).is_some() {
                continue;
            }
            match fields(&format!("[{field}]\nzz_unknown = 1")) {
                Some(inner) => keys.extend(inner.iter().map(|k| format!("{field}.{k}"))),
                None => {
                    keys.insert(field);
                }
            }
        }
        keys
    }

    #[test]
    fn every_file_key_is_listed_and_every_listed_key_is_accepted() {
        let accepted = accepted_file_keys();
        assert!(accepted.contains("webhook.allowed_hosts"), "{accepted:?}");
        let listed: BTreeSet<String> = SETTINGS
            .iter()
            .filter(|s| !s.file.is_empty())
            .map(|s| s.file.to_owned())
            .collect();
        assert_eq!(
            accepted, listed,
            "the file's keys and config::settings differ"
        );
    }

    /// Setting a variable to the default the help shows changes nothing.
    #[test]
    fn the_defaults_shown_are_the_loaders() {
        let base = [("LABFORGE_BACKUP_DIR", "/b")];
        let plain = format!("{:?}", load_recording(&base).0.unwrap());
        let mut checked = 0;
        for s in SETTINGS {
            let Shown::Value(value) = s.default else {
                continue;
            };
            if READ_BEFORE_THE_LOADER.contains(&s.env) {
                continue;
            }
            let with = load_recording(&[base[0], (s.env, value)]).0;
            let with = format!(
                "{:?}",
                with.unwrap_or_else(|e| panic!("{}={value}: {e:#}", s.env))
            );
            assert_eq!(
                plain, with,
                "{} shows the default {value}, which is not the loader's",
                s.env
            );
            checked += 1;
        }
        assert!(checked > 20, "{checked}");
    }

    #[test]
    fn the_help_names_each_setting_with_its_file_key() {
        let help = help_text();
        assert!(
            help.contains("LABFORGE_WEBHOOK_ALLOWED_HOSTS, [webhook] allowed_hosts\n"),
            "{help}"
        );
        assert!(
            help.contains("LABFORGE_CACHE_DISK_MIB, [cache] disk_mib\n"),
            "{help}"
        );
        assert!(help.contains("LABFORGE_DATA_DIR, data_dir\n"), "{help}");
        assert!(help.contains("  LABFORGE_PROGRAM\n"), "{help}");
        for s in SETTINGS {
            assert!(
                help.contains(&format!("  {}", s.env)),
                "{} missing from the help",
                s.env
            );
        }
    }

    /// The book's configuration reference (`docs/src/configuration.md`) has one table row per
    /// setting and no other: the same variable, the same file key, and for a literal default
    /// the same value, so neither the page nor the loader drifts.
    #[test]
    fn the_configuration_reference_lists_every_setting_and_nothing_else() {
        let page = include_str!("../../docs/src/configuration.md");
        let cell = |c: &str| c.trim().trim_matches('`').to_owned();
        let mut rows = std::collections::BTreeMap::new();
        for line in page.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            assert!(cells.len() >= 4, "a row of four cells: {line}");
            // `[section] key` in the page is `section.key` in the table.
            let file = cell(cells[1]);
            let file = match file.strip_prefix('[').and_then(|f| f.split_once("] ")) {
                Some((section, key)) => format!("{section}.{key}"),
                None => file,
            };
            let previous = rows.insert(cell(cells[0]), (file, cells[2].trim().to_owned()));
            assert!(previous.is_none(), "two rows for {}", cell(cells[0]));
        }
        for s in SETTINGS {
            let (file, default) = rows
                .get(s.env)
                .unwrap_or_else(|| panic!("docs/src/configuration.md has no row for {}", s.env));
            assert_eq!(file, s.file, "{}'s file key", s.env);
            if let Shown::Value(v) = s.default {
                assert_eq!(default, &format!("`{v}`"), "{}'s default", s.env);
            }
        }
        for env in rows.keys() {
            assert!(
                is_listed(env),
                "docs/src/configuration.md lists {env}, which is no setting"
            );
        }
        assert_eq!(rows.len(), SETTINGS.len());
    }
}
