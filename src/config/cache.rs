//! `[cache]`: how much the history pages (last commits, blame, path logs) may keep. Every cache
//! has a size here, so memory stays bounded however long the histories browsed are.

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::git::CacheLimits;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCache {
    memory_mib: Option<u64>,
    filter_mib: Option<u64>,
    disk_mib: Option<u64>,
}

/// Defaults, then the file's `[cache]`, then `LABFORGE_CACHE_*`.
pub(super) fn parse_cache(
    file: Option<FileCache>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<CacheLimits> {
    let file = file.unwrap_or_default();
    let defaults = CacheLimits::default();
    let mib = |key: &str, file_value: Option<u64>, default: u64| -> anyhow::Result<u64> {
        let v = match env(key).filter(|v| !v.is_empty()) {
            Some(v) => v.parse().with_context(|| format!("{key}={v}"))?,
            None => file_value.unwrap_or(default >> 20),
        };
        if v > 1 << 20 {
            bail!("{key}: {v} MiB is more than a terabyte");
        }
        Ok(v << 20)
    };
    Ok(CacheLimits {
        memory_bytes: mib(
            "LABFORGE_CACHE_MEMORY_MIB",
            file.memory_mib,
            defaults.memory_bytes as u64,
        )? as usize,
        filter_bytes: mib(
            "LABFORGE_CACHE_FILTER_MIB",
            file.filter_mib,
            defaults.filter_bytes as u64,
        )? as usize,
        disk_bytes: mib(
            "LABFORGE_CACHE_DISK_MIB",
            file.disk_mib,
            defaults.disk_bytes,
        )?,
    })
}
