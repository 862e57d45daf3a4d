//! Running the selected checks of a push, all at once (bounded by the shared slots): each in
//! its ref's written tree, sandboxed when it may be, its output streamed to the pusher as
//! `check NAME| …` lines; then recorded (run, log, commit status) unless it is a dry run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Prepared, PushFlags};
use crate::config::Check;
use crate::domain::deploys::format_duration;
use crate::domain::push::{PushContext, Say, say};
use crate::domain::statuses::StatusReport;
use crate::domain::{Forge, Result};
use crate::job::{Ending, LogLine, Spec};
use crate::model::{CheckOutcome, CommitState, LogStream, StatusContext};
use crate::storage::NewCheckRun;

/// Output kept (and streamed) per run at most; the rest is read and dropped, with a notice.
const MAX_LINES: usize = 5_000;
const MAX_BYTES: usize = 512 * 1024;
const MAX_LINE: usize = 4096;

/// A check's PATH: the system's, sbin folders included (nginx, named-checkconf live there).
const CHECK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the tree, the changed-paths list and the `run` file are inside the sandbox. The `run`
/// file gets a folder of its own: at its host path it could fall under the read-only tree
/// (a config kept in /work/...) where bwrap cannot make the mount point.
const INSIDE_TREE: &str = "/work";
const INSIDE_CHANGED: &str = "/labforge/changed-files";
const INSIDE_CHANGED0: &str = "/labforge/changed-files0";
const INSIDE_RUN: &str = "/labforge/run";

/// How a check ended.
#[derive(Debug, Clone)]
pub(in crate::domain::push) enum Verdict {
    Passed,
    Failed(Option<i32>),
    TimedOut(Duration),
    CouldNotRun(String),
}

/// One check's result on one ref.
pub(in crate::domain::push) struct Outcome {
    pub check: String,
    pub ref_name: String,
    pub verdict: Verdict,
}

impl Verdict {
    /// `failed (exit code 1)`, `timed out after 30s`...
    fn words(&self) -> String {
        match self {
            Verdict::Passed => "passed".into(),
            Verdict::Failed(Some(code)) => format!("failed (exit code {code})"),
            Verdict::Failed(None) => "failed (ended by a signal)".into(),
            Verdict::TimedOut(after) => {
                format!("timed out after {}", format_duration(after.as_secs_f64()))
            }
            Verdict::CouldNotRun(why) => format!("could not run ({why})"),
        }
    }

    fn outcome(&self) -> CheckOutcome {
        match self {
            Verdict::Passed => CheckOutcome::Passed,
            Verdict::Failed(_) => CheckOutcome::Failed,
            Verdict::TimedOut(_) => CheckOutcome::TimedOut,
            Verdict::CouldNotRun(_) => CheckOutcome::Error,
        }
    }

    fn state(&self) -> CommitState {
        match self {
            Verdict::Passed => CommitState::Success,
            Verdict::Failed(_) | Verdict::TimedOut(_) => CommitState::Failure,
            Verdict::CouldNotRun(_) => CommitState::Error,
        }
    }
}

impl Outcome {
    /// `check zones failed (exit code 1): refusing refs/heads/main`, unless it passed.
    pub fn refusal(&self) -> Option<String> {
        match self.verdict {
            Verdict::Passed => None,
            _ => Some(format!(
                "check {} {}: refusing {}",
                self.check,
                self.verdict.words(),
                self.ref_name
            )),
        }
    }
}

impl Forge {
    pub(super) async fn run_checks(
        &self,
        ctx: &PushContext,
        prepared: &[Prepared],
        flags: PushFlags,
        to: &Say,
    ) -> Vec<Outcome> {
        let runs = prepared.iter().flat_map(|p| {
            p.tree
                .iter()
                .flat_map(move |tree| p.selected.iter().map(move |c| (p, tree, c)))
        });
        let runs =
            runs.map(|(p, tree, check)| self.run_check(ctx, p, tree.clone(), check, flags, to));
        futures_util::future::join_all(runs).await
    }

