//! Pushing a repository to its push mirror. Credentials reach git only through the environment:
//! an SSH key in a private temporary folder that `GIT_SSH_COMMAND` names, or an HTTPS user name
//! and token that a fixed credential helper (in `-c`) reads from variables. Neither is ever in an
//! argument list (`ps`), in git config, or in the error text kept for the settings page.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use super::{GitRunner, RepoDir};
use crate::model::redact::redaction_note;
use crate::model::{MirrorScope, MirrorUrl, Secrets};

/// Known-hosts entries use this name whatever the host and port: one pinned key per mirror.
const HOST_ALIAS: &str = "labforge-mirror";
/// The kept error text's bound.
const MAX_ERROR: usize = 2000;

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

/// HTTPS credentials for `cmd`: a fixed credential helper (in `-c`) that prints the user name
/// and token from its environment, the only place they are.
fn https_credentials(cmd: &mut tokio::process::Command, username: &str, token: &str) {
    cmd.args(["-c", "credential.helper="])
        .args([
            "-c",
            "credential.helper=!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"$LABFORGE_MIRROR_USERNAME\" \"$LABFORGE_MIRROR_TOKEN\"; }; f",
        ])
        .args(["-c", "http.followRedirects=false"])
        .env("LABFORGE_MIRROR_USERNAME", username)
        .env("LABFORGE_MIRROR_TOKEN", token);
}

/// git's error text as kept for pages: the secret (the token) replaced where it stands as a
/// whole value (see `model::redact`; a token `b` must not turn `unable` into `una[redacted]le`)
/// with a note saying so, the last `MAX_ERROR` bytes.
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

impl GitRunner {
    /// Fetches `url`'s branches and tags into `dir` as the remote has them: rewritten and
    /// deleted refs included (a pull mirror). `credentials` for HTTPS: user name and token.
    pub async fn fetch_from_mirror(
        &self,
        dir: &RepoDir,
        url: &MirrorUrl,
        credentials: Option<(&str, &str)>,
    ) -> Result<(), String> {
        let scratch = tempfile::Builder::new()
            .prefix("labforge-mirror-")
            .tempdir()
            .map_err(|e| format!("preparing the fetch: {e}"))?;
        let mut cmd = self.base_command();
        cmd.env("HOME", scratch.path())
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path());
        if let Some((username, token)) = credentials {
            https_credentials(&mut cmd, username, token);
        }
        cmd.args([
            "fetch",
            "--prune",
            "--no-tags",
            "--no-write-fetch-head",
            "--quiet",
        ])
        .args(["--end-of-options", url.as_str()])
        .args(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]);
        let (status, stderr) = self
            .wait_for(cmd, "git fetch from a mirror")
            .await
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "git fetch failed ({status}): {}",
                error_text(&stderr, credentials.map(|(_, t)| t))
            ))
        }
    }

    /// Pushes `dir` to `url`; on success the far side's host key (SSH, first sync) to pin.
    pub async fn push_to_mirror(
        &self,
        dir: &RepoDir,
        url: &MirrorUrl,
        credentials: MirrorCredentials<'_>,
        scope: MirrorScope,
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
                    format!(
                        "ssh -F /dev/null -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes \
                         -o HostKeyAlias={HOST_ALIAS} -o StrictHostKeyChecking={strict} \
                         -o UserKnownHostsFile='{}' -o ConnectTimeout=20",
                        key.display(),
                        known_hosts.display()
                    ),
                );
            }
            MirrorCredentials::Https { username, token } => {
                https_credentials(&mut cmd, username, token);
                secret = Some(token);
            }
        }
        cmd.arg("push");
        match scope {
            MirrorScope::Mirror => {
                cmd.args(["--mirror", "--end-of-options", url.as_str()]);
            }
            MirrorScope::Branches => {
                cmd.args(["--prune", "--end-of-options", url.as_str()])
                    .args(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]);
            }
        }
        let (status, stderr) = self
            .wait_for(cmd, "git push to a mirror")
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
            return Err(MirrorError::Failed(format!(
                "git push failed ({status}): {text}"
            )));
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
