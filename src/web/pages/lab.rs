//! Display rows for the lab-at-a-glance pieces shared by the dashboard, the repository lists and
//! the summary: deploy badges and repository lines, computed before rendering.

use crate::domain::dashboard::{DeployLine, RepoListing};
use crate::domain::deploys::outcome_word;
use crate::git::compare::Ahead;
use crate::model::DeployStatus;
use crate::web::view::{StatusMark, age, date, plural};

/// A deploy as a status badge: its last run, and how far its branch has moved past the last
/// good run.
pub struct DeployBadge {
    pub owner: String,
    pub name: String,
    pub deploy: String,
    /// CSS suffix: `succeeded`, `failed`, `running`, … or `none`.
    pub status: String,
    /// "deployed", "last run failed (exit 1)", "never run", …
    pub text: String,
    pub run_id: Option<i64>,
    pub commit: String,
    pub short: String,
    pub subject: String,
    pub by: String,
    pub age: String,
    pub date: String,
    /// "main is 3 commits ahead of the last good deploy" (empty when unknown).
    pub ahead: String,
    /// (last good commit, branch) for a "changes since last good" compare link, when ahead.
    pub compare: Option<(String, String)>,
    pub good_id: Option<i64>,
    pub good_short: String,
}

impl From<&DeployLine> for DeployBadge {
    fn from(d: &DeployLine) -> Self {
        let (status, text) = match &d.last {
            None => ("none".to_owned(), "never run".to_owned()),
            Some(r) => {
                let word = outcome_word(r.status, r.exit_code);
                let text = match r.status {
                    DeployStatus::Succeeded => "deployed".to_owned(),
                    DeployStatus::Failed
                    | DeployStatus::TimedOut
                    | DeployStatus::Interrupted
                    | DeployStatus::Cancelled => format!("last run {word}"),
                    DeployStatus::Queued | DeployStatus::Running | DeployStatus::Superseded => word,
                };
                (r.status.to_string(), text)
            }
        };
        let (ahead, compare) = match (&d.ahead, &d.last_good) {
            (Some((branch, n)), Some(good)) => {
                let text = match n {
                    Ahead::Exactly(0) => format!("{branch} is at the last good deploy"),
                    Ahead::Exactly(n) => format!(
                        "{branch} is {} ahead of the last good deploy",
                        plural(*n, "commit", "commits")
                    ),
                    Ahead::AtLeast(n) => {
                        format!("{branch} is more than {n} commits ahead of the last good deploy")
                    }
                };
                let compare =
                    (*n != Ahead::Exactly(0)).then(|| (good.new_id.clone(), branch.clone()));
                (text, compare)
            }
            _ => (String::new(), None),
        };
        let last = d.last.as_ref();
        let queued = last.map(|r| r.queued_at.unix_timestamp());
        DeployBadge {
            owner: d.repo.owner.clone(),
            name: d.repo.name.clone(),
            deploy: d.deploy.clone(),
            status,
            text,
            run_id: last.map(|r| r.id),
            commit: last.map(|r| r.new_id.clone()).unwrap_or_default(),
            short: last
                .map(|r| r.new_id.chars().take(7).collect())
                .unwrap_or_default(),
            subject: d.last_subject.clone(),
            by: last
                .map(|r| r.triggered_by_name.clone())
                .unwrap_or_default(),
            age: queued.map(age).unwrap_or_default(),
            date: queued.map(date).unwrap_or_default(),
            ahead,
            compare,
            good_id: d.last_good.as_ref().map(|g| g.id),
            good_short: d
                .last_good
                .as_ref()
                .map(|g| g.new_id.chars().take(7).collect())
                .unwrap_or_default(),
        }
    }
}

/// A repository's line in a list.
pub struct RepoItem {
    pub owner: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    /// "pushed 3 days ago" (empty: never pushed).
    pub pushed_age: String,
    pub pushed_date: String,
    pub open_issues: String,
    /// Shown only when the head has no statuses.
    pub deploy_status: Option<DeployStatus>,
    /// The default branch's head: its full id and status mark, when statuses were reported.
    pub head: Option<(String, StatusMark)>,
}

impl From<&RepoListing> for RepoItem {
    fn from(l: &RepoListing) -> Self {
        let pushed = l.pushed_at.map(|t| t.unix_timestamp());
        RepoItem {
            owner: l.repo.owner.clone(),
            name: l.repo.name.clone(),
            description: l.repo.description.clone(),
            is_private: l.repo.is_private,
            pushed_age: pushed.map(age).unwrap_or_default(),
            pushed_date: pushed.map(date).unwrap_or_default(),
            open_issues: if l.open_issues == 0 {
                String::new()
            } else {
                plural(l.open_issues as usize, "open issue", "open issues")
            },
            // The head's statuses include its deploys' when they ran on it: one mark then.
            deploy_status: l.deploy_status.filter(|_| l.head_status.is_none()),
            head: l
                .head_status
                .as_ref()
                .map(|(sha, combined)| (sha.clone(), StatusMark::from(combined))),
        }
    }
}

/// The list's controls as the visitor left them (echoed into the filter form and sort links).
pub struct ListControls {
    pub q: String,
    pub sort: &'static str,
    pub cut: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_read_naturally() {
        assert_eq!(plural(1, "commit", "commits"), "1 commit");
        assert_eq!(plural(3, "commit", "commits"), "3 commits");
        assert_eq!(plural(0, "branch", "branches"), "0 branches");
    }
}
