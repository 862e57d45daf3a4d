//! `[metrics]`: the Prometheus endpoint, off by default. With a `token`, scrapes must send
//! `Authorization: Bearer TOKEN`; with an `addr`, `/metrics` is served on that address alone
//! (not on the web port); `per_repo` adds series that name repositories, and so needs the
//! token (private repositories' names are not for anyone who can reach the port).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::{Secret, parse_bool};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMetrics {
    enabled: Option<bool>,
    token: Option<String>,
    addr: Option<SocketAddr>,
    per_repo: Option<bool>,
}

/// `[metrics]` as the server uses it.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// Scrapes must send `Authorization: Bearer` this.
    pub token: Option<Secret>,
    /// `/metrics` on its own listener instead of the web port.
    pub addr: Option<SocketAddr>,
    /// Series by repository name (needs `token`).
    pub per_repo: bool,
}

/// Defaults, then the file's `[metrics]`, then `LABFORGE_METRICS_*`.
pub(super) fn parse_metrics(
    file: Option<FileMetrics>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<MetricsConfig> {
    let file = file.unwrap_or_default();
    let env = |key: &str| env(key).filter(|v| !v.is_empty());
    let flag = |key: &str, file_value: Option<bool>| -> anyhow::Result<bool> {
        match env(key) {
            Some(v) => parse_bool(&v).with_context(|| format!("{key}={v}")),
            None => Ok(file_value.unwrap_or(false)),
        }
    };
    let enabled = flag("LABFORGE_METRICS_ENABLED", file.enabled)?;
    let per_repo = flag("LABFORGE_METRICS_PER_REPO", file.per_repo)?;
    let token = env("LABFORGE_METRICS_TOKEN").or(file.token);
    if let Some(t) = &token
        && (t.len() < 16 || t.bytes().any(|b| !b.is_ascii_graphic()))
    {
        bail!("[metrics] token must be at least 16 printable characters without spaces");
    }
    let addr = match env("LABFORGE_METRICS_ADDR") {
        Some(v) => Some(
            v.parse()
                .with_context(|| format!("LABFORGE_METRICS_ADDR={v}"))?,
        ),
        None => file.addr,
    };
    if per_repo && token.is_none() {
        bail!("[metrics] per_repo = true names private repositories: it needs a token");
    }
    Ok(MetricsConfig {
        enabled,
        token: token.map(Secret::new),
        addr,
        per_repo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str, env: &[(&str, &str)]) -> anyhow::Result<MetricsConfig> {
        #[derive(Deserialize)]
        struct Wrap {
            metrics: Option<FileMetrics>,
        }
        let w: Wrap = toml::from_str(toml_text)?;
        parse_metrics(w.metrics, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn off_by_default_then_file_then_environment() {
        let d = parse("", &[]).unwrap();
        assert!(!d.enabled && !d.per_repo && d.token.is_none() && d.addr.is_none());
        let f = parse(
            "[metrics]\nenabled = true\ntoken = \"0123456789abcdef\"\naddr = \"127.0.0.1:9300\"",
            &[("LABFORGE_METRICS_PER_REPO", "true")],
        )
        .unwrap();
        assert!(f.enabled && f.per_repo);
        assert_eq!(f.token.unwrap().expose(), "0123456789abcdef");
        assert_eq!(f.addr, Some("127.0.0.1:9300".parse().unwrap()));
        assert!(
            format!(
                "{:?}",
                parse("[metrics]\ntoken = \"0123456789abcdef\"", &[]).unwrap()
            )
            .contains("[redacted]")
        );
    }

    #[test]
    fn per_repo_needs_a_token_and_tokens_are_not_trivial() {
        let e = parse("[metrics]\nper_repo = true", &[]).unwrap_err();
        assert!(e.to_string().contains("needs a token"), "{e}");
        assert!(parse("[metrics]\ntoken = \"short\"", &[]).is_err());
        assert!(parse("[metrics]\ntoken = \"with a space in it!\"", &[]).is_err());
        assert!(parse("", &[("LABFORGE_METRICS_ENABLED", "maybe")]).is_err());
        assert!(parse("[metrics]\nunknown = 1", &[]).is_err());
    }
}
