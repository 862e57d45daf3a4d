//! Pushing a repository to its push mirror, and fetching from a pull mirror or an import.
//! Credentials reach git only through the environment: an SSH key in a private temporary folder
//! that `GIT_SSH_COMMAND` names, or an HTTPS user name and token that a fixed credential helper
//! (in `-c`) reads from variables. Neither is ever in an argument list (`ps`), in git config, or
//! in the error text kept for the settings page.
//!
//! Every connection goes to the address the allow list passed (`domain::egress`), never to a
//! second lookup: HTTP(S) through `http.curloptResolve`, `git://` by naming the address, SSH
//! through ssh's `HostName`. Only the URL's own protocol is allowed (`GIT_ALLOW_PROTOCOL`),
//! redirects are errors, and each sync has a deadline and a low-speed limit. What a user sees of
//! a failure does not tell a closed port from a live service that is not git (that would make
//! mirrors a port scanner); git's own words go to the server log.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use super::{GitRunner, RepoDir};
use crate::model::redact::redaction_note;
use crate::model::{MirrorScope, MirrorTransport, MirrorUrl, Secrets};

/// Known-hosts entries use this name whatever the host and port: one pinned key per mirror.
const HOST_ALIAS: &str = "labforge-mirror";
/// The logged error text's bound.
const MAX_ERROR: usize = 2000;
/// Lines of git's output a user may see: they come only from a far side that speaks git
/// (a push's per-ref rejections, and fsck's verdict on what a fetch received).
const SHOWN_PREFIXES: &[&str] = &[" ! [", "error: object ", "fatal: fsck error"];
/// At most this many of them.
const MAX_SHOWN_LINES: usize = 10;
/// The part of a far side's ref listing read to learn that it has branches or tags.
const MAX_LISTING: usize = 64 * 1024;

pub enum MirrorCredentials<'a> {
    Ssh {
        private_key: &'a str,
        /// `TYPE BASE64`; None before the first successful sync (then it is learned).
        pinned_host_key: Option<&'a str>,
    },
    Https {
        username: &'a str,
        token: &'a str,
    },
}

#[derive(Debug)]
pub enum MirrorError {
    /// The far side's SSH host key is not the pinned one: the mirror must stop.
    HostKeyChanged(String),
    Failed(String),
}

/// The bounds on one sync (`[mirror]` in the config).
#[derive(Debug, Clone, Copy)]
pub struct SyncLimits {
    /// git's process group is ended this long after it started.
    pub deadline: Duration,
    /// Slower than this many bytes a second for `low_speed_secs` ends the transfer.
    pub low_speed_bytes: u32,
    pub low_speed_secs: u32,
}

/// Where git connects: the URL and the one address the allow list passed for its host.
pub struct Target<'a> {
    pub url: &'a MirrorUrl,
    pub ip: IpAddr,
}

/// HTTPS credentials for `cmd`: a fixed credential helper (in `-c`) that prints the user name
/// and token from its environment, the only place they are.
fn https_credentials(cmd: &mut tokio::process::Command, username: &str, token: &str) {
    cmd.args([
        "-c",
        "credential.helper=!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"$LABFORGE_MIRROR_USERNAME\" \"$LABFORGE_MIRROR_TOKEN\"; }; f",
    ])
    .env("LABFORGE_MIRROR_USERNAME", username)
    .env("LABFORGE_MIRROR_TOKEN", token);
}

/// The settings and environment every mirror connection runs with, whatever its transport:
/// pinned to `target.ip`, its protocol only, no redirects, no stored credentials, slow
/// transfers ended.
fn pin_and_bound(cmd: &mut tokio::process::Command, target: &Target<'_>, limits: SyncLimits) {
    let url = target.url;
    cmd.env("GIT_ALLOW_PROTOCOL", url.protocol())
        .args(["-c", "protocol.allow=never"])
        .args(["-c", "credential.helper="])
        .args(["-c", "http.followRedirects=false"])
        .arg("-c")
        .arg(format!("http.lowSpeedLimit={}", limits.low_speed_bytes))
        .arg("-c")
        .arg(format!("http.lowSpeedTime={}", limits.low_speed_secs));
    if url.transport() == MirrorTransport::Http && url.host().parse::<IpAddr>().is_err() {
        let ip = match target.ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        cmd.arg("-c").arg(format!(
            "http.curloptResolve={}:{}:{ip}",
            url.host(),
            url.port()
        ));
    }
}

