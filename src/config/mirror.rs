//! `[mirror]`: where push mirrors, pull mirrors and imports may connect, and the bounds on each
//! sync. Its own allow list rather than the webhooks' one: an operator who lets webhooks reach a
//! CI on loopback need not let every repository admin point git at 127.0.0.1 too. Both lists are
//! parsed and checked by the same code (`model::allow_list`, `domain::egress`).

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::model::HostAllowList;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMirror {
    allowed_hosts: Option<String>,
    sync_timeout_secs: Option<u64>,
    low_speed_bytes: Option<u32>,
    low_speed_secs: Option<u32>,
    parallel_syncs: Option<usize>,
}

/// `[mirror]` as the forge uses it.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// `allowed_hosts` (`LABFORGE_MIRROR_ALLOWED_HOSTS`): every address a mirror or import
    /// connects to, checked when saved and again after DNS at each connection.
    pub allowed_hosts: HostAllowList,
    /// One sync (push, fetch or import) is ended after this long, whatever git is doing.
    pub sync_timeout: Duration,
    /// A transfer slower than `low_speed_bytes` per second for `low_speed_secs` is ended
    /// (git's `http.lowSpeedLimit`/`lowSpeedTime`; SSH's keepalives for SSH).
    pub low_speed_bytes: u32,
    pub low_speed_secs: u32,
    /// Syncs that run at once (of different mirrors); more wait for a free slot.
    pub parallel_syncs: usize,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: HostAllowList::default(),
            sync_timeout: Duration::from_secs(600),
            low_speed_bytes: 1000,
            low_speed_secs: 60,
            parallel_syncs: 4,
        }
    }
}

/// Defaults, then the file's `[mirror]`, then `LABFORGE_MIRROR_*`.
pub(super) fn parse_mirror(
    file: Option<FileMirror>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<MirrorConfig> {
    let file = file.unwrap_or_default();
    let d = MirrorConfig::default();
    let env = |key: &str| env(key).filter(|v| !v.is_empty());
    let number = |key: &str, file_value: Option<u64>, default: u64| -> anyhow::Result<u64> {
        match env(key) {
            Some(v) => v.parse().with_context(|| format!("{key}={v}")),
            None => Ok(file_value.unwrap_or(default)),
        }
    };
    let allowed_hosts = match env("LABFORGE_MIRROR_ALLOWED_HOSTS").or(file.allowed_hosts) {
        Some(v) => HostAllowList::parse(&v).map_err(|e| anyhow::anyhow!("[mirror] {e}"))?,
        None => d.allowed_hosts,
    };
    let sync_timeout = number(
        "LABFORGE_MIRROR_SYNC_TIMEOUT_SECS",
        file.sync_timeout_secs,
        d.sync_timeout.as_secs(),
    )?;
    if !(10..=86_400).contains(&sync_timeout) {
        bail!("[mirror] sync_timeout_secs is 10 to 86400, got {sync_timeout}");
    }
    let low_speed_bytes = number(
        "LABFORGE_MIRROR_LOW_SPEED_BYTES",
        file.low_speed_bytes.map(u64::from),
        u64::from(d.low_speed_bytes),
    )?;
    let low_speed_secs = number(
        "LABFORGE_MIRROR_LOW_SPEED_SECS",
        file.low_speed_secs.map(u64::from),
        u64::from(d.low_speed_secs),
    )?;
    if low_speed_bytes == 0 || !(1..=3600).contains(&low_speed_secs) {
        bail!("[mirror] low_speed_bytes is at least 1 and low_speed_secs 1 to 3600");
    }
    let parallel_syncs = number(
        "LABFORGE_MIRROR_PARALLEL_SYNCS",
        file.parallel_syncs.map(|n| n as u64),
        d.parallel_syncs as u64,
    )?;
    if !(1..=64).contains(&parallel_syncs) {
        bail!("[mirror] parallel_syncs is 1 to 64, got {parallel_syncs}");
    }
    Ok(MirrorConfig {
        allowed_hosts,
        sync_timeout: Duration::from_secs(sync_timeout),
        low_speed_bytes: u32::try_from(low_speed_bytes).context("[mirror] low_speed_bytes")?,
        low_speed_secs: u32::try_from(low_speed_secs).expect("at most 3600 because checked above"),
        parallel_syncs: usize::try_from(parallel_syncs).expect("at most 64 because checked above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str, env: &[(&str, &str)]) -> anyhow::Result<MirrorConfig> {
        #[derive(Deserialize)]
        struct Wrap {
            mirror: Option<FileMirror>,
        }
        let w: Wrap = toml::from_str(toml_text)?;
        parse_mirror(w.mirror, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_file_and_environment() {
        let d = parse("", &[]).unwrap();
        assert_eq!(d.allowed_hosts.to_string(), "private,external");
        assert_eq!(d.sync_timeout, Duration::from_secs(600));
        assert_eq!((d.low_speed_bytes, d.low_speed_secs), (1000, 60));
        assert_eq!(d.parallel_syncs, 4);
        let f = parse(
            "[mirror]\nallowed_hosts = \"loopback\"\nsync_timeout_secs = 60\nparallel_syncs = 2",
            &[("LABFORGE_MIRROR_PARALLEL_SYNCS", "8")],
        )
        .unwrap();
        assert_eq!(f.allowed_hosts.to_string(), "loopback");
        assert_eq!(f.sync_timeout, Duration::from_secs(60));
        assert_eq!(f.parallel_syncs, 8, "the environment wins");
    }

    #[test]
    fn nonsense_and_out_of_range_values_are_refused() {
        assert!(parse("[mirror]\nallowed_hosts = \"loopbak\"", &[]).is_err());
        assert!(parse("[mirror]\nparallel_syncs = 0", &[]).is_err());
        assert!(parse("[mirror]\nparallel_syncs = 65", &[]).is_err());
        assert!(parse("[mirror]\nsync_timeout_secs = 1", &[]).is_err());
        assert!(parse("[mirror]\nlow_speed_secs = 0", &[]).is_err());
        assert!(parse("[mirror]\nunknown = 1", &[]).is_err());
        assert!(parse("", &[("LABFORGE_MIRROR_SYNC_TIMEOUT_SECS", "x")]).is_err());
    }
}
