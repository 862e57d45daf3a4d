//! `git push -o deploy=wait`: the run's output, live, as `remote:` lines, then its result.

use std::time::Duration;

use super::QueuedRun;
use crate::domain::push::Say;
use crate::domain::{Forge, Result};
use crate::model::DeployStatus;

const POLL: Duration = Duration::from_millis(100);

/// How following a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::domain) enum Followed {
    /// The run ended with this status (its result line was said).
    Ended(DeployStatus),
    /// Still queued or running when the push's time was up.
    StillGoing,
    /// The pusher went away, or the run's row did.
    Lost,
}

impl Followed {
    pub fn succeeded(&self) -> bool {
        matches!(self, Followed::Ended(DeployStatus::Succeeded))
    }
}

/// Whether a run that ended so let the pusher down: its result line then starts with
/// `error:`, which git colours (red, `color.remote`) on a terminal.
pub(in crate::domain) fn is_failure(status: DeployStatus) -> bool {
    status.is_failure()
}

impl Forge {
    pub(in crate::domain) async fn follow_deploy(
        &self,
        run: &QueuedRun,
        until: tokio::time::Instant,
        to: &Say,
    ) -> Result<Followed> {
        let label = format!("deploy {} #{}", run.deploy_name, run.id);
        let mut seen = 0;
        loop {
            // Read the status first: lines written before a run ended are all there after it.
            let outcome = self.db.deploy_outcome(run.id).await?;
            for line in self.db.deploy_log(run.id, seen, 1000).await? {
                seen = line.seq;
                if to.send(format!("{label}| {}", line.line)).await.is_err() {
                    return Ok(Followed::Lost); // the pusher went away; the run goes on
                }
            }
            let status = match outcome {
                Some((status, _, _)) if status.is_live() => status,
                Some((status, code, ms)) => {
                    let text = outcome_text(status, code, ms);
                    let error = if is_failure(status) { "error: " } else { "" };
                    let _ = to.send(format!("{error}{label} {text}: {}", run.url)).await;
                    return Ok(Followed::Ended(status));
                }
                None => {
                    let _ = to
                        .send(format!("error: {label} is gone: {}", run.url))
                        .await;
                    return Ok(Followed::Lost);
                }
            };
            if tokio::time::Instant::now() >= until {
                let _ = to
                    .send(format!(
                        "{label} is still {status}; follow it at {}",
                        run.url
                    ))
                    .await;
                return Ok(Followed::StillGoing);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// `succeeded in 1.2s`, `failed (exit code 3) after 0.4s`, `timed out after 10m0s`...
pub fn outcome_text(status: DeployStatus, code: Option<i32>, ms: Option<f64>) -> String {
    let took = ms
        .map(|ms| format_duration(ms / 1000.0))
        .unwrap_or_default();
    match (status, code) {
        (DeployStatus::Succeeded, _) => format!("succeeded in {took}"),
        (DeployStatus::Failed, Some(c)) => format!("failed (exit code {c}) after {took}"),
        (DeployStatus::Failed, None) => format!("failed after {took}"),
        (DeployStatus::TimedOut, _) => format!("timed out after {took}"),
        (DeployStatus::Cancelled, _) => "was cancelled".into(),
        (DeployStatus::Superseded, _) => "was superseded by a newer push".into(),
        (DeployStatus::Interrupted, _) => {
            "was interrupted (the server stopped); re-run it from the page".into()
        }
        (other @ (DeployStatus::Queued | DeployStatus::Running), _) => format!("is {other}"),
    }
}

/// A status in a word or three, for lists.
pub fn outcome_word(status: DeployStatus, code: Option<i32>) -> String {
    match (status, code) {
        (DeployStatus::Failed, Some(c)) => format!("failed (exit {c})"),
        (DeployStatus::TimedOut, _) => "timed out".into(),
        (other, _) => other.to_string(),
    }
}

/// Seconds as `0.4s`, `12.0s`, `3m05s`.
pub fn format_duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let s = secs.round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_run_that_let_the_pusher_down_is_an_error() {
        for status in ["failed", "timed_out", "cancelled", "interrupted"] {
            assert!(is_failure(status.parse().unwrap()), "{status}");
        }
        for status in ["succeeded", "superseded", "queued", "running"] {
            assert!(!is_failure(status.parse().unwrap()), "{status}");
        }
    }

    #[test]
    fn outcomes_read_well() {
        assert_eq!(
            outcome_text(DeployStatus::Succeeded, Some(0), Some(1234.0)),
            "succeeded in 1.2s"
        );
        assert_eq!(
            outcome_text(DeployStatus::Failed, Some(3), Some(400.0)),
            "failed (exit code 3) after 0.4s"
        );
        assert_eq!(
            outcome_text(DeployStatus::TimedOut, None, Some(185_000.0)),
            "timed out after 3m05s"
        );
    }
}
