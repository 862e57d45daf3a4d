//! Gitea's Repository object (`modules/structs/repo.go`, filled as `services/convert/repository.go`
//! fills it), every field the schema names. What labforge has no notion of (forks, stars,
//! pull requests, wikis, releases, merge styles) answers Gitea's value for a repository
//! without it, so clients that read those fields see "off", not an invented state.
//!
//! The owner is Gitea's User object. `src/api/convert/user.rs` (issue 25's users part) owns
//! that object; until it lands, `user_json` below is the minimal private one this file needs.

use serde::Serialize;
use time::OffsetDateTime;

use crate::config::Config;
use crate::domain::repo_api::{RepoView, UserView};
use crate::domain::rfc3339;
use crate::model::{Actor, RepoAccess, SiteRole};

/// Gitea's zero `time.Time` (what it writes for a mirror never updated).
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// `time.Unix(0)`: what Gitea writes for a timestamp column never set.
const UNIX_ZERO: &str = "1970-01-01T00:00:00Z";

#[derive(Serialize)]
pub struct Permission {
    pub admin: bool,
    pub push: bool,
    pub pull: bool,
}

impl Permission {
    pub fn of(level: RepoAccess) -> Self {
        Permission {
            admin: level >= RepoAccess::Admin,
            push: level >= RepoAccess::Write,
            pull: level >= RepoAccess::Read,
        }
    }
}

#[derive(Serialize)]
pub struct InternalTracker {
    enable_time_tracker: bool,
    allow_only_contributors_to_track_time: bool,
    enable_issue_dependencies: bool,
}

/// Gitea's User object, the fields its schema names (plus `username`, which Gitea's
/// `MarshalJSON` adds). The email is shown to the user themself and site admins; others see
/// Gitea's placeholder, as Gitea shows a user who keeps their email private.
#[derive(Serialize)]
pub struct ApiUserObject {
    id: i64,
    login: String,
    login_name: String,
    source_id: i64,
    full_name: String,
    email: String,
    avatar_url: String,
    html_url: String,
    language: String,
    is_admin: bool,
    last_login: &'static str,
    created: String,
    restricted: bool,
    active: bool,
    prohibit_login: bool,
    location: String,
    website: String,
    description: String,
    visibility: &'static str,
    followers_count: i64,
    following_count: i64,
    starred_repos_count: i64,
    username: String,
}

