//! Checks: the operator's `[[check]]` commands, run by pre-receive on each pushed ref they
//! match, before the push lands. Each runs on the ref's new tree, written from the quarantined
//! objects into a fresh folder outside the repository (in the work folder, `work.rs`, on disk
//! unless the operator names a tmpfs), inside bubblewrap when it is installed, in a cgroup of
//! its own where the machine allows one (`crate::job::cgroup`). A failure, a timeout or a required check that could
//! not run refuses the ref; `-o dry-run` runs them all, prints the plan and refuses everything;
//! `-o skip-checks` lets a repository admin through without them, and the push records it.
//!
//! `prepare.rs` reads the push (changed paths, the tree), `run.rs` runs one check and records
//! it, `plan.rs` says what a dry run found, `work.rs` holds the work folder and the byte caps.

mod plan;
mod prepare;
mod run;
mod work;

use std::path::{Path, PathBuf};

use tokio::sync::Semaphore;

use super::{BranchRule, PushContext, Say};
use crate::config::{Check, CheckLimits};
use crate::domain::{Forge, Result};
use crate::job::{Cgroups, Sandbox};
use crate::model::{RefUpdate, RepoAccess, RepoPath};

pub(super) use plan::say_plan;
pub(super) use prepare::Prepared;
pub(super) use run::Outcome;

/// The checks' shared state: configuration, the sandbox, where trees are written, and the
/// slots that bound how many checks run at once (across all pushes).
pub struct CheckState {
    /// Replaced whole by a reload (SIGHUP); a push being checked keeps the copy it took.
    configs: std::sync::RwLock<std::sync::Arc<Vec<Check>>>,
    /// Set by `start` (serve) when bubblewrap works here; admin commands never run checks.
    sandbox: std::sync::OnceLock<Sandbox>,
    /// Holds one folder per push being checked; opened (and verified) by `start`, or why not.
    work_dir: PathBuf,
    work: std::sync::OnceLock<std::result::Result<work::WorkRoot, String>>,
    /// Bytes the pushes' trees may take, per push and all at once.
    budget: work::Budget,
    /// Each check's process (and memory) limit, where this machine lets labforge make cgroups.
    cgroups: std::sync::OnceLock<Option<Cgroups>>,
    slots: Semaphore,
}

