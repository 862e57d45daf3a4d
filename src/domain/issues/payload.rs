//! Issues and comments in Gitea's JSON shape: what the API returns and what the `issues` and
//! `issue_comment` webhook events carry (Gitea uses the same objects for both). Pure functions,
//! so the shapes are unit-tested without a server.

use serde_json::{Value, json};

use crate::domain::rfc3339;
use crate::model::{Comment, Issue, Label, Repo, User, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueAction {
    Opened,
    Edited,
    Closed,
    Reopened,
}

impl IssueAction {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueAction::Opened => "opened",
            IssueAction::Edited => "edited",
            IssueAction::Closed => "closed",
            IssueAction::Reopened => "reopened",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAction {
    Created,
    Edited,
}

impl CommentAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentAction::Created => "created",
            CommentAction::Edited => "edited",
        }
    }
}

fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// Gitea's user object as issues show it (no e-mail: issues are read by anyone who can read
/// the repository). A deleted author is Gitea's ghost, id -1.
pub fn user_json(base_url: &str, id: Option<UserId>, name: &str) -> Value {
    json!({
        "id": id.unwrap_or(-1),
        "login": name,
        "login_name": "",
        "username": name,
        "full_name": "",
        "avatar_url": "",
        "html_url": format!("{}/{name}", base(base_url)),
    })
}

/// Colours without the `#`, as Gitea returns them.
pub fn label_json(base_url: &str, repo: &Repo, label: &Label) -> Value {
    json!({
        "id": label.id,
        "url": format!("{}/api/v1/repos/{}/{}/labels/{}", base(base_url), repo.owner, repo.name, label.id),
        "name": label.name,
        "color": label.color.trim_start_matches('#'),
        "description": label.description,
        "exclusive": false,
        "is_archived": false,
    })
}

pub fn issue_html_url(base_url: &str, repo: &Repo, number: i64) -> String {
    format!(
        "{}/{}/{}/issues/{number}",
        base(base_url),
        repo.owner,
        repo.name
    )
}

pub fn issue_json(base_url: &str, repo: &Repo, issue: &Issue, labels: &[Label]) -> Value {
    let b = base(base_url);
    json!({
        "id": issue.id,
        "url": format!("{b}/api/v1/repos/{}/{}/issues/{}", repo.owner, repo.name, issue.number),
        "html_url": issue_html_url(base_url, repo, issue.number),
        "number": issue.number,
        "user": user_json(base_url, issue.author_id, &issue.author),
        "title": issue.title,
        "body": issue.body,
        "labels": labels.iter().map(|l| label_json(base_url, repo, l)).collect::<Vec<_>>(),
        "milestone": null,
        "assignee": null,
        "assignees": [],
        "assets": [],
        "original_author": "",
        "original_author_id": 0,
        "pin_order": 0,
        "ref": "",
        "state": issue.state,
        "is_locked": false,
        "comments": issue.comment_count,
        "created_at": rfc3339(issue.created_at),
        "updated_at": rfc3339(issue.updated_at),
        "closed_at": issue.closed_at.map(rfc3339),
        "due_date": null,
        "pull_request": null,
        "repository": {
            "id": repo.id,
            "name": repo.name,
            "owner": repo.owner,
            "full_name": repo.full_name(),
        },
    })
}

pub fn comment_json(base_url: &str, repo: &Repo, issue: &Issue, comment: &Comment) -> Value {
    let b = base(base_url);
    json!({
        "id": comment.id,
        "html_url": format!("{}#issuecomment-{}", issue_html_url(base_url, repo, issue.number), comment.id),
        "pull_request_url": "",
        "issue_url": format!("{b}/api/v1/repos/{}/{}/issues/{}", repo.owner, repo.name, issue.number),
        "user": user_json(base_url, comment.author_id, &comment.author),
        "original_author": "",
        "original_author_id": 0,
        "body": comment.body,
        "assets": [],
        "created_at": rfc3339(comment.created_at),
        "updated_at": rfc3339(comment.updated_at),
    })
}

/// What every issue event carries besides the issue: where links point, the repository (its
/// webhook object, `Forge::webhook_repository`, the same one push payloads carry) and who acted.
pub struct EventSource<'a> {
    pub base_url: &'a str,
    pub repo: &'a Repo,
    pub repository: Value,
    pub sender: &'a User,
}

