//! The closed sets of deploy and check runs: a run's status and why it was queued, a check's
//! outcome, and which stream a logged line came from. The words are the database's (each
//! column has a CHECK listing them), the pages' CSS classes and the webhooks' JSON.

use super::closed_set::closed_set;

closed_set! {
    /// Where a deploy run is in its life. `queued` and `running` are live; the rest are ends.
    pub enum DeployStatus("deploy status") {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        /// The command exited with a code other than 0, or could not be started.
        Failed = "failed",
        TimedOut = "timed_out",
        /// A newer push queued the same deploy before this run started.
        Superseded = "superseded",
        /// The server stopped (or died) while it ran; offered for re-run, never restarted.
        Interrupted = "interrupted",
        Cancelled = "cancelled",
    }
}

impl DeployStatus {
    /// Still queued or running.
    pub fn is_live(self) -> bool {
        matches!(self, DeployStatus::Queued | DeployStatus::Running)
    }

    /// Whether a run that ended so let its pusher down (a push following it says `error:`).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            DeployStatus::Failed
                | DeployStatus::TimedOut
                | DeployStatus::Cancelled
                | DeployStatus::Interrupted
        )
    }
}

closed_set! {
    /// Why a deploy run was queued.
    pub enum DeployReason("deploy reason") {
        Push = "push",
        /// A re-run of an earlier run (`rerun_of`).
        Rerun = "rerun",
        /// A chosen commit: "deploy this commit", a rollback.
        Manual = "manual",
    }
}

closed_set! {
    /// How a check run ended.
    pub enum CheckOutcome("check outcome") {
        Passed = "passed",
        Failed = "failed",
        TimedOut = "timed_out",
        /// The check could not run (its folder could not be made, the sandbox failed, ...).
        Error = "error",
    }
}

closed_set! {
    /// Where a logged line of a deploy or check run came from; the word is the one letter the
    /// log tables keep and the CSS class the log pages give the line.
    pub enum LogStream("log stream") {
        /// The command's output.
        Output = "o",
        /// The command's standard error, where a run kept it apart (older deploy runs).
        Errors = "e",
        /// labforge's own notes about the run.
        Note = "s",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words are the CHECK constraints' of the migrations, in their order.
    #[test]
    fn words_are_the_databases() {
        let words = |all: &[DeployStatus]| all.iter().map(|s| s.as_str()).collect::<Vec<_>>();
        assert_eq!(
            words(DeployStatus::ALL),
            [
                "queued",
                "running",
                "succeeded",
                "failed",
                "timed_out",
                "superseded",
                "interrupted",
                "cancelled"
            ]
        );
        let reasons: Vec<_> = DeployReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(reasons, ["push", "rerun", "manual"]);
        let outcomes: Vec<_> = CheckOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(outcomes, ["passed", "failed", "timed_out", "error"]);
        let streams: Vec<_> = LogStream::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(streams, ["o", "e", "s"]);
    }

    #[test]
    fn live_and_failed_runs() {
        let live: Vec<_> = DeployStatus::ALL.iter().filter(|s| s.is_live()).collect();
        assert_eq!(live, [&DeployStatus::Queued, &DeployStatus::Running]);
        assert!(!DeployStatus::Superseded.is_failure());
        assert!(DeployStatus::Interrupted.is_failure());
    }
}