impl CheckState {
    pub fn new(configs: Vec<Check>, limits: &CheckLimits) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            configs: std::sync::RwLock::new(std::sync::Arc::new(configs)),
            sandbox: std::sync::OnceLock::new(),
            work_dir: limits.work_dir.clone(),
            work: std::sync::OnceLock::new(),
            budget: work::Budget::new(limits),
            cgroups: std::sync::OnceLock::new(),
            slots: Semaphore::new(cores),
        }
    }

    /// At serve's start: opens the work folder (removing what a server that stopped in the
    /// middle of a check left; a folder that is not labforge's own is refused, logged, and
    /// every check then refuses its push saying why), takes the sandbox (None: bubblewrap is
    /// missing or cannot work here; checks then run without it, as start-up says) and makes
    /// this server's cgroups, logging which process limit checks get.
    pub fn start(&self, sandbox: Option<Sandbox>) {
        let work = work::WorkRoot::open(&self.work_dir);
        if let Err(why) = &work {
            tracing::error!("checks cannot run: the work folder is refused: {why}");
        }
        let _ = self.work.set(work);
        if let Some(sandbox) = sandbox {
            let _ = self.sandbox.set(sandbox);
        }
        if self.configs().is_empty() {
            // Left unset: a reload that adds the first check makes them then (`replace`).
            return;
        }
        self.make_cgroups();
    }

    /// The cgroups checks run in, once (a second call finds them made).
    fn make_cgroups(&self) {
        if self.cgroups.get().is_some() {
            return;
        }
        let groups = match Cgroups::detect() {
            Ok(g) => {
                tracing::info!("checks' process limit: {}", g.describe());
                Some(g)
            }
            Err(why) => {
                tracing::warn!(
                    "checks have no process limit (no cgroup could be made: {why}); their \
                     memory is bound by RLIMIT_AS and sized /tmp and /dev/shm only"
                );
                None
            }
        };
        let _ = self.cgroups.set(groups);
    }

    /// Which process limit checks get (`cgroup v1 pids.max in …`), None without one.
    pub fn process_limit(&self) -> Option<String> {
        self.cgroups
            .get()
            .and_then(Option::as_ref)
            .map(Cgroups::describe)
    }

    /// Bytes the trees of pushes being checked now hold in the work folder.
    pub fn bytes_in_use(&self) -> u64 {
        self.budget.in_use()
    }

    /// The configured checks as they are now (a reload replaces the list, not this copy).
    pub fn configs(&self) -> std::sync::Arc<Vec<Check>> {
        std::sync::Arc::clone(
            &self
                .configs
                .read()
                .expect("never poisoned: only swaps under it"),
        )
    }

    /// Uses `configs` from now on: for pushes after this call; pushes being checked keep the
    /// list they took. The first checks of a server that started with none get the sandbox
    /// (`sandbox`, when bubblewrap works here) and cgroups then.
    pub fn replace(&self, configs: Vec<Check>, sandbox: impl FnOnce() -> Option<Sandbox>) {
        let first = !configs.is_empty() && self.configs().is_empty();
        *self
            .configs
            .write()
            .expect("never poisoned: only swaps under it") = std::sync::Arc::new(configs);
        if first {
            if self.sandbox.get().is_none()
                && let Some(sandbox) = sandbox()
            {
                let _ = self.sandbox.set(sandbox);
            }
            self.make_cgroups();
        }
    }

    /// Whether checks run inside bubblewrap (when their config allows).
    pub fn sandboxed(&self) -> bool {
        self.sandbox.get().is_some()
    }

    /// Where pushed trees are written.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The held work folder; an error when `start` refused it (or never ran).
    fn work_root(&self) -> Result<&work::WorkRoot> {
        match self.work.get() {
            Some(Ok(root)) => Ok(root),
            Some(Err(why)) => Err(crate::domain::Error::Internal(anyhow::anyhow!(
                "the checks' work folder is refused: {why}"
            ))),
            None => Err(crate::domain::Error::Internal(anyhow::anyhow!(
                "the checks' work folder was not opened (checks run in serve only)"
            ))),
        }
    }
}

/// The checks in `configs` for `full_name` (`OWNER/REPO`) and ref `ref_name`.
fn for_ref<'a>(
    configs: &'a [Check],
    full_name: &'a str,
    ref_name: &'a str,
) -> impl Iterator<Item = &'a Check> {
    configs
        .iter()
        .filter(move |c| c.matches_repo(full_name) && c.trigger.matches_ref(ref_name))
}

/// The `-o` options checks look at.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PushFlags {
    pub dry_run: bool,
    pub skip_checks: bool,
    /// `-o deploy=gate`: the deploys run before the refs move (see `deploys::gate`).
    pub gate: bool,
}

/// Whether the push asked only for a plan (`-o dry-run`): its refusal is the answer asked
/// for, not a failure to look up in the log.
pub fn is_dry_run(options: &[String]) -> bool {
    PushFlags::parse(options).dry_run
}

impl PushFlags {
    pub fn parse(options: &[String]) -> Self {
        let has = |o: &str| options.iter().any(|x| x == o);
        Self {
            dry_run: has("dry-run"),
            skip_checks: has("skip-checks"),
            gate: has("deploy=gate"),
        }
    }
}

/// What the checks found: refusals to say (whole sentences after `labforge: `), and for a dry
/// run what was read.
pub(super) struct Review {
    pub refusals: Vec<String>,
    pub prepared: Vec<Prepared>,
}

/// One updated ref and what applies to it.
pub(super) struct RefChecks<'a> {
    pub update: &'a RefUpdate,
    /// Configured checks for this ref (before the `paths` filter).
    pub candidates: Vec<&'a Check>,
    /// Required by the protection rules matching the branch: always run, whatever `paths`.
    pub required: Vec<String>,
}

