//! The lab at a glance: every deploy a user can see with its last run and how far its branch has
//! moved past the last good run, recent pushes and issues, and repository lists with their
//! activity. A handful of queries over id lists plus one git read per repository with deploys,
//! so the page stays fast with dozens of repositories.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::statuses::{CombinedStatus, SHOWN_IN_MARK};
use super::{Forge, Grant, Level, Result};
use crate::git::compare::Ahead;
use crate::git::read::CommitId;
use crate::model::{Actor, DeployStatus, Repo, RepoAccess, RepoId};
use crate::storage::{DeployRunRow, IssueEventRow, RecentPushRow};

/// Commits counted when saying how far a branch is ahead of its last good deploy.
pub const AHEAD_CAP: usize = 1000;
/// Rows of recent pushes and of issue events on the dashboard.
pub const RECENT: i64 = 10;
/// Repositories a list shows; past this the filter box narrows it.
pub const MAX_LISTED_REPOS: usize = 500;
/// A filter longer than this is cut (it is matched against names of at most 100 characters).
const MAX_FILTER: usize = 100;

/// One configured deploy as the dashboard and the summary show it.
pub struct DeployLine {
    pub repo: Repo,
    pub deploy: String,
    /// The newest run that was not superseded.
    pub last: Option<DeployRunRow>,
    /// Subject of the last run's commit (empty when the commit is gone).
    pub last_subject: String,
    pub last_good: Option<DeployRunRow>,
    /// The last good run's branch, and how far its head is past the deployed commit now.
    pub ahead: Option<(String, Ahead)>,
}

impl DeployLine {
    /// Failing first: a deploy whose last run did not succeed needs a look.
    pub fn is_failing(&self) -> bool {
        self.last.as_ref().is_some_and(|r| {
            matches!(
                r.status,
                DeployStatus::Failed | DeployStatus::TimedOut | DeployStatus::Interrupted
            )
        })
    }
}

/// A repository in a list, with what the list shows about it.
pub struct RepoListing {
    pub repo: Repo,
    pub pushed_at: Option<OffsetDateTime>,
    pub open_issues: i64,
    /// The status of its deploys' last runs taken together (the worst), if it has any.
    pub deploy_status: Option<DeployStatus>,
    /// The default branch's head commit and its statuses (checks, deploys, outside CI), when
    /// any were reported on it.
    pub head_status: Option<(String, CombinedStatus)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RepoSort {
    #[default]
    LastPush,
    Name,
}

impl RepoSort {
    pub fn parse(s: &str) -> Self {
        if s == "name" {
            Self::Name
        } else {
            Self::LastPush
        }
    }
}

pub struct Dashboard {
    pub deploys: Vec<DeployLine>,
    pub pushes: Vec<(Repo, RecentPushRow)>,
    pub issues: Vec<(Repo, IssueEventRow)>,
    pub repos: Vec<RepoListing>,
    /// The list of repositories was cut at `MAX_LISTED_REPOS`.
    pub cut: bool,
}

/// What the dashboard asks git about one deploy: the last run's commit, and the last good
/// run's (ref, commit).
type GitAsk = (Option<String>, Option<(String, String)>);

/// How bad a run's status is, for picking a repository's worst.
fn severity(status: DeployStatus) -> u8 {
    match status {
        DeployStatus::Failed | DeployStatus::TimedOut | DeployStatus::Interrupted => 3,
        DeployStatus::Running | DeployStatus::Queued => 2,
        DeployStatus::Cancelled => 1,
        DeployStatus::Succeeded | DeployStatus::Superseded => 0,
    }
}

/// The repositories whose owner/name or description contains `filter` (case-insensitive), at
/// most `MAX_LISTED_REPOS`; the bool says the list was cut.
fn filtered(repos: Vec<Repo>, filter: &str) -> (Vec<Repo>, bool) {
    let needle: String = filter.trim().chars().take(MAX_FILTER).collect();
    let needle = needle.to_lowercase();
    let mut repos: Vec<Repo> = repos
        .into_iter()
        .filter(|r| {
            needle.is_empty()
                || r.full_name().to_lowercase().contains(&needle)
                || r.description.to_lowercase().contains(&needle)
        })
        .collect();
    let cut = repos.len() > MAX_LISTED_REPOS;
    repos.truncate(MAX_LISTED_REPOS);
    (repos, cut)
}

/// `listings` (in last-push order) in the order asked for.
fn sorted(mut listings: Vec<RepoListing>, sort: RepoSort) -> Vec<RepoListing> {
    if sort == RepoSort::Name {
        listings.sort_by_key(|l| l.repo.full_name().to_lowercase());
    }
    listings
}

impl Forge {
    /// The signed-in home page: deploys (failing first), recent pushes and issues in the
    /// repositories the user owns or collaborates on, and every repository they can read
    /// (filtered and sorted as [`Forge::repo_listings`] does). The repositories and their deploy
    /// lines are read once and serve both the deploys and the list.
    pub async fn dashboard(
        self: &Arc<Self>,
        actor: &Actor,
        filter: &str,
        sort: RepoSort,
    ) -> Result<Dashboard> {
        let visible = self.visible_repos(actor).await?;
        let repos: Vec<Repo> = visible.iter().map(|(r, _)| r.clone()).collect();
        let mine: Vec<RepoId> = visible
            .iter()
            .filter(|(r, level)| r.owner_id == actor.user.id || *level >= RepoAccess::Write)
            .map(|(r, _)| r.id)
            .collect();
        let by_id: HashMap<RepoId, &Repo> = repos.iter().map(|r| (r.id, r)).collect();
        let pushes = self.db.recent_pushes(&mine, RECENT).await?;
        let issues = self.db.recent_issue_events(&mine, RECENT).await?;
        let pushes = pushes
            .into_iter()
            .filter_map(|p| by_id.get(&p.repo_id).map(|r| ((*r).clone(), p)))
            .collect();
        let issues = issues
            .into_iter()
            .filter_map(|i| by_id.get(&i.repo_id).map(|r| ((*r).clone(), i)))
            .collect();
        let mut deploys = self.deploy_lines(&repos).await?;
        deploys.sort_by_key(|d| !d.is_failing());
        let (listed, cut) = filtered(repos, filter);
        let listings = sorted(self.listings(listed, &deploys).await?, sort);
        Ok(Dashboard {
            deploys,
            pushes,
            issues,
            repos: listings,
            cut,
        })
    }

