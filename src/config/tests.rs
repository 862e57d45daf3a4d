use super::*;
use std::collections::HashMap;

fn load(file: &str, env: &[(&str, &str)]) -> anyhow::Result<Config> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let parsed: FileConfig = toml::from_str(file)?;
    Config::from_sources(parsed, PathBuf::from("/etc/labforge"), |k| {
        env.get(k).cloned()
    })
}

#[test]
fn defaults() {
    let c = load("", &[]).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        c.data_dir,
        cwd.join("data"),
        "absolute, from the current folder"
    );
    assert_eq!(c.http_addr.port(), 3000);
    assert_eq!(c.ssh_addr.port(), 2222);
    assert_eq!(c.base_url, "http://localhost:3000");
    assert!(c.database_url.is_none());
    assert!(c.push_to_create);
    assert_eq!(c.max_status_contexts, 1000, "Gitea's limit");
    assert_eq!(c.upkeep_prune_after_days, 14);
}

#[test]
fn status_and_prune_limits_come_from_the_file_and_the_environment() {
    let c = load(
        "max_status_contexts = 50\nupkeep_prune_after_days = 3",
        &[("LABFORGE_MAX_STATUS_CONTEXTS", "20")],
    )
    .unwrap();
    assert_eq!(c.max_status_contexts, 20);
    assert_eq!(c.upkeep_prune_after_days, 3);
    let c = load("", &[("LABFORGE_MAX_STATUS_CONTEXTS", "0")]).unwrap();
    assert_eq!(c.max_status_contexts, 1, "at least one context");
}

#[test]
fn environment_beats_file_beats_default() {
    let c = load(
        "http_addr = \"127.0.0.1:4000\"\ndata_dir = \"lf\"\nbase_url = \"https://git.lab/\"",
        &[("LABFORGE_HTTP_ADDR", "127.0.0.1:5000")],
    )
    .unwrap();
    assert_eq!(c.http_addr.port(), 5000);
    assert_eq!(c.data_dir, PathBuf::from("/etc/labforge/lf"));
    assert_eq!(c.base_url, "https://git.lab");
}

#[test]
fn cache_sizes_come_from_the_file_and_the_environment() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.cache.memory_bytes, 16 << 20);
    let c = load(
        "[cache]\nmemory_mib = 8\ndisk_mib = 100",
        &[("LABFORGE_CACHE_DISK_MIB", "5")],
    )
    .unwrap();
    assert_eq!(c.cache.memory_bytes, 8 << 20);
    assert_eq!(c.cache.disk_bytes, 5 << 20);
    assert!(load("[cache]\nmemory = 8", &[]).is_err());
    assert!(load("", &[("LABFORGE_CACHE_MEMORY_MIB", "lots")]).is_err());
}

#[test]
fn unknown_file_keys_are_errors() {
    assert!(load("data_dri = \"x\"", &[]).is_err());
}

#[test]
fn database_url_is_redacted_in_debug() {
    let c = load("", &[("DATABASE_URL", "postgres://u:hunter2@db/x")]).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(
        c.database_url.unwrap().expose(),
        "postgres://u:hunter2@db/x"
    );
}

#[test]
fn clone_urls_follow_the_public_addresses() {
    let c = load("", &[("LABFORGE_BASE_URL", "https://git.lab:8443/")]).unwrap();
    assert_eq!(c.ssh_public, "git.lab:2222");
    assert_eq!(
        c.http_clone_url("lab", "dns"),
        "https://git.lab:8443/lab/dns.git"
    );
    assert_eq!(
        c.ssh_clone_url("lab", "dns"),
        "ssh://git@git.lab:2222/lab/dns.git"
    );
    let c = load("", &[("LABFORGE_SSH_PUBLIC", "git.lab:22")]).unwrap();
    assert_eq!(c.ssh_clone_url("lab", "dns"), "git@git.lab:lab/dns.git");
}

#[test]
fn webhook_section_and_its_environment() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.webhook.allowed_hosts.to_string(), "private,external");
    assert_eq!(c.webhook.retry_base, Duration::from_secs(30));
    let c = load(
        "[webhook]\nallowed_hosts = \"loopback, *.lab\"\nretry_base_secs = 2",
        &[],
    )
    .unwrap();
    assert!(
        c.webhook
            .allowed_hosts
            .allows("x", "127.0.0.1".parse().unwrap())
    );
    assert_eq!(c.webhook.retry_base, Duration::from_secs(2));
    let c = load(
        "[webhook]\nallowed_hosts = \"loopback\"",
        &[("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "external")],
    )
    .unwrap();
    assert_eq!(c.webhook.allowed_hosts.to_string(), "external");
    assert!(load("[webhook]\nallowed_hosts = \"http://x\"", &[]).is_err());
    assert!(load("[webhook]\nallowed = \"*\"", &[]).is_err());
}

#[test]
fn backup_section_turns_scheduled_backups_on() {
    assert!(load("", &[]).unwrap().backup.is_none());
    let c = load("[backup]\ndir = \"b\"\nevery = \"6h\"", &[]).unwrap();
    let b = c.backup.unwrap();
    assert_eq!(b.dir, PathBuf::from("/etc/labforge/b"));
    assert_eq!(b.every, Duration::from_secs(6 * 3600));
    assert_eq!(b.keep, 7);
    let c = load(
        "",
        &[
            ("LABFORGE_BACKUP_DIR", "/srv/b"),
            ("LABFORGE_BACKUP_KEEP", "2"),
        ],
    )
    .unwrap();
    let b = c.backup.unwrap();
    assert_eq!(
        (b.dir, b.every, b.keep),
        (PathBuf::from("/srv/b"), Duration::from_secs(86400), 2)
    );
    assert!(load("[backup]\ndir = \"b\"\nkeep = 0", &[]).is_err());
    assert!(load("[backup]\ndir = \"b\"\nevery = \"soon\"", &[]).is_err());
}

#[test]
fn bad_base_url_is_refused() {
    assert!(load("", &[("LABFORGE_BASE_URL", "git.lab")]).is_err());
}

proptest::proptest! {
    #![proptest_config(crate::fuzz::config())]

    /// Any file text and any value of any variable: a config or an error, never a panic.
    #[test]
    fn any_file_and_environment_load_or_fail_cleanly(
        file in "\\PC{0,80}|[a-z_]{1,12} = (\"[ -~]{0,12}\"|[0-9]{1,25}|true)",
        key in proptest::sample::select(vec![
            "LABFORGE_HTTP_ADDR", "LABFORGE_SSH_ADDR", "LABFORGE_BASE_URL",
            "LABFORGE_HTTP_MAX_CONNECTIONS", "LABFORGE_HTTP_HEADER_TIMEOUT_SECS",
            "LABFORGE_SSH_AUTH_TIMEOUT_SECS", "LABFORGE_WEBHOOK_ALLOWED_HOSTS",
            "LABFORGE_PUSH_TO_CREATE", "LABFORGE_MAX_UPLOAD_PACKS",
        ]),
        value in "\\PC{0,30}|[0-9]{1,25}",
    ) {
        let _ = load(&file, &[(key, value.as_str())]);
    }
}
