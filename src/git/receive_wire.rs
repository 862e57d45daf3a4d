//! Talking to receive-pack as a client does, for commits the server makes itself (file edits,
//! later merges): one ref update and its pack, sent to the same receive-pack every push runs
//! (`--stateless-rpc`, as over HTTP), so its hooks decide the update exactly as they decide a
//! user's push. git's pkt-line format: four hex digits of length (counting themselves), then the
//! data; `0000` ends a section. With `side-band-64k` the answer comes in bands: 1 carries the
//! report (`unpack ok`, `ok REF` or `ng REF WHY`, itself pkt-lines), 2 what the hooks printed,
//! 3 a fatal error.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::runner::GitChild;

/// How much of receive-pack's answer is kept: the report is a few lines, the rest is what the
/// hooks said (a check's output is already bounded by the check's own log cap).
const MAX_ANSWER: u64 = 8 << 20;
/// Lines of hook output kept for the caller (the last ones: where a refusal says why).
const MAX_LINES: usize = 2000;

/// What receive-pack answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveReport {
    /// `unpack ok`, or git's reason the pack was not taken.
    pub unpack: Result<(), String>,
    /// Each ref's outcome: Ok, or git's reason (`pre-receive hook declined`, `failed to lock`).
    pub refs: Vec<(String, Result<(), String>)>,
    /// What the hooks printed (band 2), line by line, without control characters.
    pub said: Vec<String>,
    /// A fatal error (band 3), if receive-pack gave up.
    pub fatal: Option<String>,
}

impl ReceiveReport {
    /// The outcome for `refname`: None when receive-pack did not report it.
    pub fn outcome(&self, refname: &str) -> Option<&Result<(), String>> {
        self.refs
            .iter()
            .find(|(name, _)| name == refname)
            .map(|(_, r)| r)
    }
}

fn pkt_line(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:04x}", data.len() + 4).as_bytes());
    out.extend_from_slice(data);
}

/// The request for one ref update: the command with the client's capabilities, a flush, the
/// pack. Ids and the ref name are the caller's, already checked.
pub fn push_request(old: &str, new: &str, refname: &str, pack: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pack.len() + 200);
    let command = format!(
        "{old} {new} {refname}\0report-status side-band-64k quiet agent=labforge/{}\n",
        env!("CARGO_PKG_VERSION")
    );
    pkt_line(&mut out, command.as_bytes());
    out.extend_from_slice(b"0000");
    out.extend_from_slice(pack);
    out
}

/// Splits pkt-lines; a flush is an empty slice. Stops at the first malformed length.
fn pkt_lines(mut data: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let len = data
            .get(..4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or("receive-pack answered something that is not a pkt-line")?;
        if len == 0 {
            out.push(&data[..0]);
            data = &data[4..];
            continue;
        }
        if len < 4 || len > data.len() {
            return Err("receive-pack's answer was cut short".into());
        }
        out.push(&data[4..len]);
        data = &data[len..];
    }
    Ok(out)
}

/// Reads receive-pack's side-band answer.
pub fn parse_answer(answer: &[u8]) -> Result<ReceiveReport, String> {
    let mut report_bytes = Vec::new();
    let mut said = Vec::new();
    let mut fatal = None;
    for line in pkt_lines(answer)? {
        let Some((&band, data)) = line.split_first() else {
            continue;
        };
        match band {
            1 => report_bytes.extend_from_slice(data),
            2 => said.extend_from_slice(data),
            3 => fatal = Some(crate::model::terminal_line(&String::from_utf8_lossy(data))),
            _ => return Err(format!("receive-pack answered on unknown band {band}")),
        }
    }
    let mut report = ReceiveReport {
        unpack: Err("receive-pack sent no report".into()),
        refs: Vec::new(),
        said: Vec::new(),
        fatal,
    };
    for line in pkt_lines(&report_bytes)? {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\n');
        if let Some(rest) = line.strip_prefix("unpack ") {
            report.unpack = if rest == "ok" {
                Ok(())
            } else {
                Err(rest.to_owned())
            };
        } else if let Some(name) = line.strip_prefix("ok ") {
            report.refs.push((name.to_owned(), Ok(())));
        } else if let Some(rest) = line.strip_prefix("ng ") {
            let (name, why) = rest.split_once(' ').unwrap_or((rest, "refused"));
            report.refs.push((name.to_owned(), Err(why.to_owned())));
        }
    }
    let text = String::from_utf8_lossy(&said);
    let lines: Vec<String> = text
        .split(['\n', '\r'])
        .filter(|l| !l.trim().is_empty())
        .map(crate::model::terminal_line)
        .collect();
    let skip = lines.len().saturating_sub(MAX_LINES);
    report.said = lines.into_iter().skip(skip).collect();
    Ok(report)
}