impl Forge {
    /// Runs the checks `updates` call for (all of them in parallel, bounded by the core
    /// count), streaming their output; for a dry run it first says what each ref would do.
    /// Returns the refusals (empty: every ref may land).
    pub(super) async fn review_push(
        &self,
        ctx: &PushContext,
        rules: &[BranchRule],
        updates: &[RefUpdate],
        flags: PushFlags,
        quarantine: Option<&Path>,
        to: &Say,
    ) -> Result<Review> {
        let full_name = ctx.repo.full_name();
        if flags.skip_checks {
            let path = RepoPath::parse(&full_name)?;
            let (_, access) = self.access(&ctx.principal, &path).await?;
            if access < RepoAccess::Admin {
                return Ok(Review {
                    refusals: vec![
                        "refusing the push: only repository admins may push with -o skip-checks"
                            .into(),
                    ],
                    prepared: Vec::new(),
                });
            }
            super::say(
                to,
                format!(
                    "labforge: checks skipped by {} (-o skip-checks); the push records it",
                    ctx.actor.user.name
                ),
            )
            .await;
        }
        let configs = self.checks.configs();
        let refs: Vec<RefChecks> = updates
            .iter()
            .filter(|u| !u.is_delete())
            .map(|update| RefChecks {
                update,
                candidates: for_ref(&configs, &full_name, &update.name).collect(),
                required: required_checks(rules, update),
            })
            .collect();
        let idle = refs
            .iter()
            .all(|r| r.candidates.is_empty() && r.required.is_empty());
        // Most pushes stop here: no check applies, nothing is read.
        if !flags.dry_run && (idle || flags.skip_checks) {
            return Ok(Review {
                refusals: Vec::new(),
                prepared: Vec::new(),
            });
        }
        if self.checks.work_root().is_err() {
            tracing::error!(repo = %full_name, "a push's checks cannot run: the work folder is refused (see start-up)");
            return Ok(Review {
                refusals: vec![
                    "refusing the push: its checks cannot run because the server's checks work \
                     folder is unusable (the server's log says why)"
                        .into(),
                ],
                prepared: Vec::new(),
            });
        }
        let (scratch, prepared) = self.prepare_push(ctx, &refs, flags, quarantine).await?;
        if flags.dry_run {
            for p in &prepared {
                super::say(to, p.headline()).await;
            }
        }
        let mut refusals: Vec<String> = prepared.iter().flat_map(Prepared::refusals).collect();
        if !flags.skip_checks {
            let outcomes = self.run_checks(ctx, &prepared, flags, to).await;
            refusals.extend(outcomes.iter().filter_map(Outcome::refusal));
        }
        drop(scratch);
        Ok(Review { refusals, prepared })
    }
}

/// The checks the protection rules matching the update's branch require.
fn required_checks(rules: &[BranchRule], update: &RefUpdate) -> Vec<String> {
    let Some(branch) = update.branch() else {
        return Vec::new();
    };
    let mut names: Vec<String> = rules
        .iter()
        .filter(|r| r.matches(branch))
        .flat_map(|r| r.required_checks.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_required_checks() {
        let flags = PushFlags::parse(&["deploy=wait".into(), "dry-run".into()]);
        assert!(flags.dry_run && !flags.skip_checks);
        let rule = |pattern: &str, checks: &[&str]| BranchRule {
            id: 1,
            pattern: pattern.into(),
            admins_only: false,
            required_checks: checks.iter().map(|c| (*c).to_owned()).collect(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let rules = [rule("main", &["zones", "yaml"]), rule("ma*", &["zones"])];
        let update = RefUpdate {
            name: "refs/heads/main".into(),
            old: crate::model::ZERO_ID.into(),
            new: "1".repeat(40),
        };
        assert_eq!(required_checks(&rules, &update), ["yaml", "zones"]);
        let tag = RefUpdate {
            name: "refs/tags/main".into(),
            ..update
        };
        assert!(required_checks(&rules, &tag).is_empty());
    }
}
