//! A stand-in for Gitea's Repository object, for the answers that embed one (the combined
//! commit status, `/repos/migrate`) until h25-repos's `convert/repository.rs` lands: every
//! field of Gitea's schema, from what `Repo` knows; the rest at Gitea's values for a
//! repository without that feature. The lead replaces `repository_json`'s body with the full
//! converter when merging.

use serde_json::{Value, json};

use super::user::ApiUser;
use crate::domain::UserProfile;
use crate::model::Repo;

/// `owner` is the repository's owner, shown as to an anonymous caller; `mirror_interval` is
/// Gitea's text for a pull mirror's interval, None for a repository that is no mirror.
pub fn repository_json(
    base_url: &str,
    clone_url: String,
    repo: &Repo,
    owner: &UserProfile,
    mirror_interval: Option<String>,
) -> Value {
    let base = base_url.trim_end_matches('/');
    let full = repo.full_name();
    let mut value = json!({
        "id": repo.id,
        "owner": ApiUser::new(base_url, owner, None),
        "name": repo.name,
        "full_name": full,
        "description": repo.description,
        "empty": false,
        "private": repo.is_private,
        "fork": false,
        "template": false,
        "parent": null,
        "mirror": mirror_interval.is_some(),
        "size": 0,
        "language": "",
        "languages_url": format!("{base}/api/v1/repos/{full}/languages"),
        "html_url": format!("{base}/{full}"),
        "url": format!("{base}/api/v1/repos/{full}"),
        "link": "",
        "ssh_url": "",
        "clone_url": clone_url,
        "original_url": "",
        "website": "",
        "stars_count": 0,
        "forks_count": 0,
        "watchers_count": 0,
        "open_issues_count": repo.open_issues.unwrap_or(0),
        "open_pr_counter": 0,
        "release_counter": 0,
        "default_branch": repo.default_branch,
        "archived": false,
        "created_at": null,
        "updated_at": null,
        "archived_at": null,
        "permissions": null,
    });
    // Two halves: one `json!` of every field passes the macro's recursion limit.
    let rest = json!({
        "has_issues": true,
        "internal_tracker": null,
        "has_wiki": false,
        "external_wiki": null,
        "external_tracker": null,
        "has_pull_requests": false,
        "has_projects": false,
        "projects_mode": "",
        "has_releases": false,
        "has_packages": false,
        "has_actions": false,
        "ignore_whitespace_conflicts": false,
        "allow_merge_commits": false,
        "allow_rebase": false,
        "allow_rebase_explicit": false,
        "allow_squash_merge": false,
        "allow_fast_forward_only_merge": false,
        "allow_rebase_update": false,
        "default_delete_branch_after_merge": false,
        "default_merge_style": "merge",
        "default_allow_maintainer_edit": false,
        "avatar_url": "",
        "internal": false,
        "mirror_interval": mirror_interval.unwrap_or_default(),
        "object_format_name": "sha1",
        "mirror_updated": null,
        "repo_transfer": null,
    });
    if let (Some(value), Value::Object(rest)) = (value.as_object_mut(), rest) {
        value.extend(rest);
    }
    value
}