/// `GIT_SSH_COMMAND` for a mirror: its own key and known-hosts file, pinned to `ip` (ssh's
/// `HostName` replaces the name git passes), no config files, bounded waits.
fn ssh_command(
    key: &std::path::Path,
    known_hosts: &std::path::Path,
    strict: &str,
    ip: IpAddr,
    limits: SyncLimits,
) -> String {
    // Keepalives every 15 s, given up after enough silence to match the low-speed time.
    let alive_max = limits.low_speed_secs.div_ceil(15).max(1);
    format!(
        "ssh -F /dev/null -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes \
         -o HostKeyAlias={HOST_ALIAS} -o StrictHostKeyChecking={strict} \
         -o UserKnownHostsFile='{}' -o ConnectTimeout=20 -o HostName={ip} \
         -o ProxyCommand=none -o ProxyJump=none -o CanonicalizeHostname=no \
         -o ServerAliveInterval=15 -o ServerAliveCountMax={alive_max}",
        key.display(),
        known_hosts.display()
    )
}

/// git's error text as logged: the secret (the token) replaced where it stands as a whole value
/// (see `model::redact`; a token `b` must not turn `unable` into `una[redacted]le`) with a note
/// saying so, the last `MAX_ERROR` bytes.
fn error_text(stderr: &[u8], secret: Option<&str>) -> String {
    let text = String::from_utf8_lossy(stderr);
    let secrets = Secrets::new(secret.map(str::to_owned));
    let (text, redacted) = secrets.redact(text.trim());
    let start = text.len().saturating_sub(MAX_ERROR);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let mut kept = text[start..].to_owned();
    if redacted > 0 {
        kept.push(' ');
        kept.push_str(&redaction_note(redacted));
    }
    kept
}

/// What a user sees of a failed sync: the same words for a closed port, a tarpit, a web
/// server that is not git and a refused login, plus only the lines a git far side alone
/// produces (`SHOWN_PREFIXES`).
fn user_text(op: &str, text: &str) -> String {
    let mut shown = format!(
        "git {op} failed: no git repository at that address answered it (nothing listens \
         there, it is not a git server, it refused the credentials, or it timed out; the \
         server log has git's own message)"
    );
    for line in text
        .lines()
        .filter(|l| SHOWN_PREFIXES.iter().any(|p| l.starts_with(p)))
        .take(MAX_SHOWN_LINES)
    {
        shown.push('\n');
        shown.extend(crate::model::text::terminal_line(line).chars().take(300));
    }
    shown
}

