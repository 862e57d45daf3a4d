//! Gitea's Repository object (`modules/structs/repo.go`, filled as `services/convert/repository.go`
//! fills it), every field the schema names. What labforge has no notion of (forks, stars,
//! pull requests, wikis, releases, merge styles) answers Gitea's value for a repository
//! without it, so clients that read those fields see "off", not an invented state.
//!
//! The owner is Gitea's User object, built by `src/api/convert/user.rs` (one rule for what a
//! caller sees of a user, wherever a User object appears).

use serde::Serialize;
use time::OffsetDateTime;

use crate::config::Config;
use crate::domain::repo_api::{RepoView, UserView};
use crate::domain::rfc3339;
use crate::model::{Actor, RepoAccess};

use super::user::{ApiUser, GO_ZERO_TIME, UNIX_ZERO_TIME};

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

/// `user` as `viewer` sees them: Gitea's User object, by `user.rs`'s one rule.
pub fn user_json(config: &Config, user: &UserView, viewer: Option<&Actor>) -> ApiUser {
    ApiUser::new(&config.base_url, &user.profile(), viewer.map(|a| &a.user))
}

/// Gitea's Repository object.
#[derive(Serialize)]
pub struct ApiRepository {
    id: i64,
    owner: ApiUser,
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

impl ApiRepository {
    /// Gitea's text for a pull mirror's interval (`8h0m0s`), which the view does not carry:
    /// `/repos/migrate` knows it, having just set it.
    pub fn with_mirror_interval(mut self, interval: String) -> Self {
        self.mirror_interval = interval;
        self
    }
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
        archived_at: time_or(view.archived_at, UNIX_ZERO_TIME),
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
