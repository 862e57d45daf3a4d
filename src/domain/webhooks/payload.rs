//! Payloads in Gitea's and GitHub's shape, so receivers written for them (CI systems, chat
//! bridges, adnanh/webhook rules) read ours unchanged.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::Config;
use crate::git::ChangedPaths;
use crate::git::read::CommitInfo;
use crate::model::{RefUpdate, Repo};

/// The `repository` object of every payload.
pub fn repository_json(config: &Config, repo: &Repo) -> Value {
    json!({
        "id": repo.id,
        "owner": {
            "id": repo.owner_id,
            "login": repo.owner,
            "username": repo.owner,
        },
        "name": repo.name,
        "full_name": repo.full_name(),
        "description": repo.description,
        "private": repo.is_private,
        "fork": false,
        "html_url": format!("{}/{}", config.base_url, repo.full_name()),
        "url": format!("{}/api/v1/repos/{}", config.base_url, repo.full_name()),
        "clone_url": config.http_clone_url(&repo.owner, &repo.name),
        "ssh_url": config.ssh_clone_url(&repo.owner, &repo.name),
        "default_branch": repo.default_branch,
    })
}

/// A user as payloads show one (`pusher`, `sender`); `id` 0 when the account is gone.
pub fn user_json(config: &Config, id: Option<i64>, name: &str, email: &str) -> Value {
    json!({
        "id": id.unwrap_or(0),
        "login": name,
        "username": name,
        "full_name": "",
        "email": email,
        "html_url": format!("{}/{name}", config.base_url),
    })
}

fn rfc3339(secs: i64) -> String {
    crate::domain::rfc3339(
        OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    )
}

pub(super) fn commit_json(
    config: &Config,
    repo: &Repo,
    (c, paths): &(CommitInfo, ChangedPaths),
) -> Value {
    let message = if c.body.is_empty() {
        c.subject.clone()
    } else {
        format!("{}\n\n{}", c.subject, c.body)
    };
    let author = json!({"name": c.author_name, "email": c.author_email, "username": ""});
    let committer = json!({"name": c.committer_name, "email": c.committer_email, "username": ""});
    json!({
        "id": c.id.0,
        "message": message,
        "url": format!("{}/{}/commit/{}", config.base_url, repo.full_name(), c.id.0),
        "author": author,
        "committer": committer,
        "timestamp": rfc3339(c.time),
        "added": paths.added,
        "removed": paths.removed,
        "modified": paths.modified,
        // labforge's own: the lists above stop at 1,000 paths or a time budget.
        "changes_truncated": paths.cut,
    })
}

/// One ref's push payload. `commits` are oldest first (at most the newest 20) with the files
/// each changed, `total` how many the push brought in.
pub(super) fn push_payload(
    config: &Config,
    repo: &Repo,
    update: &RefUpdate,
    commits: &[(CommitInfo, ChangedPaths)],
    total: usize,
    pusher: &Value,
) -> Value {
    let commit_values: Vec<Value> = commits
        .iter()
        .map(|c| commit_json(config, repo, c))
        .collect();
    let head = commits
        .iter()
        .find(|(c, _)| c.id.0 == update.new)
        .map(|c| commit_json(config, repo, c))
        .unwrap_or(Value::Null);
    json!({
        "ref": update.name,
        "before": update.old,
        "after": update.new,
        // A created or deleted ref has nothing to compare: "" as Gitea sends.
        "compare_url": if update.is_create() || update.is_delete() {
            String::new()
        } else {
            format!(
                "{}/{}/compare/{}...{}",
                config.base_url,
                repo.full_name(),
                update.old,
                update.new
            )
        },
        "created": update.is_create(),
        "deleted": update.is_delete(),
        "commits": commit_values,
        "total_commits": total,
        "head_commit": head,
        "repository": repository_json(config, repo),
        "pusher": pusher,
        "sender": pusher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Repo {
        Repo {
            id: 1,
            owner_id: 1,
            owner: "alice".into(),
            name: "dns".into(),
            description: String::new(),
            is_private: false,
            default_branch: "main".into(),
            is_archived: false,
            open_issues: None,
        }
    }

    #[test]
    fn compare_url_points_at_the_compare_page_for_an_update_only() {
        let config = Config::from_pairs(&[("LABFORGE_BASE_URL", "https://git.lab.test")])
            .expect("a config from pairs");
        let (old, new) = ("a".repeat(40), "b".repeat(40));
        let update = |old: &str, new: &str| RefUpdate {
            name: "refs/heads/main".into(),
            old: old.into(),
            new: new.into(),
        };
        let moved = push_payload(&config, &repo(), &update(&old, &new), &[], 0, &Value::Null);
        assert_eq!(
            moved["compare_url"],
            format!("https://git.lab.test/alice/dns/compare/{old}...{new}")
        );
        let zero = crate::model::ZERO_ID;
        let created = push_payload(&config, &repo(), &update(zero, &new), &[], 0, &Value::Null);
        assert_eq!(created["compare_url"], "");
    }
}
