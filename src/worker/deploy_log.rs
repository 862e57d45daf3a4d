//! A run's output on its way to the database: lines stamped and numbered as they arrive,
//! secrets (the deploy's `secret_env` values, as whole values) replaced, written in batches,
//! capped with a notice, and a closing line saying how many secrets were redacted, if any.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::domain::Forge;
use crate::domain::deploys::{ClaimedRun, DeployLogLine as DeployLogRow};
use crate::model::redact::redaction_note;
use crate::model::{LogStream, Secrets};

const MAX_LINES: i32 = 10_000;
const MAX_BYTES: usize = 1 << 20;
const MAX_LINE: usize = 4096;
const FLUSH_EVERY: Duration = Duration::from_millis(100);

pub use crate::job::LogLine;

/// Collects lines until every sender is gone; returns whether the log was truncated.
pub async fn write_log(
    forge: Arc<Forge>,
    run: ClaimedRun,
    secrets: Secrets,
    mut lines: mpsc::Receiver<LogLine>,
) -> bool {
    let mut seq = 0;
    let mut bytes = 0usize;
    let mut truncated = false;
    let mut redacted = 0usize;
    let mut batch: Vec<DeployLogRow> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            line = lines.recv() => {
                let Some(line) = line else { break };
                if truncated {
                    continue; // keep draining so the process never blocks on a full pipe
                }
                if seq >= MAX_LINES || bytes >= MAX_BYTES {
                    truncated = true;
                    seq += 1;
                    batch.push(row(seq, LogStream::Note, format!(
                        "labforge: output truncated after {MAX_LINES} lines or {} KiB; the rest was dropped",
                        MAX_BYTES / 1024
                    )));
                    continue;
                }
                let (text, n) = secrets.redact(&line.text);
                let text = text.into_owned();
                redacted += n;
                bytes += text.len();
                seq += 1;
                batch.push(row(seq, line.stream, text));
                if batch.len() >= 500 {
                    flush(&forge, &run, &mut batch).await;
                }
            }
            _ = tick.tick() => flush(&forge, &run, &mut batch).await,
        }
    }
    if redacted > 0 {
        // Said once, at the end: a reader of `[redacted]` knows it is labforge's doing.
        batch.push(row(
            seq + 1,
            LogStream::Note,
            format!("labforge: {}", redaction_note(redacted)),
        ));
    }
    flush(&forge, &run, &mut batch).await;
    truncated
}

fn row(seq: i32, stream: LogStream, mut line: String) -> DeployLogRow {
    if line.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str(" [line cut]");
    }
    DeployLogRow {
        seq,
        at: OffsetDateTime::now_utc(),
        stream,
        line,
    }
}

async fn flush(forge: &Forge, run: &ClaimedRun, batch: &mut Vec<DeployLogRow>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = forge.append_deploy_log(run, batch).await {
        tracing::warn!(error = %e, run_id = run.id(), "storing deploy output failed");
    }
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut() {
        let long = row(1, LogStream::Output, "é".repeat(MAX_LINE));
        assert!(long.line.len() <= MAX_LINE + 12 && long.line.ends_with("[line cut]"));
    }
}
