//! `/OWNER/REPO/settings`, for the repository's admins only (anyone else gets a 404, as for a
//! repository they cannot see): one page per section, beside a side nav (General, Collaborators,
//! Protected branches, Webhooks, Mirrors, and the danger zone with delete), so no page is a
//! 3,000 px scroll and each loads only its own section's rows. Each section's forms post to
//! its own address, which answers GET with the section.

use crate::routes::{Need, Routes};
use crate::web::form::Form;
use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{RepoHeader, message_or_error, render};
use crate::domain::Collaborator;
use crate::domain::push::BranchRule;
use crate::model::CheckName;
use crate::model::{Repo, RepoAccess, RepoName, RepoPath, Username};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{CsrfForm, Nav, RequireUser};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/{owner}/{repo}/settings", Need::ADMIN, show_settings)
        .post("/{owner}/{repo}/settings", Need::ADMIN, update_settings)
        .get(
            "/{owner}/{repo}/settings/collaborators",
            Need::ADMIN,
            show_collaborators,
        )
        .post(
            "/{owner}/{repo}/settings/collaborators",
            Need::ADMIN,
            add_collaborator,
        )
        .post(
            "/{owner}/{repo}/settings/collaborators/{user}/remove",
            Need::ADMIN,
            remove_collaborator,
        )
        .get(
            "/{owner}/{repo}/settings/delete",
            Need::ADMIN,
            show_danger_zone,
        )
        .post(
            "/{owner}/{repo}/settings/delete",
            Need::ADMIN,
            delete_repository,
        )
        .get(
            "/{owner}/{repo}/settings/branches",
            Need::ADMIN,
            show_branches,
        )
        .post(
            "/{owner}/{repo}/settings/branches",
            Need::ADMIN,
            protect_branch,
        )
        .post(
            "/{owner}/{repo}/settings/branches/{id}/remove",
            Need::ADMIN,
            unprotect_branch,
        )
}

pub(super) async fn admin_repo(
    st: &WebState,
    user: &RequireUser,
    owner: &str,
    name: &str,
) -> Result<Repo, WebError> {
    let path = RepoPath {
        owner: Username::parse(owner)?,
        name: RepoName::parse_url_segment(name)?,
    };
    Ok(st
        .forge
        .authorize_repo(Some(&user.0.actor), &path, RepoAccess::Admin)
        .await?)
}

/// A section of the settings, each its own page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    General,
    Collaborators,
    Branches,
    Webhooks,
    Mirrors,
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
    hooks: Vec<super::repo_hooks::HookView>,
    mirrors: Vec<super::repo_mirrors::MirrorView>,
    pull: Option<super::repo_mirrors::PullView>,
}

/// One section's page (with `message` on top, after a form): only that section's rows are read.
pub(super) async fn settings_page(
    st: &WebState,
    user: &RequireUser,
    repo: &Repo,
    section: Section,
    message: String,
) -> Result<Response, WebError> {
    let mut page = SettingsPage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "settings",
        section: section.slug(),
        message,
        collaborators: Vec::new(),
        rules: Vec::new(),
        hooks: Vec::new(),
        mirrors: Vec::new(),
        pull: None,
    };
    match section {
        Section::Collaborators => page.collaborators = st.forge.collaborators(repo).await?,
        Section::Branches => page.rules = st.forge.branch_rules(repo).await?,
        Section::Webhooks => {
            let hooks = st.forge.webhooks(repo).await?;
            page.hooks = hooks.iter().map(super::repo_hooks::HookView::new).collect();
        }
        Section::Mirrors => {
            let (mirrors, pull) =
                tokio::try_join!(st.forge.push_mirrors(repo), st.forge.pull_mirror(repo))?;
            page.mirrors = mirrors
                .iter()
                .map(super::repo_mirrors::MirrorView::new)
                .collect();
            page.pull = pull.as_ref().map(super::repo_mirrors::PullView::new);
        }
        Section::General | Section::Danger => {}
    }
    render(page)
}

/// GET of a section's page.
pub(super) async fn show_section(
    st: &WebState,
    user: &RequireUser,
    owner: &str,
    name: &str,
    section: Section,
) -> Result<Response, WebError> {
    let repo = admin_repo(st, user, owner, name).await?;
    settings_page(st, user, &repo, section, String::new()).await
}

async fn show_settings(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_section(&st, &user, &owner, &name, Section::General).await
}

async fn show_collaborators(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_section(&st, &user, &owner, &name, Section::Collaborators).await
}

async fn show_branches(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_section(&st, &user, &owner, &name, Section::Branches).await
}

async fn show_danger_zone(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_section(&st, &user, &owner, &name, Section::Danger).await
}

#[derive(Deserialize)]
struct GeneralForm {
    csrf: String,
    description: String,
    default_branch: String,
    private: Option<String>,
}

async fn update_settings(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<GeneralForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    let message = match st
        .forge
        .update_repo(
            &repo,
            &form.description,
            form.private.is_some(),
            &form.default_branch,
        )
        .await
    {
        Ok(()) => "Saved.".to_owned(),
        Err(e) => message_or_error(e)?,
    };
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    settings_page(&st, &user, &repo, Section::General, message).await
}

#[derive(Deserialize)]
struct CollaboratorForm {
    csrf: String,
    user: String,
    access: String,
}

async fn add_collaborator(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<CollaboratorForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    let access: RepoAccess = form.access.parse().map_err(WebError::BadRequest)?;
    let message = match Username::parse(form.user.trim()) {
        Err(e) => e.to_string(),
        Ok(who) => match st.forge.add_collaborator(&repo, &who, access).await {
            Ok(()) => format!("{who} now has {access} access."),
            Err(e) => message_or_error(e)?,
        },
    };
    settings_page(&st, &user, &repo, Section::Collaborators, message).await
}

async fn remove_collaborator(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, who)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    st.forge
        .remove_collaborator(&repo, &Username::parse(&who)?)
        .await?;
    Ok(Redirect::to(&Section::Collaborators.url(&repo)).into_response())
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: String,
    confirm: String,
}

async fn delete_repository(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    if form.confirm.trim() != repo.full_name() {
        let message = format!("Type {} exactly to delete it.", repo.full_name());
        return settings_page(&st, &user, &repo, Section::Danger, message).await;
    }
    st.forge.delete_repo(&repo).await?;
    Ok(Redirect::to(&format!("/{}", repo.owner)).into_response())
}

#[derive(Deserialize)]
struct ProtectForm {
    csrf: String,
    pattern: String,
    admins_only: Option<String>,
    /// Check names, separated by commas or spaces.
    required_checks: Option<String>,
}

async fn protect_branch(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<ProtectForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    let checks: Result<Vec<CheckName>, _> = form
        .required_checks
        .as_deref()
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|c| !c.is_empty())
        .map(CheckName::parse)
        .collect();
    let done = match checks {
        Ok(checks) => {
            st.forge
                .protect_branch_requiring(&repo, &form.pattern, form.admins_only.is_some(), &checks)
                .await
        }
        Err(e) => Err(e.into()),
    };
    let message = match done {
        Ok(()) => format!("Branches matching {} are protected.", form.pattern.trim()),
        Err(e) => message_or_error(e)?,
    };
    settings_page(&st, &user, &repo, Section::Branches, message).await
}

async fn unprotect_branch(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    st.forge.unprotect_branch(&repo, id).await?;
    Ok(Redirect::to(&Section::Branches.url(&repo)).into_response())
}