    /// Repositories `actor` may read (public ones for anonymous visitors), optionally one
    /// owner's, whose owner/name or description contains `filter`, sorted, at most
    /// `MAX_LISTED_REPOS`; the bool says the list was cut.
    pub async fn repo_listings(
        self: &Arc<Self>,
        actor: Option<&Actor>,
        owner: Option<&str>,
        filter: &str,
        sort: RepoSort,
    ) -> Result<(Vec<RepoListing>, bool)> {
        let (repos, cut) = filtered(self.listed_repos(actor, owner).await?, filter);
        let deploys = self.deploy_lines(&repos).await?;
        let listings = sorted(self.listings(repos, &deploys).await?, sort);
        Ok((listings, cut))
    }

    /// `repos` (already in last-push order) with their activity and deploy status.
    async fn listings(&self, repos: Vec<Repo>, deploys: &[DeployLine]) -> Result<Vec<RepoListing>> {
        let ids: Vec<RepoId> = repos.iter().map(|r| r.id).collect();
        let activity: HashMap<RepoId, _> = self
            .db
            .repo_activity(&ids)
            .await?
            .into_iter()
            .map(|a| (a.repo_id, a))
            .collect();
        let mut heads: HashMap<RepoId, Vec<crate::storage::StatusSample>> = HashMap::new();
        for row in self.db.head_statuses(&ids, SHOWN_IN_MARK).await? {
            heads.entry(row.repo_id).or_default().push(row);
        }
        Ok(repos
            .into_iter()
            .map(|repo| {
                let a = activity.get(&repo.id);
                let deploy_status = deploys
                    .iter()
                    .filter(|d| d.repo.id == repo.id)
                    .filter_map(|d| d.last.as_ref().map(|r| r.status))
                    .max_by_key(|s| severity(*s));
                RepoListing {
                    pushed_at: a.and_then(|a| a.pushed_at),
                    open_issues: a.map_or(0, |a| a.open_issues),
                    deploy_status,
                    head_status: heads.remove(&repo.id).and_then(|samples| {
                        CombinedStatus::from_samples(samples).into_iter().next()
                    }),
                    repo,
                }
            })
            .collect())
    }