/// `user` as `viewer` sees them.
pub fn user_json(config: &Config, user: &UserView, viewer: Option<&Actor>) -> ApiUserObject {
    let authed = viewer.is_some_and(|a| a.user.id == user.id || a.user.role == SiteRole::Admin);
    ApiUserObject {
        id: user.id,
        login: user.name.clone(),
        login_name: String::new(),
        source_id: 0,
        full_name: String::new(),
        email: if authed {
            user.email.clone()
        } else {
            format!(
                "{}@noreply.{}",
                user.name.to_lowercase(),
                host_of(&config.base_url)
            )
        },
        avatar_url: String::new(),
        html_url: format!("{}/{}", config.base_url, user.name),
        language: String::new(),
        is_admin: authed && user.is_admin,
        last_login: UNIX_ZERO,
        created: rfc3339(user.created_at),
        restricted: false,
        active: !user.disabled,
        prohibit_login: user.disabled,
        location: String::new(),
        website: String::new(),
        description: String::new(),
        visibility: "public",
        followers_count: 0,
        following_count: 0,
        starred_repos_count: 0,
        username: user.name.clone(),
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.split(':').next().unwrap_or(authority)
}

/// Gitea's Repository object.
#[derive(Serialize)]
pub struct ApiRepository {
    id: i64,
    owner: ApiUserObject,
    name: String,
    full_name: String,
    description: String,
    empty: bool,
    private: bool,
    fork: bool,
    template: bool,
    /// Gitea's `*Repository`: null unless a fork.
    parent: Option<()>,
    mirror: bool,
    size: u64,
    language: String,
    languages_url: String,
    html_url: String,
    url: String,
    link: String,
    ssh_url: String,
    clone_url: String,
    original_url: String,
    website: String,
    stars_count: i64,
    forks_count: i64,
    watchers_count: i64,
    open_issues_count: i64,
    open_pr_counter: i64,
    release_counter: i64,
    default_branch: String,
    archived: bool,
    created_at: String,
    updated_at: String,
    archived_at: String,
    permissions: Permission,
    has_issues: bool,
    internal_tracker: InternalTracker,
    external_tracker: Option<()>,
    has_wiki: bool,
    external_wiki: Option<()>,
    has_pull_requests: bool,
    has_projects: bool,
    projects_mode: &'static str,
    has_releases: bool,
    has_packages: bool,
    has_actions: bool,
    ignore_whitespace_conflicts: bool,
    allow_merge_commits: bool,
    allow_rebase: bool,
    allow_rebase_explicit: bool,
    allow_squash_merge: bool,
    allow_fast_forward_only_merge: bool,
    allow_rebase_update: bool,
    default_delete_branch_after_merge: bool,
    default_merge_style: &'static str,
    default_allow_maintainer_edit: bool,
    avatar_url: String,
    internal: bool,
    mirror_interval: String,
    object_format_name: &'static str,
    mirror_updated: &'static str,
    repo_transfer: Option<()>,
}

fn time_or(t: Option<OffsetDateTime>, zero: &str) -> String {
    t.map_or_else(|| zero.to_owned(), rfc3339)
}

/// `view` as its caller (`viewer`) sees it.
pub fn repository_json(config: &Config, view: &RepoView, viewer: Option<&Actor>) -> ApiRepository {
    let repo = &view.repo;
    let full_name = repo.full_name();
    ApiRepository {
        id: repo.id,
        owner: user_json(config, &view.owner, viewer),
        name: repo.name.clone(),
        full_name: full_name.clone(),
        description: repo.description.clone(),
        empty: view.facts.empty,
        private: repo.is_private,
        fork: false,
        template: false,
        parent: None,
        mirror: view.mirror,
        size: view.facts.size_kib,
        language: String::new(),
        languages_url: format!("{}/api/v1/repos/{full_name}/languages", config.base_url),
        html_url: format!("{}/{full_name}", config.base_url),
        url: format!("{}/api/v1/repos/{full_name}", config.base_url),
        link: String::new(),
        ssh_url: config.ssh_clone_url(&repo.owner, &repo.name),
        clone_url: config.http_clone_url(&repo.owner, &repo.name),
        original_url: String::new(),
        website: String::new(),
        stars_count: 0,
        forks_count: 0,
        watchers_count: 0,
        open_issues_count: repo.open_issues.unwrap_or(view.open_issues),
        open_pr_counter: 0,
        release_counter: 0,
        default_branch: repo.default_branch.clone(),
        archived: repo.is_archived,
        created_at: rfc3339(view.created_at),
        updated_at: rfc3339(view.updated_at),
        archived_at: time_or(view.archived_at, UNIX_ZERO),
        permissions: Permission::of(view.level),
        has_issues: true,
        internal_tracker: InternalTracker {
            enable_time_tracker: false,
            allow_only_contributors_to_track_time: false,
            enable_issue_dependencies: false,
        },
        external_tracker: None,
        has_wiki: false,
        external_wiki: None,
        has_pull_requests: false,
        has_projects: false,
        projects_mode: "all",
        has_releases: false,
        has_packages: false,
        has_actions: false,
        ignore_whitespace_conflicts: false,
        allow_merge_commits: false,
        allow_rebase: false,
        allow_rebase_explicit: false,
        allow_squash_merge: false,
        allow_fast_forward_only_merge: false,
        allow_rebase_update: false,
        default_delete_branch_after_merge: false,
        default_merge_style: "merge",
        default_allow_maintainer_edit: false,
        avatar_url: String::new(),
        internal: false,
        mirror_interval: String::new(),
        object_format_name: "sha1",
        mirror_updated: GO_ZERO_TIME,
        repo_transfer: None,
    }
}