    async fn run_check(
        &self,
        ctx: &PushContext,
        p: &Prepared,
        tree: PathBuf,
        check: &Check,
        flags: PushFlags,
        to: &Say,
    ) -> Outcome {
        let _slot = self
            .checks
            .slots
            .acquire()
            .await
            .expect("the check slots are never closed");
        let started_at = OffsetDateTime::now_utc();
        let clock = Instant::now();
        let sandboxed = check.sandbox && self.checks.sandboxed();
        let label = format!("check {}", check.name);
        let (tx, rx) = mpsc::channel::<LogLine>(256);
        let spec = self.check_spec(ctx, p, tree, check, flags, sandboxed);
        let (ended, mut lines) = tokio::join!(
            async {
                let spec = spec?;
                crate::job::run(spec, tx, CancellationToken::new(), |_| {}).await
            },
            relay(rx, &label, to)
        );
        let verdict = match ended {
            Ok(Ending::Exited(Some(0))) => Verdict::Passed,
            Ok(Ending::Exited(code)) => Verdict::Failed(code),
            Ok(Ending::TimedOut) => Verdict::TimedOut(check.timeout),
            Ok(Ending::Stopped) => Verdict::CouldNotRun("stopped".into()),
            Err(e) => Verdict::CouldNotRun(format!("{e:#}")),
        };
        self.metrics
            .check_finished(&check.name.to_string(), verdict.outcome().as_str());
        let took = format_duration(clock.elapsed().as_secs_f64());
        lines.0.push((
            LogStream::Note,
            format!("labforge: {} in {took}", verdict.words()),
        ));
        let outcome = Outcome {
            check: check.name.to_string(),
            ref_name: p.update.name.clone(),
            verdict,
        };
        let link = if flags.dry_run {
            String::new()
        } else {
            match self
                .record_check(
                    ctx,
                    p,
                    check,
                    &outcome.verdict,
                    sandboxed,
                    started_at,
                    &lines,
                )
                .await
            {
                Ok(url) => format!(": {url}"),
                Err(e) => {
                    tracing::warn!(error = %e, check = %check.name, "recording a check run failed");
                    String::new()
                }
            }
        };
        let end = match &outcome.verdict {
            Verdict::Passed => format!("{label} passed ({took}){link}"),
            other => format!("{label} {} after {took}{link}", other.words()),
        };
        say(to, end).await;
        outcome
    }

    fn check_spec(
        &self,
        ctx: &PushContext,
        p: &Prepared,
        tree: PathBuf,
        check: &Check,
        flags: PushFlags,
        sandboxed: bool,
    ) -> anyhow::Result<Spec> {
        let u = &p.update;
        let mut env = vec![
            ("PATH".to_owned(), CHECK_PATH.to_owned()),
            ("LABFORGE_REPO".to_owned(), ctx.repo.full_name()),
            ("LABFORGE_REF".to_owned(), u.name.clone()),
            ("LABFORGE_OLD".to_owned(), u.old.clone()),
            ("LABFORGE_NEW".to_owned(), u.new.clone()),
            ("LABFORGE_PUSHER".to_owned(), ctx.actor.user.name.clone()),
            ("LABFORGE_CHECK".to_owned(), check.name.to_string()),
            (
                "LABFORGE_DRY_RUN".to_owned(),
                u8::from(flags.dry_run).to_string(),
            ),
        ];
        let mut program = check.run.clone();
        let split = crate::job::sandbox::MemorySplit::of(check.memory);
        let (workdir, jail) = match (self.checks.sandbox.get(), sandboxed) {
            (Some(sandbox), true) => {
                let mut binds = vec![
                    (tree, PathBuf::from(INSIDE_TREE)),
                    (p.changed_file.clone(), PathBuf::from(INSIDE_CHANGED)),
                    (p.changed_file0.clone(), PathBuf::from(INSIDE_CHANGED0)),
                ];
                if !check.run.starts_with("/usr/") {
                    let name = check
                        .run
                        .file_name()
                        .unwrap_or(check.name.as_str().as_ref());
                    program = PathBuf::from(INSIDE_RUN).join(name);
                    binds.push((check.run.clone(), program.clone()));
                }
                env.push(("LABFORGE_CHANGED_FILES".into(), INSIDE_CHANGED.into()));
                env.push(("LABFORGE_CHANGED_FILES0".into(), INSIDE_CHANGED0.into()));
                env.push(("HOME".into(), "/tmp".into()));
                env.push(("TMPDIR".into(), "/tmp".into()));
                let jail = sandbox.jail(&p.etc, split, binds);
                (PathBuf::from(INSIDE_TREE), Some(jail))
            }
            _ => {
                // Its own temporary folder, removed with the push's.
                let tmp = p.changed_file.with_file_name(format!("tmp-{}", check.name));
                std::fs::create_dir_all(&tmp)?;
                env.push((
                    "LABFORGE_CHANGED_FILES".into(),
                    p.changed_file.display().to_string(),
                ));
                env.push((
                    "LABFORGE_CHANGED_FILES0".into(),
                    p.changed_file0.display().to_string(),
                ));
                env.push(("TMPDIR".into(), tmp.display().to_string()));
                (tree, None)
            }
        };
        let event = serde_json::json!({
            "check": {"name": check.name.as_str(), "dry_run": flags.dry_run},
            "repository": {"full_name": ctx.repo.full_name(), "default_branch": ctx.repo.default_branch},
            "ref": u.name, "before": u.old, "after": u.new,
            "pusher": {"login": ctx.actor.user.name},
        });
        // The group is made last, so an error above leaves none behind.
        let cgroup = match self.checks.cgroups.get().and_then(Option::as_ref) {
            Some(groups) => Some(
                groups
                    .for_check(check.processes, check.memory)
                    .context("making its cgroup")?,
            ),
            None => None,
        };
        Ok(Spec {
            program,
            args: check.args.clone(),
            workdir,
            env,
            stdin: serde_json::to_vec(&event)?,
            timeout: check.timeout,
            // Sandboxed, /tmp and /dev/shm take their share of the check's memory.
            memory: Some(if jail.is_some() {
                split.address_space
            } else {
                check.memory
            }),
            jail,
            cgroup,
        })
    }