impl GitRunner {
    /// Fetches `target`'s branches and tags into `dir` as the remote has them: rewritten and
    /// deleted refs included (a pull mirror, an import). What arrives passes git's fsck, as a
    /// push does (`receive.fsckObjects`): no `.git` or `..` tree entries. `credentials` for
    /// HTTPS: user name and token.
    pub async fn fetch_from_mirror(
        &self,
        dir: &RepoDir,
        target: Target<'_>,
        credentials: Option<(&str, &str)>,
        limits: SyncLimits,
    ) -> Result<(), String> {
        let scratch = tempfile::Builder::new()
            .prefix("labforge-mirror-")
            .tempdir()
            .map_err(|e| format!("preparing the fetch: {e}"))?;
        let deadline = tokio::time::Instant::now() + limits.deadline;
        let secret = credentials.map(|(_, t)| t);
        let command = || {
            let mut cmd = self.base_command();
            cmd.env("HOME", scratch.path())
                .env("GIT_DIR", dir.path())
                .current_dir(dir.path());
            pin_and_bound(&mut cmd, &target, limits);
            if let Some((username, token)) = credentials {
                https_credentials(&mut cmd, username, token);
            }
            cmd
        };
        // First what the far side has: a web server that is not git answers a dumb-HTTP
        // `info/refs` with a page git reads as no refs at all, which would import an empty
        // repository (telling a live server from a closed port) or prune a mirror to nothing.
        let mut cmd = command();
        cmd.args(["ls-remote", "--heads", "--tags", "--end-of-options"])
            .arg(target.url.for_git(target.ip));
        let (status, listed, stderr) = self
            .output_until(
                cmd,
                "git ls-remote of a mirror",
                deadline,
                Some(MAX_LISTING),
            )
            .await
            .map_err(|e| e.to_string())?;
        let has_refs = listed
            .split(|b| *b == b'\n')
            .any(|l| l.len() > 40 && l[..40].iter().all(u8::is_ascii_hexdigit));
        if !status.success() || !has_refs {
            let text = error_text(&stderr, secret);
            tracing::warn!(url = target.url.as_str(), ip = %target.ip, %status, has_refs, error = %text, "git ls-remote of a mirror failed or listed no refs");
            return Err(user_text("fetch", &text));
        }
        let mut cmd = command();
        cmd.args([
            "-c",
            "fetch.fsckObjects=true",
            "-c",
            "transfer.fsckObjects=true",
        ]);
        cmd.args([
            "fetch",
            "--prune",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-recurse-submodules",
            "--quiet",
        ])
        .args(["--end-of-options", &target.url.for_git(target.ip)])
        .args(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]);
        let (status, stderr) = self
            .wait_until(cmd, "git fetch from a mirror", deadline)
            .await
            .map_err(|e| e.to_string())?;
        if status.success() {
            return Ok(());
        }
        let text = error_text(&stderr, secret);
        tracing::warn!(url = target.url.as_str(), ip = %target.ip, %status, error = %text, "git fetch from a mirror failed");
        Err(user_text("fetch", &text))
    }

    /// Pushes `dir` to `target`; on success the far side's host key (SSH, first sync) to pin.
    pub async fn push_to_mirror(
        &self,
        dir: &RepoDir,
        target: Target<'_>,
        credentials: MirrorCredentials<'_>,
        scope: MirrorScope,
        limits: SyncLimits,
    ) -> Result<Option<String>, MirrorError> {
        let failed = |e: std::io::Error| MirrorError::Failed(format!("preparing the push: {e}"));
        let scratch = tempfile::Builder::new()
            .prefix("labforge-mirror-")
            .tempdir()
            .map_err(failed)?;
        let known_hosts = scratch.path().join("known_hosts");
        let mut cmd = self.base_command();
        cmd.env("HOME", scratch.path())
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path());
        pin_and_bound(&mut cmd, &target, limits);
        let mut secret = None;
        let mut pinned = None;
        match credentials {
            MirrorCredentials::Ssh {
                private_key,
                pinned_host_key,
            } => {
                let key = scratch.path().join("key");
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&key)
                    .map_err(failed)?;
                file.write_all(private_key.trim_end().as_bytes())
                    .and_then(|()| file.write_all(b"\n"))
                    .map_err(failed)?;
                if let Some(host_key) = pinned_host_key {
                    std::fs::write(&known_hosts, format!("{HOST_ALIAS} {host_key}\n"))
                        .map_err(failed)?;
                }
                pinned = pinned_host_key;
                let strict = if pinned.is_some() {
                    "yes"
                } else {
                    "accept-new"
                };
                cmd.env("GIT_SSH_VARIANT", "ssh").env(
                    "GIT_SSH_COMMAND",
                    ssh_command(&key, &known_hosts, strict, target.ip, limits),
                );
            }
            MirrorCredentials::Https { username, token } => {
                https_credentials(&mut cmd, username, token);
                secret = Some(token);
            }
        }
        let url = target.url.for_git(target.ip);
        cmd.args(["push", "--no-recurse-submodules"]);
        match scope {
            MirrorScope::Mirror => {
                cmd.args(["--mirror", "--end-of-options", &url]);
            }
            MirrorScope::Branches => {
                cmd.args(["--prune", "--end-of-options", &url])
                    .args(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]);
            }
        }
        let deadline = tokio::time::Instant::now() + limits.deadline;
        let (status, stderr) = self
            .wait_until(cmd, "git push to a mirror", deadline)
            .await
            .map_err(|e| MirrorError::Failed(e.to_string()))?;
        let text = error_text(&stderr, secret);
        if !status.success() {
            if pinned.is_some()
                && (text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
                    || text.contains("Host key verification failed"))
            {
                return Err(MirrorError::HostKeyChanged(format!(
                    "the far side's SSH host key is not the pinned one ({}); the mirror is \
                     stopped: check the far side, then remove the mirror and add it again",
                    pinned.unwrap_or_default()
                )));
            }
            tracing::warn!(url = target.url.as_str(), ip = %target.ip, %status, error = %text, "git push to a mirror failed");
            return Err(MirrorError::Failed(user_text("push", &text)));
        }
        if pinned.is_some() {
            return Ok(None);
        }
        let learned = std::fs::read_to_string(&known_hosts).ok().and_then(|t| {
            t.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next()? == HOST_ALIAS).then(|| Some(format!("{} {}", f.next()?, f.next()?)))?
            })
        });
        Ok(learned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_token_is_redacted_only_as_itself() {
        let stderr = b"fatal: unable to access 'https://example.org/x.git/': b rejected\n";
        assert_eq!(
            error_text(stderr, Some("b")),
            "fatal: unable to access 'https://example.org/x.git/': [redacted] rejected \
             (1 secret value redacted)"
        );
        assert_eq!(
            error_text(b"fatal: unable to access\n", Some("b")),
            "fatal: unable to access"
        );
    }
}
