//! Issues, labels, comments and timeline events as the rooms pass them around.

use time::OffsetDateTime;

use super::closed_set::closed_set;
use super::{RepoId, UserId};

pub type IssueId = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub id: IssueId,
    pub repo_id: RepoId,
    pub number: i64,
    pub author_id: Option<UserId>,
    /// "ghost" once the author's account is gone.
    pub author: String,
    pub title: String,
    pub body: String,
    pub state: IssueStatus,
    pub closed_by: Option<String>,
    /// The commit whose message closed the issue, when one did.
    pub closed_by_commit: Option<String>,
    pub closed_at: Option<OffsetDateTime>,
    pub comment_count: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Issue {
    pub fn is_open(&self) -> bool {
        self.state == IssueStatus::Open
    }
}

closed_set! {
    /// An issue's `state` in Gitea's and GitHub's words. (The list's filter, which also has
    /// `all`, is `domain::IssueState`.)
    pub enum IssueStatus("issue state") {
        Open = "open",
        Closed = "closed",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub id: i64,
    pub name: String,
    /// `#rrggbb`, lower case.
    pub color: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub issue_id: IssueId,
    pub author_id: Option<UserId>,
    pub author: String,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

closed_set! {
    /// What an entry of an issue's timeline records.
    #[derive(Default)]
    pub enum TimelineKind("timeline event kind") {
        Opened = "opened",
        /// The default only so that a new event can be written `..Default::default()`; every
        /// writer names its kind.
        #[default]
        Commented = "commented",
        Labeled = "labeled",
        Unlabeled = "unlabeled",
        Closed = "closed",
        Reopened = "reopened",
        /// By a commit's message or another issue's text.
        Referenced = "referenced",
        Renamed = "renamed",
    }
}

/// One entry of an issue's timeline; the options say what it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEvent {
    pub id: i64,
    pub kind: TimelineKind,
    pub actor: String,
    pub created_at: OffsetDateTime,
    pub comment: Option<Comment>,
    pub label_name: Option<String>,
    pub label_color: Option<String>,
    pub commit_id: Option<String>,
    /// The number of the issue whose text mentioned this one.
    pub source_number: Option<i64>,
    pub old_title: Option<String>,
}