    /// Stores the run with its output and a status on its commit; returns the run's page.
    #[allow(clippy::too_many_arguments)]
    async fn record_check(
        &self,
        ctx: &PushContext,
        p: &Prepared,
        check: &Check,
        verdict: &Verdict,
        sandboxed: bool,
        started_at: OffsetDateTime,
        (lines, truncated): &(Vec<(LogStream, String)>, bool),
    ) -> Result<String> {
        let repo = &ctx.repo;
        let u = &p.update;
        let code = match verdict {
            Verdict::Failed(code) => *code,
            Verdict::Passed => Some(0),
            _ => None,
        };
        let mut tx = self.db.begin().await?;
        let id = tx
            .insert_check_run(NewCheckRun {
                repo_id: repo.id,
                check_name: check.name.as_str(),
                ref_name: &u.name,
                old_id: &u.old,
                new_id: &u.new,
                pusher_name: &ctx.actor.user.name,
                outcome: verdict.outcome(),
                exit_code: code,
                sandboxed,
                log_truncated: *truncated,
                started_at,
                finished_at: OffsetDateTime::now_utc(),
                lines,
            })
            .await?;
        let url = format!(
            "{}/{}/checks/{id}",
            self.webhooks.base_url(),
            repo.full_name()
        );
        if let Some(commit) = &p.commit {
            let context = StatusContext::parse(&format!("check/{}", check.name))
                .map_err(|e| crate::domain::Error::Internal(anyhow::anyhow!(e)))?;
            let description = format!("{} {}", check.name, verdict.words());
            self.record_status(
                &mut tx,
                repo,
                &StatusReport {
                    sha: &commit.id.0,
                    context: &context,
                    state: verdict.state(),
                    description: &description,
                    target_url: &url,
                },
                (Some(ctx.actor.user.id), &ctx.actor.user.name),
                Some(commit),
            )
            .await?;
        }
        tx.commit().await?;
        self.webhook_wakeup();
        Ok(url)
    }
}

/// Sends each line to the pusher as `LABEL| line` and keeps it, up to the caps; returns the
/// kept lines and whether some were dropped.
async fn relay(
    mut rx: mpsc::Receiver<LogLine>,
    label: &str,
    to: &Say,
) -> (Vec<(LogStream, String)>, bool) {
    let mut kept: Vec<(LogStream, String)> = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    while let Some(line) = rx.recv().await {
        if truncated {
            continue; // keep draining so the check never blocks on a full pipe
        }
        if kept.len() >= MAX_LINES || bytes >= MAX_BYTES {
            truncated = true;
            let notice = format!(
                "labforge: output cut after {MAX_LINES} lines or {} KiB; the rest was dropped",
                MAX_BYTES / 1024
            );
            say(to, format!("{label}| {notice}")).await;
            kept.push((LogStream::Note, notice));
            continue;
        }
        let mut text = line.text;
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" [line cut]");
        }
        bytes += text.len();
        say(to, format!("{label}| {text}")).await;
        kept.push((LogStream::Output, text));
    }
    (kept, truncated)
}
