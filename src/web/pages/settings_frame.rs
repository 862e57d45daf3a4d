//! The frame every section of `/OWNER/REPO/settings` shares: the side nav's sections, the one
//! page template with each section's rows, and the views of hooks and mirrors it lists. The
//! section modules (`repo_settings`, `repo_hooks`, `repo_mirrors`) import this; it imports none
//! of them, so the settings pages have no import circle.

use askama::Template;
use axum::response::Response;

use super::{RepoHeader, render};
use crate::domain::push::BranchRule;
use crate::domain::{Admin, Collaborator, DeployKey, Grant};
use crate::model::{
    MirrorScope, MirrorTransport, PullMirror, PushMirror, Repo, Webhook, WebhookEventKind,
};
use crate::web::WebState;
use crate::web::access::RepoPage;
use crate::web::error::WebError;
use crate::web::session::Nav;
use crate::web::view::When;

/// A section of the settings, each its own page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    General,
    Collaborators,
    Branches,
    Webhooks,
    Mirrors,
    DeployKeys,
    /// Delete (the "danger zone").
    Danger,
}

impl Section {
    /// The template's name for it, and the last segment of its address.
    fn slug(self) -> &'static str {
        match self {
            Section::General => "general",
            Section::Collaborators => "collaborators",
            Section::Branches => "branches",
            Section::Webhooks => "hooks",
            Section::Mirrors => "mirrors",
            Section::DeployKeys => "deploy-keys",
            Section::Danger => "delete",
        }
    }

    /// Its page, where its forms post and removals come back to.
    pub(super) fn url(self, repo: &Repo) -> String {
        match self {
            Section::General => format!("/{}/{}/settings", repo.owner, repo.name),
            other => format!("/{}/{}/settings/{}", repo.owner, repo.name, other.slug()),
        }
    }
}

#[derive(Template)]
#[template(path = "repo/settings.html")]
struct SettingsPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    /// `Section::slug` of the section shown.
    section: &'static str,
    message: String,
    collaborators: Vec<Collaborator>,
    rules: Vec<BranchRule>,
    hooks: Vec<HookView>,
    mirrors: Vec<MirrorView>,
    pull: Option<PullView>,
    deploy_keys: Vec<DeployKeyView>,
}

/// One section's page (with `message` on top, after a form): only that section's rows are read.
pub(super) async fn settings_page(
    st: &WebState,
    nav: Nav,
    grant: &Grant<Admin>,
    section: Section,
    message: String,
) -> Result<Response, WebError> {
    let repo = grant.repo();
    let mut page = SettingsPage {
        nav,
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "settings",
        section: section.slug(),
        message,
        collaborators: Vec::new(),
        rules: Vec::new(),
        hooks: Vec::new(),
        mirrors: Vec::new(),
        pull: None,
        deploy_keys: Vec::new(),
    };
    match section {
        Section::Collaborators => page.collaborators = st.forge.collaborators(grant).await?,
        Section::Branches => page.rules = st.forge.branch_rules(grant).await?,
        Section::Webhooks => {
            let hooks = st.forge.webhooks(grant).await?;
            page.hooks = hooks.iter().map(HookView::new).collect();
        }
        Section::Mirrors => {
            let (mirrors, pull) =
                tokio::try_join!(st.forge.push_mirrors(grant), st.forge.pull_mirror(grant))?;
            page.mirrors = mirrors.iter().map(MirrorView::new).collect();
            page.pull = pull.as_ref().map(PullView::new);
        }
        Section::DeployKeys => {
            let keys = st.forge.deploy_keys(grant).await?;
            page.deploy_keys = keys.iter().map(DeployKeyView::new).collect();
        }
        Section::General | Section::Danger => {}
    }
    render(page)
}

/// GET of a section's page.
pub(super) async fn show_section(
    st: &WebState,
    page: RepoPage<Admin>,
    section: Section,
) -> Result<Response, WebError> {
    settings_page(st, page.nav(), &page.grant, section, String::new()).await
}

/// A deploy key as the settings list shows it.
pub struct DeployKeyView {
    pub id: i64,
    pub title: String,
    pub fingerprint: String,
    pub access: &'static str,
    pub added: When,
    pub last_used: Option<When>,
}

impl DeployKeyView {
    fn new(k: &DeployKey) -> Self {
        DeployKeyView {
            id: k.id,
            title: k.title.clone(),
            fingerprint: k.fingerprint.clone(),
            access: if k.read_only {
                "read-only"
            } else {
                "read-write"
            },
            added: When::at(k.created_at),
            last_used: k.last_used_at.map(When::at),
        }
    }
}

/// A hook as the settings list and its page show it.
pub struct HookView {
    pub id: i64,
    pub url: String,
    pub content_type: &'static str,
    pub events: String,
    pub branch_filter: String,
    pub active: bool,
    pub has_secret: bool,
    pub push: bool,
    pub deploy: bool,
    pub issues: bool,
    pub issue_comment: bool,
    pub status: bool,
}

impl HookView {
    pub fn new(h: &Webhook) -> Self {
        let has = |k| h.events.contains(&k);
        HookView {
            id: h.id,
            url: h.url.clone(),
            content_type: h.content_type.as_str(),
            events: h
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            branch_filter: h.branch_filter.clone(),
            active: h.active,
            has_secret: h.has_secret(),
            push: has(WebhookEventKind::Push),
            deploy: has(WebhookEventKind::Deploy),
            issues: has(WebhookEventKind::Issues),
            issue_comment: has(WebhookEventKind::IssueComment),
            status: has(WebhookEventKind::Status),
        }
    }
}

/// The pull mirror this repository is, as the settings page shows it.
pub struct PullView {
    pub url: String,
    pub interval: String,
    pub state: &'static str,
    pub last_success: Option<When>,
    pub next_sync: When,
    pub last_error: String,
}

impl PullView {
    pub fn new(m: &PullMirror) -> Self {
        Self {
            url: m.remote_url.clone(),
            interval: format!("{} min", m.interval.as_secs() / 60),
            state: if m.syncing { "syncing" } else { "idle" },
            last_success: m.last_success_at.map(When::at),
            next_sync: When::at(m.next_sync_at),
            last_error: m.last_error.clone(),
        }
    }
}

/// A mirror as the settings page shows it (never a secret).
pub struct MirrorView {
    pub id: i64,
    pub url: String,
    pub ssh: bool,
    pub username: String,
    pub public_key: String,
    pub host_key: String,
    pub scope: &'static str,
    pub state: &'static str,
    pub last_success: Option<When>,
    pub last_error: String,
}

impl MirrorView {
    pub fn new(m: &PushMirror) -> Self {
        let state = if m.syncing {
            "syncing"
        } else if m.sync_wanted && m.failures > 0 {
            "retrying"
        } else if m.sync_wanted {
            "queued"
        } else if m.failures > 0 {
            "stopped"
        } else {
            "idle"
        };
        Self {
            id: m.id,
            url: m.remote_url.clone(),
            ssh: m.transport == MirrorTransport::Ssh,
            username: m.username.clone(),
            public_key: m.public_key.clone(),
            host_key: m.host_key.clone().unwrap_or_default(),
            scope: match m.scope {
                MirrorScope::Mirror => "every ref (mirror)",
                MirrorScope::Branches => "branches and tags",
            },
            state,
            last_success: m.last_success_at.map(When::at),
            last_error: m.last_error.clone(),
        }
    }
}