/// The `issues` event. `commit` is the closing commit for a close by push (Gitea's `commit_id`).
pub fn issues_event(
    src: &EventSource<'_>,
    action: IssueAction,
    issue: &Issue,
    labels: &[Label],
    commit: Option<&str>,
) -> Value {
    json!({
        "action": action.as_str(),
        "number": issue.number,
        "issue": issue_json(src.base_url, src.repo, issue, labels),
        "repository": src.repository,
        "sender": user_json(src.base_url, Some(src.sender.id), &src.sender.name),
        "commit_id": commit.unwrap_or(""),
    })
}

/// The `issue_comment` event.
pub fn issue_comment_event(
    src: &EventSource<'_>,
    action: CommentAction,
    issue: &Issue,
    labels: &[Label],
    comment: &Comment,
) -> Value {
    json!({
        "action": action.as_str(),
        "issue": issue_json(src.base_url, src.repo, issue, labels),
        "comment": comment_json(src.base_url, src.repo, issue, comment),
        "repository": src.repository,
        "sender": user_json(src.base_url, Some(src.sender.id), &src.sender.name),
        "is_pull": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SiteRole;

    fn fixtures() -> (Repo, Issue, Vec<Label>, Comment, User) {
        let t = time::macros::datetime!(2026-11-26 12:00 UTC);
        let repo = Repo {
            id: 3,
            owner_id: 1,
            owner: "alice".into(),
            name: "dns".into(),
            description: "zones".into(),
            is_private: false,
            default_branch: "main".into(),
            is_archived: false,
            open_issues: None,
        };
        let issue = Issue {
            id: 40,
            repo_id: 3,
            number: 7,
            author_id: None,
            author: "ghost".into(),
            title: "Resolver times out".into(),
            body: "It does.".into(),
            state: crate::model::IssueStatus::Closed,
            closed_by: Some("alice".into()),
            closed_by_commit: None,
            closed_at: Some(t),
            comment_count: 2,
            created_at: t,
            updated_at: t,
        };
        let labels = vec![Label {
            id: 5,
            name: "bug".into(),
            color: "#d73a4a".into(),
            description: String::new(),
        }];
        let comment = Comment {
            id: 99,
            issue_id: 40,
            author_id: Some(2),
            author: "bob".into(),
            body: "Same here".into(),
            created_at: t,
            updated_at: t,
        };
        let sender = User {
            id: 1,
            name: "alice".into(),
            email: "alice@lab.test".into(),
            role: SiteRole::User,
        };
        (repo, issue, labels, comment, sender)
    }

    #[test]
    fn issues_event_has_giteas_fields() {
        let (repo, issue, labels, _, sender) = fixtures();
        let src = EventSource {
            base_url: "https://git.lab",
            repo: &repo,
            repository: json!({"full_name": repo.full_name()}),
            sender: &sender,
        };
        let v = issues_event(&src, IssueAction::Closed, &issue, &labels, None);
        assert_eq!(v["action"], "closed");
        assert_eq!(v["number"], 7);
        assert_eq!(v["issue"]["number"], 7);
        assert_eq!(v["issue"]["state"], "closed");
        assert_eq!(v["issue"]["user"]["login"], "ghost");
        assert_eq!(v["issue"]["user"]["id"], -1);
        assert_eq!(v["issue"]["labels"][0]["name"], "bug");
        assert_eq!(v["issue"]["labels"][0]["color"], "d73a4a");
        assert_eq!(v["issue"]["comments"], 2);
        assert_eq!(v["issue"]["closed_at"], "2026-11-26T12:00:00Z");
        assert_eq!(v["issue"]["html_url"], "https://git.lab/alice/dns/issues/7");
        assert_eq!(v["repository"]["full_name"], "alice/dns");
        assert_eq!(v["sender"]["login"], "alice");
        assert!(v["sender"].get("email").is_none(), "no e-mail addresses");
    }

    #[test]
    fn issue_comment_event_has_giteas_fields() {
        let (repo, issue, labels, comment, sender) = fixtures();
        let src = EventSource {
            base_url: "https://git.lab",
            repo: &repo,
            repository: json!({"full_name": repo.full_name()}),
            sender: &sender,
        };
        let v = issue_comment_event(&src, CommentAction::Created, &issue, &labels, &comment);
        assert_eq!(v["action"], "created");
        assert_eq!(v["issue"]["title"], "Resolver times out");
        assert_eq!(v["comment"]["id"], 99);
        assert_eq!(v["comment"]["body"], "Same here");
        assert_eq!(v["comment"]["user"]["login"], "bob");
        assert_eq!(
            v["comment"]["html_url"],
            "https://git.lab/alice/dns/issues/7#issuecomment-99"
        );
        assert_eq!(v["is_pull"], false);
    }
}
