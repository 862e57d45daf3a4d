//! Reading issues: the filtered list, one issue with its labels and timeline.

use std::collections::HashMap;

use super::{Error, Forge, Result};
use crate::domain::{Grant, Level};
use crate::model::{Comment, Issue, IssueStatus, Label, TimelineEvent};
use crate::storage::IssueFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueState {
    #[default]
    Open,
    Closed,
    All,
}

impl IssueState {
    /// `open`, `closed` or `all` (Gitea's and GitHub's words); anything else is open.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("closed") => IssueState::Closed,
            Some("all") => IssueState::All,
            _ => IssueState::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
            IssueState::All => "all",
        }
    }
}

/// What a visitor asked the list for.
#[derive(Debug, Clone, Default)]
pub struct IssueQuery {
    pub state: IssueState,
    /// Label names; issues must carry all of them.
    pub labels: Vec<String>,
    pub author: Option<String>,
    pub text: Option<String>,
    /// From 1.
    pub page: i64,
    pub per_page: i64,
}

/// One page of the list: each issue with its labels.
pub struct IssueList {
    pub issues: Vec<(Issue, Vec<Label>)>,
    pub has_more: bool,
    pub open_count: i64,
    pub closed_count: i64,
}

impl Forge {
    /// One page of the repository's issues as `q` filters them.
    pub async fn list_issues<L: Level>(&self, who: &Grant<L>, q: &IssueQuery) -> Result<IssueList> {
        let repo = who.repo();
        let (open_count, closed_count) = self.db.issue_counts(repo.id).await?;
        let empty = IssueList {
            issues: Vec::new(),
            has_more: false,
            open_count,
            closed_count,
        };
        let names: Vec<&str> = q
            .labels
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        let all_labels = if names.is_empty() {
            Vec::new()
        } else {
            self.db.labels(repo.id).await?
        };
        let mut label_ids = Vec::new();
        for name in names {
            match all_labels
                .iter()
                .find(|l| l.name.eq_ignore_ascii_case(name))
            {
                Some(l) => label_ids.push(l.id),
                None => return Ok(empty), // no issue carries a label that does not exist
            }
        }
        let author_id = match q.author.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(name) => match self.db.user_by_name(name).await? {
                Some(u) => Some(u.id),
                None => return Ok(empty),
            },
        };
        let text = q
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256);
        let per_page = q.per_page.clamp(1, 100);
        let page = q.page.clamp(1, 100_000);
        let state = match q.state {
            IssueState::Open => Some(IssueStatus::Open),
            IssueState::Closed => Some(IssueStatus::Closed),
            IssueState::All => None,
        };
        let mut issues = self
            .db
            .list_issues(
                repo.id,
                &IssueFilter {
                    state,
                    label_ids: &label_ids,
                    author_id,
                    query: text,
                    offset: (page - 1) * per_page,
                    limit: per_page + 1,
                },
            )
            .await?;
        let has_more = issues.len() as i64 > per_page;
        issues.truncate(per_page as usize);
        Ok(IssueList {
            issues: self.with_labels(issues).await?,
            has_more,
            open_count,
            closed_count,
        })
    }

    /// Pairs each issue with its labels (one query for the page).
    pub(super) async fn with_labels(&self, issues: Vec<Issue>) -> Result<Vec<(Issue, Vec<Label>)>> {
        let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
        let mut by_issue: HashMap<i64, Vec<Label>> = HashMap::new();
        for (issue_id, label) in self.db.labels_of_issues(&ids).await? {
            by_issue.entry(issue_id).or_default().push(label);
        }
        Ok(issues
            .into_iter()
            .map(|i| {
                let labels = by_issue.remove(&i.id).unwrap_or_default();
                (i, labels)
            })
            .collect())
    }

    /// Issue `number` of the granted repository, with its labels.
    pub async fn issue<L: Level>(
        &self,
        grant: &Grant<L>,
        number: i64,
    ) -> Result<(Issue, Vec<Label>)> {
        let issue = self
            .db
            .issue(grant.repo().id, number)
            .await?
            .ok_or(Error::NotFound)?;
        let mut labelled = self.with_labels(vec![issue]).await?;
        Ok(labelled.pop().expect("one issue in, one out"))
    }

    /// The timeline of `issue` (from `issue`), which must be of the granted repository.
    pub async fn timeline<L: Level>(
        &self,
        grant: &Grant<L>,
        issue: &Issue,
    ) -> Result<Vec<TimelineEvent>> {
        of_grant(grant, issue)?;
        Ok(self.db.timeline(issue.id).await?)
    }

    /// One page of the comments on `issue`, which must be of the granted repository.
    pub async fn comments<L: Level>(
        &self,
        grant: &Grant<L>,
        issue: &Issue,
        page: i64,
        per_page: i64,
    ) -> Result<Vec<Comment>> {
        of_grant(grant, issue)?;
        let per_page = per_page.clamp(1, 100);
        let offset = (page.clamp(1, 100_000) - 1) * per_page;
        Ok(self.db.comments(issue.id, offset, per_page).await?)
    }

    /// Which of `numbers` are issues of the repository, for `#N` links and the commit page.
    pub async fn existing_issues<L: Level>(
        &self,
        grant: &Grant<L>,
        numbers: &[i64],
    ) -> Result<Vec<i64>> {
        let repo = grant.repo();
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.db.existing_issue_numbers(repo.id, numbers).await?)
    }

    /// Issues of the repository that `text` mentions, for the commit page.
    pub async fn mentioned_issues<L: Level>(
        &self,
        grant: &Grant<L>,
        text: &str,
    ) -> Result<Vec<Issue>> {
        let repo = grant.repo();
        let numbers: Vec<i64> = super::refs::issue_refs(text)
            .into_iter()
            .take(50)
            .map(|r| r.number)
            .collect();
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.db.issues_by_number(repo.id, &numbers).await?;
        // In the order the text mentions them.
        Ok(numbers
            .iter()
            .filter_map(|n| found.iter().find(|i| i.number == *n).cloned())
            .collect())
    }
}

/// An issue (a public struct anyone can fill in) is read only through a grant on its own
/// repository.
fn of_grant<L: Level>(grant: &Grant<L>, issue: &Issue) -> Result<()> {
    if issue.repo_id == grant.repo().id {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}