    /// The deploy lines of the grant's repository (its summary page).
    pub async fn deploy_lines_of<L: Level>(
        self: &Arc<Self>,
        grant: &Grant<L>,
    ) -> Result<Vec<DeployLine>> {
        self.deploy_lines(std::slice::from_ref(grant.repo())).await
    }

    /// Every deploy configured for `repos` (ones the actor asking may read: the dashboard's
    /// and the lists' own), with its last run, its last good run and how far the branch is
    /// ahead of it, in configuration order.
    async fn deploy_lines(self: &Arc<Self>, repos: &[Repo]) -> Result<Vec<DeployLine>> {
        let configured: Vec<(&Repo, String)> = repos
            .iter()
            .flat_map(|r| {
                self.deploys
                    .for_repo(r)
                    .into_iter()
                    .map(move |d| (r, d.name.to_string()))
            })
            .collect();
        if configured.is_empty() {
            return Ok(Vec::new()); // most forges have no deploy: no query
        }
        let ids: Vec<RepoId> = configured.iter().map(|(r, _)| r.id).collect();
        let latest = self.db.latest_deploy_runs(&ids).await?;
        let good = self.db.last_good_deploys_in(&ids).await?;
        let find = |runs: &[DeployRunRow], repo: RepoId, name: &str| {
            runs.iter()
                .find(|r| r.repo_id == repo && r.deploy_name == name)
                .cloned()
        };
        let mut lines: Vec<DeployLine> = configured
            .iter()
            .map(|(repo, name)| DeployLine {
                repo: (*repo).clone(),
                deploy: name.clone(),
                last: find(&latest, repo.id, name),
                last_subject: String::new(),
                last_good: find(&good, repo.id, name),
                ahead: None,
            })
            .collect();
        // One git read per repository: subjects of the last runs' commits, branch heads.
        let mut by_repo: Vec<RepoId> = lines.iter().map(|l| l.repo.id).collect();
        by_repo.dedup();
        for repo_id in by_repo {
            let here: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].repo.id == repo_id)
                .collect();
            let asks: Vec<GitAsk> = here
                .iter()
                .map(|&i| {
                    let l = &lines[i];
                    (
                        l.last.as_ref().map(|r| r.new_id.clone()),
                        l.last_good
                            .as_ref()
                            .map(|g| (g.ref_name.clone(), g.new_id.clone())),
                    )
                })
                .collect();
            let repo = lines[here[0]].repo.clone();
            let answers = self
                .read_repo_row(&repo, move |r| {
                    Ok(asks
                        .iter()
                        .map(|(last, good)| {
                            let subject = last
                                .as_ref()
                                .and_then(|id| r.commit(&CommitId(id.clone())).ok())
                                .map(|c| c.subject)
                                .unwrap_or_default();
                            let ahead = good.as_ref().and_then(|(ref_name, id)| {
                                let head = r.ref_target(ref_name).ok().flatten()?;
                                let n = r
                                    .ahead(&CommitId(head), &CommitId(id.clone()), AHEAD_CAP)
                                    .ok()?;
                                let short =
                                    ref_name.strip_prefix("refs/heads/").unwrap_or(ref_name);
                                Some((short.to_owned(), n))
                            });
                            (subject, ahead)
                        })
                        .collect::<Vec<_>>())
                })
                .await;
            // A repository whose folder cannot be read still lists its deploys from the database.
            if let Ok(answers) = answers {
                for (&i, (subject, ahead)) in here.iter().zip(answers) {
                    lines[i].last_subject = subject;
                    lines[i].ahead = ahead;
                }
            }
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_outrank_runs_in_progress_and_successes() {
        let mut statuses = ["succeeded", "running", "failed", "cancelled"];
        statuses.sort_by_key(|s| std::cmp::Reverse(severity(s.parse().unwrap())));
        assert_eq!(statuses[0], "failed");
        assert_eq!(statuses[1], "running");
        assert_eq!(statuses[3], "succeeded");
    }

    #[test]
    fn sort_parses_leniently() {
        assert_eq!(RepoSort::parse("name"), RepoSort::Name);
        assert_eq!(RepoSort::parse("pushed"), RepoSort::LastPush);
        assert_eq!(RepoSort::parse("<script>"), RepoSort::LastPush);
    }
}