/// Sends `request` to a receive-pack started with `--stateless-rpc` and reads its answer to the
/// end (so its hooks, post-receive included, have run), then waits for it to exit. The child
/// (and the push ticket attached to it) lives until then.
pub async fn converse(mut child: GitChild, request: Vec<u8>) -> anyhow::Result<ReceiveReport> {
    use anyhow::Context;
    let mut stdin = child.child.stdin.take().context("receive-pack's stdin")?;
    let stdout = child.child.stdout.take().context("receive-pack's stdout")?;
    let stderr = child.child.stderr.take();
    let feed = async move {
        // receive-pack may stop reading early (a bad pack); its answer says why.
        let _ = stdin.write_all(&request).await;
        drop(stdin);
    };
    let read_out = async move {
        let mut buf = Vec::new();
        let _ = stdout.take(MAX_ANSWER).read_to_end(&mut buf).await;
        buf
    };
    let read_err = async move {
        let mut buf = Vec::new();
        if let Some(err) = stderr {
            let _ = err.take(1 << 20).read_to_end(&mut buf).await;
        }
        buf
    };
    let ((), answer, stderr) = tokio::join!(feed, read_out, read_err);
    let status = child
        .child
        .wait()
        .await
        .context("waiting for receive-pack")?;
    let mut report = parse_answer(&answer).map_err(|e| {
        anyhow::anyhow!(
            "{e} (receive-pack {status}: {})",
            String::from_utf8_lossy(&stderr).trim()
        )
    })?;
    if report.fatal.is_none() && !status.success() && report.refs.is_empty() {
        report.fatal = Some(format!(
            "receive-pack ended ({status}): {}",
            crate::model::terminal_line(String::from_utf8_lossy(&stderr).trim())
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(n: u8, data: &[u8]) -> Vec<u8> {
        let mut line = vec![n];
        line.extend_from_slice(data);
        let mut out = Vec::new();
        pkt_line(&mut out, &line);
        out
    }

    #[test]
    fn the_request_is_one_command_a_flush_and_the_pack() {
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let req = push_request(&a, &b, "refs/heads/main", b"PACK...");
        let text = String::from_utf8_lossy(&req);
        let len = usize::from_str_radix(&text[..4], 16).unwrap();
        assert!(text[4..len].starts_with(&format!("{a} {b} refs/heads/main\0report-status")));
        assert_eq!(&text[len..len + 4], "0000");
        assert!(text.ends_with("PACK..."));
    }

    #[test]
    fn an_answer_gives_the_report_and_what_the_hooks_said() {
        let mut report = Vec::new();
        pkt_line(&mut report, b"unpack ok\n");
        pkt_line(
            &mut report,
            b"ng refs/heads/main pre-receive hook declined\n",
        );
        report.extend_from_slice(b"0000");
        let mut answer = band(2, b"check zones| bad.zone: no SOA\nlabforge: nothing");
        answer.extend(band(2, b" was changed\n\x1b[31mred\x1b[0m\n"));
        answer.extend(band(1, &report));
        answer.extend_from_slice(b"0000");
        let got = parse_answer(&answer).unwrap();
        assert_eq!(got.unpack, Ok(()));
        assert_eq!(
            got.outcome("refs/heads/main"),
            Some(&Err("pre-receive hook declined".to_owned()))
        );
        assert_eq!(got.said[0], "check zones| bad.zone: no SOA");
        assert_eq!(got.said[1], "labforge: nothing was changed");
        assert!(!got.said[2].contains('\x1b'), "{:?}", got.said);
        assert_eq!(got.fatal, None);
    }

    #[test]
    fn a_broken_answer_is_an_error_not_a_success() {
        assert!(parse_answer(b"zzzz").is_err());
        assert!(parse_answer(b"00ffshort").is_err());
        let got = parse_answer(b"").unwrap();
        assert!(got.unpack.is_err() && got.refs.is_empty());
    }

    /// Only the last `MAX_LINES` lines are kept, however much the hooks print.
    #[test]
    fn hook_output_is_capped() {
        let mut answer = Vec::new();
        for i in 0..MAX_LINES + 10 {
            answer.extend(band(2, format!("line {i}\n").as_bytes()));
        }
        let got = parse_answer(&answer).unwrap();
        assert_eq!(got.said.len(), MAX_LINES);
        assert_eq!(got.said.last().unwrap(), &format!("line {}", MAX_LINES + 9));
    }
}
