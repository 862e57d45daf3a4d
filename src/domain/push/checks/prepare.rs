//! Reading a push for its checks, on the blocking pool: which paths each ref changes, which
//! checks that selects, and the ref's new tree written out for them. All of it from the
//! quarantined objects, into a folder of this push's that is removed when the push is decided.
//! Every file is charged to the push's byte budget before it is written, and large blobs are
//! streamed by git in chunks, so a 600 MB blob never sits in labforge's memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::work::{Charge, PushDir};
use super::{PushFlags, RefChecks};
use crate::config::Check;
use crate::domain::push::PushContext;
use crate::domain::{Error, Forge, Result, blocking, random_hex};
use crate::git::pushed::{BlobSource, MaterialiseError, TreeLimits};
use crate::git::read::{CommitId, CommitInfo, ReadCache};
use crate::git::runner::GitRunner;
use crate::git::{GitError, RepoDir};
use crate::model::RefUpdate;

/// Changed paths listed for a check at most (the tree holds at most as many entries).
const MAX_CHANGED: usize = 100_000;
/// How far the dry run counts commits.
const COUNT_LIMIT: usize = 10_000;

/// A push's folder and the bytes it holds: removed in the background when dropped (after the
/// checks ran), and only then are its bytes given back to all pushes.
pub(in crate::domain::push) struct Scratch {
    dir: Option<PushDir>,
    charge: Option<Charge>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let (Some(dir), charge) = (self.dir.take(), self.charge.take()) else {
            return;
        };
        let remove = move || {
            if let Err(e) = std::fs::remove_dir_all(&dir.held)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, folder = %dir.path.display(), "removing a check folder failed");
            }
            drop(charge);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// A deploy the ref would start, for the dry run.
pub(in crate::domain::push) struct DeployPlan {
    pub name: String,
    pub run: String,
    /// The last successful run's commit and how many commits the push is ahead of it (None
    /// when that commit cannot be read any more).
    pub last_good: Option<(String, Option<usize>)>,
}

/// One ref, read and written out for its checks.
pub(in crate::domain::push) struct Prepared {
    pub update: RefUpdate,
    pub changed: usize,
    pub changed_more: bool,
    /// The commits the push brings to this ref (counted for a dry run only).
    pub commits: Option<usize>,
    /// The checks to run on it, in the config's order.
    pub selected: Vec<Check>,
    /// Required checks no `[[check]]` provides for this ref.
    pub required_missing: Vec<String>,
    /// Configured checks whose `paths` the push does not touch.
    pub not_selected: Vec<String>,
    /// Where the tree was written, and the changed-paths files beside it.
    pub tree: Option<PathBuf>,
    pub changed_file: PathBuf,
    /// The same paths NUL-terminated, names with a newline included (see [`changed_listings`]).
    pub changed_file0: PathBuf,
    /// The sandbox's passwd and group.
    pub etc: PathBuf,
    /// The new commit (None for a tag of something else), for status payloads.
    pub commit: Option<CommitInfo>,
    /// Why checks cannot run on it (a tree over the limits).
    pub problem: Option<String>,
    pub deploys: Vec<DeployPlan>,
}

impl Prepared {
    /// Why this ref is refused before any check runs.
    pub fn refusals(&self) -> Vec<String> {
        let name = &self.update.name;
        let mut out: Vec<String> = self
            .required_missing
            .iter()
            .map(|c| {
                format!(
                    "refusing {name}: its protection rule requires check {c}, which is not \
                     configured for this ref"
                )
            })
            .collect();
        if let Some(problem) = &self.problem {
            out.push(format!("refusing {name}: {problem}; its checks cannot run"));
        }
        out
    }

    /// The dry run's first line for this ref.
    pub fn headline(&self) -> String {
        let u = &self.update;
        let short = |id: &str| id.chars().take(7).collect::<String>();
        let range = if u.is_create() {
            format!("{} (new)", short(&u.new))
        } else {
            format!("{}..{}", short(&u.old), short(&u.new))
        };
        let commits = match self.commits {
            Some(n) if n >= COUNT_LIMIT => format!("{n}+ commits"),
            Some(1) => "1 commit".to_owned(),
            Some(n) => format!("{n} commits"),
            None => "commits not counted".to_owned(),
        };
        let files = match (self.changed, self.changed_more) {
            (n, true) => format!("{n}+ files changed"),
            (1, false) => "1 file changed".to_owned(),
            (n, false) => format!("{n} files changed"),
        };
        format!(
            "labforge: dry run of {} {range} ({commits}, {files})",
            u.name
        )
    }
}

