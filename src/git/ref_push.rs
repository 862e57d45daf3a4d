//! One ref moved through `git receive-pack`, as a client's push moves it: the caller starts
//! receive-pack (with its hook ticket, see `domain::git_service`) and this speaks the push
//! protocol's request (one command, then an empty pack when the command is not a delete: the
//! objects are already in the repository) and reads git's report. So the repository's hooks
//! run exactly as for a push (pre-receive's branch protection and checks, post-receive's
//! webhooks, deploys and mirrors), and receive-pack's connectivity check still applies.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::runner::GitChild;
use crate::model::ZERO_ID;

/// A pack of no objects: `PACK`, version 2, count 0, and the SHA-1 of those 12 bytes.
const EMPTY_PACK: &[u8] = b"PACK\x00\x00\x00\x02\x00\x00\x00\x00\
\x02\x9d\x08\x82\x3b\xd8\xa8\xea\xb5\x10\xad\x6a\xc7\x5c\x82\x3c\xfd\x3e\xd3\x1e";

/// Bytes of git's report and of its stderr (the hooks' words) read at most.
const MAX_REPLY: u64 = 64 * 1024;

/// How receive-pack answered the one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefPushOutcome {
    Updated,
    /// Refused: git's reason (`pre-receive hook declined`, `stale info`) and what the hooks
    /// printed (the refusal's own words).
    Refused {
        reason: String,
        said: String,
    },
}

fn pkt_line(payload: &str) -> Vec<u8> {
    let mut out = format!("{:04x}", payload.len() + 4).into_bytes();
    out.extend_from_slice(payload.as_bytes());
    out
}

/// The request receive-pack reads in `--stateless-rpc` mode for `old → new` on `name` (an id
/// or `ZERO_ID` on either side).
pub fn request(old: &str, new: &str, name: &str) -> Vec<u8> {
    let mut out = pkt_line(&format!("{old} {new} {name}\0report-status\n"));
    out.extend_from_slice(b"0000");
    if new != ZERO_ID {
        out.extend_from_slice(EMPTY_PACK);
    }
    out
}

/// The command's status in a report-status answer: `ok NAME` or `ng NAME REASON`.
pub fn parse_report(report: &[u8], name: &str) -> Option<Result<(), String>> {
    let mut rest = report;
    while rest.len() >= 4 {
        let len = usize::from_str_radix(std::str::from_utf8(&rest[..4]).ok()?, 16).ok()?;
        if len < 4 {
            rest = &rest[4..];
            continue;
        }
        let line = String::from_utf8_lossy(rest.get(4..len)?);
        rest = &rest[len..];
        let line = line.trim_end_matches('\n');
        if let Some(ok) = line.strip_prefix("ok ") {
            if ok == name {
                return Some(Ok(()));
            }
        } else if let Some(ng) = line.strip_prefix("ng ")
            && let Some(reason) = ng.strip_prefix(name).and_then(|r| r.strip_prefix(' '))
        {
            return Some(Err(reason.to_owned()));
        }
    }
    None
}

/// Sends the command to a started receive-pack and waits for its report (within the child's
/// deadline).
pub async fn push_one(
    mut child: GitChild,
    old: &str,
    new: &str,
    name: &str,
) -> anyhow::Result<RefPushOutcome> {
    let mut stdin = child
        .child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("receive-pack has no stdin"))?;
    let stdout = child
        .child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("receive-pack has no stdout"))?;
    let stderr = child
        .child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("receive-pack has no stderr"))?;
    stdin.write_all(&request(old, new, name)).await?;
    drop(stdin);
    let read_all = |r: Box<dyn tokio::io::AsyncRead + Unpin + Send>| async move {
        let mut buf = Vec::new();
        r.take(MAX_REPLY).read_to_end(&mut buf).await.map(|_| buf)
    };
    let deadline = child.deadline;
    let (report, said) = tokio::time::timeout_at(deadline, async {
        tokio::try_join!(read_all(Box::new(stdout)), read_all(Box::new(stderr)))
    })
    .await
    .map_err(|_| anyhow::anyhow!("receive-pack ran past its deadline"))??;
    let _ = tokio::time::timeout_at(deadline, child.child.wait()).await;
    let said = crate::model::terminal_text(&String::from_utf8_lossy(&said)).into_owned();
    match parse_report(&report, name) {
        Some(Ok(())) => Ok(RefPushOutcome::Updated),
        Some(Err(reason)) => Ok(RefPushOutcome::Refused { reason, said }),
        None => Err(anyhow::anyhow!(
            "receive-pack gave no status for {name}: {said}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// git itself accepts the pack (its trailer is the checksum git verifies).
    #[test]
    fn git_reads_the_empty_pack() {
        use std::io::Write;
        let tmp = tempfile::tempdir().unwrap();
        super::super::testing::git(tmp.path(), &["init", "-q", "--bare"]);
        let mut child = std::process::Command::new("git")
            .current_dir(tmp.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", tmp.path())
            .args(["index-pack", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(EMPTY_PACK).unwrap();
        assert!(
            child.wait().unwrap().success(),
            "git index-pack took the pack"
        );
    }

    #[test]
    fn reports_are_read_by_ref_name() {
        let report = [
            pkt_line("unpack ok\n"),
            pkt_line("ng refs/heads/main pre-receive hook declined\n"),
            pkt_line("ok refs/heads/x\n"),
            b"0000".to_vec(),
        ]
        .concat();
        assert_eq!(parse_report(&report, "refs/heads/x"), Some(Ok(())));
        assert_eq!(
            parse_report(&report, "refs/heads/main"),
            Some(Err("pre-receive hook declined".into()))
        );
        assert_eq!(parse_report(&report, "refs/heads/y"), None);
        assert_eq!(parse_report(b"00", "refs/heads/x"), None);
        let delete = request("a".repeat(40).as_str(), ZERO_ID, "refs/heads/x");
        assert!(delete.ends_with(b"0000"), "a delete sends no pack");
    }
}