/// What the blocking step needs, owned.
struct Job {
    reads: Arc<ReadCache>,
    runner: GitRunner,
    dir: RepoDir,
    quarantine: Option<PathBuf>,
    default_branch: String,
    refs: Vec<RefJob>,
    dry_run: bool,
}

struct RefJob {
    update: RefUpdate,
    candidates: Vec<Check>,
    required: Vec<String>,
    /// (name, run as shown, last good commit) of each deploy it would start (dry run only).
    deploys: Vec<(String, String, Option<String>)>,
}

impl Forge {
    /// Reads each ref's changes, selects its checks and writes its tree when one runs. The
    /// returned `Scratch` holds the trees; keep it until the checks have run.
    pub(super) async fn prepare_push(
        &self,
        ctx: &PushContext,
        refs: &[RefChecks<'_>],
        flags: PushFlags,
        quarantine: Option<&Path>,
    ) -> Result<(Scratch, Vec<Prepared>)> {
        let repo = &ctx.repo;
        // For the dry run's deploy lines: each deploy's last good commit, read before git.
        let last_good: HashMap<String, String> = if flags.dry_run {
            self.last_good_deploys_of(repo)
                .await?
                .into_iter()
                .map(|r| (r.deploy_name, r.new_id))
                .collect()
        } else {
            HashMap::new()
        };
        let dir = self.repo_dir(repo)?;
        let job = |quarantine: Option<PathBuf>| Job {
            reads: Arc::clone(&self.reads),
            runner: self.runner.clone(),
            dir: dir.clone(),
            quarantine,
            default_branch: repo.default_branch.clone(),
            refs: refs
                .iter()
                .map(|r| {
                    let deploys = if flags.dry_run {
                        self.deploys
                            .for_repo(repo)
                            .into_iter()
                            .filter(|d| d.matches_ref(&r.update.name))
                            .map(|d| {
                                let mut run = d.run.display().to_string();
                                for a in &d.args {
                                    run.push(' ');
                                    run.push_str(a);
                                }
                                (
                                    d.name.to_string(),
                                    run,
                                    last_good.get(d.name.as_str()).cloned(),
                                )
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    RefJob {
                        update: r.update.clone(),
                        candidates: r.candidates.iter().map(|c| (*c).clone()).collect(),
                        required: r.required.clone(),
                        deploys,
                    }
                })
                .collect(),
            dry_run: flags.dry_run,
        };
        let root = self.checks.work_root()?;
        let push = root
            .new_push(&format!("push-{}", random_hex(8)?))
            .map_err(|e| Error::Internal(anyhow::anyhow!("making a push's check folder: {e}")))?;
        let held = push.held.clone();
        let mut scratch = Scratch {
            dir: Some(push),
            charge: None,
        };
        let job = job(quarantine.map(Path::to_path_buf));
        let charge = self.checks.budget.open();
        let (charge, prepared) = blocking(move || prepare(job, &held, charge))
            .await?
            .map_err(|e| Error::Internal(e.into()))?;
        scratch.charge = Some(charge);
        // bubblewrap is given the folder's ordinary path (see work.rs).
        let dir = scratch.dir.as_ref().expect("set above");
        let prepared = prepared
            .into_iter()
            .map(|mut p| {
                p.tree = p.tree.map(|t| dir.outside(&t));
                p.changed_file = dir.outside(&p.changed_file);
                p.changed_file0 = dir.outside(&p.changed_file0);
                p.etc = dir.outside(&p.etc);
                p
            })
            .collect();
        Ok((scratch, prepared))
    }
}

/// Writes the push's folder `scratch` (as reached through the held descriptor); returns the
/// charge with what was written.
fn prepare(
    mut job: Job,
    scratch: &Path,
    mut charge: Charge,
) -> std::result::Result<(Charge, Vec<Prepared>), MaterialiseError> {
    let quarantine = match &job.quarantine {
        Some(q) => Some(job.dir.quarantine(q)?),
        None => None,
    };
    let big = BlobSource {
        runner: &job.runner,
        dir: &job.dir,
        quarantine: quarantine.as_deref(),
    };
    // Refs pointing at the same commit share one written tree (read-only to sandboxed checks).
    let mut written: HashMap<String, PathBuf> = HashMap::new();
    let etc = scratch.join("etc");
    crate::job::sandbox::write_etc(&etc)?;
    let reader = job
        .reads
        .open_push(&job.dir, job.quarantine.as_deref(), scratch)?;
    // A new branch is compared with the default branch: what it adds is what it changes.
    let base = if job.refs.iter().any(|r| r.update.is_create()) {
        reader.branch_head(&job.default_branch)?.map(|c| c.id.0)
    } else {
        None
    };
    let mut out = Vec::with_capacity(job.refs.len());
    for (i, r) in std::mem::take(&mut job.refs).into_iter().enumerate() {
        let RefJob {
            update,
            candidates,
            required,
            deploys,
        } = r;
        let (changed, more) = reader.changed_in_update(&update, base.as_deref(), MAX_CHANGED)?;
        let (selected, not_selected): (Vec<Check>, Vec<Check>) =
            candidates.iter().cloned().partition(|c| {
                more || required.iter().any(|r| r == c.name.as_str())
                    || c.paths.is_empty()
                    || changed.iter().any(|p| c.wants_path(p))
            });
        let required_missing = required
            .iter()
            .filter(|r| !candidates.iter().any(|c| c.name.as_str() == r.as_str()))
            .cloned()
            .collect();
        let count = |from: &str| -> std::result::Result<usize, GitError> {
            let range = RefUpdate {
                name: update.name.clone(),
                old: from.to_owned(),
                new: update.new.clone(),
            };
            Ok(reader.commits_in_push(&range, COUNT_LIMIT)?.len())
        };
        let commits = if job.dry_run {
            Some(count(&update.old)?)
        } else {
            None
        };
        let deploys = deploys
            .into_iter()
            .map(|(name, run, good)| DeployPlan {
                name,
                run,
                last_good: good.map(|sha| {
                    let behind = count(&sha).ok();
                    (sha, behind)
                }),
            })
            .collect();
        let commit = reader.commit(&CommitId(update.new.clone())).ok();
        let folder = scratch.join(format!("ref-{i}"));
        std::fs::create_dir(&folder)?;
        let changed_file = folder.join("changed-files");
        let changed_file0 = folder.join("changed-files0");
        let (lines, nul) = changed_listings(&changed);
        std::fs::write(&changed_file, lines)?;
        std::fs::write(&changed_file0, nul)?;
        let (tree, problem) = if selected.is_empty() {
            (None, None)
        } else if let Some(tree) = written.get(&update.new) {
            (Some(tree.clone()), None)
        } else {
            let tree = folder.join("tree");
            let mut take = |bytes: u64| charge.take(bytes);
            match reader.materialise(&update.new, &tree, TreeLimits::CHECKS, &big, &mut take) {
                Ok(_) => {
                    written.insert(update.new.clone(), tree.clone());
                    (Some(tree), None)
                }
                Err(
                    e @ (MaterialiseError::TooManyEntries(_)
                    | MaterialiseError::TooLarge(_)
                    | MaterialiseError::TooDeep(_)
                    | MaterialiseError::BadName(_)
                    | MaterialiseError::Refused(_)),
                ) => (None, Some(e.to_string())),
                Err(e) => return Err(e),
            }
        };
        out.push(Prepared {
            changed: changed.len(),
            changed_more: more,
            commits,
            not_selected: not_selected.iter().map(|c| c.name.to_string()).collect(),
            selected: if problem.is_some() {
                Vec::new()
            } else {
                selected
            },
            required_missing,
            tree,
            changed_file,
            changed_file0,
            etc: etc.clone(),
            commit,
            problem,
            deploys,
            update,
        });
    }
    Ok((charge, out))
}

/// The changed paths two ways: one a line (what `while read` scripts want) and NUL-terminated
/// (`xargs -0`, `read -d ''`). git allows a newline in a file name, which in the line form would
/// read as two names, each a path the push never touched; such names are left out of it and
/// only the NUL form has them.
fn changed_listings(changed: &[String]) -> (String, Vec<u8>) {
    let mut lines = String::new();
    let mut nul = Vec::new();
    for path in changed {
        if !path.contains('\n') {
            lines.push_str(path);
            lines.push('\n');
        }
        nul.extend_from_slice(path.as_bytes());
        nul.push(0);
    }
    (lines, nul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_a_newline_is_only_in_the_nul_form() {
        let changed = [
            "a.txt".to_owned(),
            "evil\nsrc/other".to_owned(),
            "b c".to_owned(),
        ];
        let (lines, nul) = changed_listings(&changed);
        assert_eq!(lines, "a.txt\nb c\n");
        assert_eq!(nul, b"a.txt\0evil\nsrc/other\0b c\0");
        assert_eq!(changed_listings(&[]), (String::new(), Vec::new()));
    }
}
