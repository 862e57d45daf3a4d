//! `/OWNER/REPO/settings`, for the repository's admins only (anyone else gets a 404, as for a
//! repository they cannot see): one page per section, beside a side nav (General, Collaborators,
//! Protected branches, Webhooks, Mirrors, and the danger zone with delete), so no page is a
//! 3,000 px scroll and each loads only its own section's rows. Each section's forms post to
//! its own address, which answers GET with the section.

use crate::routes::{Need, Routes};
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::message_or_error;
use super::settings_frame::{Section, settings_page, show_section};
use crate::domain::Admin;
use crate::model::{CheckName, RepoAccess, RepoPath, Username};
use crate::web::WebState;
use crate::web::access::{Id, RepoForm, RepoPage};
use crate::web::error::WebError;
use crate::web::session::CsrfForm;

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

async fn show_settings(
    State(st): State<WebState>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    show_section(&st, page, Section::General).await
}

async fn show_collaborators(
    State(st): State<WebState>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    show_section(&st, page, Section::Collaborators).await
}

async fn show_branches(
    State(st): State<WebState>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    show_section(&st, page, Section::Branches).await
}

async fn show_danger_zone(
    State(st): State<WebState>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    show_section(&st, page, Section::Danger).await
}

#[derive(Deserialize)]
struct GeneralForm {
    description: String,
    default_branch: String,
    private: Option<String>,
    /// Archived: read-only until unchecked (the API's `archived`).
    archived: Option<String>,
}

async fn update_settings(
    State(st): State<WebState>,
    RepoForm { grant, user, form }: RepoForm<Admin, GeneralForm>,
) -> Result<Response, WebError> {
    let message = match st
        .forge
        .update_repo(
            &grant,
            &form.description,
            form.private.is_some(),
            &form.default_branch,
        )
        .await
    {
        Ok(()) => match st.forge.set_archived(&grant, form.archived.is_some()).await {
            Ok(()) => "Saved.".to_owned(),
            Err(e) => message_or_error(e)?,
        },
        Err(e) => message_or_error(e)?,
    };
    // The page shows the settings as saved: the row is read (and the access decided) again.
    let path = RepoPath::parse(&grant.repo().full_name())?;
    let grant = st
        .forge
        .authorize::<Admin>(Some(&user.0.actor), &path)
        .await?;
    settings_page(&st, user.nav(), &grant, Section::General, message).await
}

#[derive(Deserialize)]
struct CollaboratorForm {
    user: String,
    access: String,
}

async fn add_collaborator(
    State(st): State<WebState>,
    RepoForm { grant, user, form }: RepoForm<Admin, CollaboratorForm>,
) -> Result<Response, WebError> {
    let access: RepoAccess = form.access.parse().map_err(WebError::BadRequest)?;
    let message = match Username::parse(form.user.trim()) {
        Err(e) => e.to_string(),
        Ok(who) => match st.forge.add_collaborator(&grant, &who, access).await {
            Ok(()) => format!("{who} now has {access} access."),
            Err(e) => message_or_error(e)?,
        },
    };
    settings_page(&st, user.nav(), &grant, Section::Collaborators, message).await
}

/// The collaborator named in `/settings/collaborators/{user}/remove`.
#[derive(Deserialize)]
struct Who {
    user: String,
}

async fn remove_collaborator(
    State(st): State<WebState>,
    Path(Who { user: who }): Path<Who>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    st.forge
        .remove_collaborator(&grant, &Username::parse(&who)?)
        .await?;
    Ok(Redirect::to(&Section::Collaborators.url(grant.repo())).into_response())
}

#[derive(Deserialize)]
struct DeleteForm {
    confirm: String,
}

async fn delete_repository(
    State(st): State<WebState>,
    RepoForm { grant, user, form }: RepoForm<Admin, DeleteForm>,
) -> Result<Response, WebError> {
    let name = grant.repo().full_name();
    if form.confirm.trim() != name {
        let message = format!("Type {name} exactly to delete it.");
        return settings_page(&st, user.nav(), &grant, Section::Danger, message).await;
    }
    let owner = grant.repo().owner.clone();
    st.forge.delete_repo(grant).await?;
    Ok(Redirect::to(&format!("/{owner}")).into_response())
}

#[derive(Deserialize)]
struct ProtectForm {
    pattern: String,
    admins_only: Option<String>,
    /// Check names, separated by commas or spaces.
    required_checks: Option<String>,
}

async fn protect_branch(
    State(st): State<WebState>,
    RepoForm { grant, user, form }: RepoForm<Admin, ProtectForm>,
) -> Result<Response, WebError> {
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
                .protect_branch_requiring(
                    &grant,
                    &form.pattern,
                    form.admins_only.is_some(),
                    &checks,
                )
                .await
        }
        Err(e) => Err(e.into()),
    };
    let message = match done {
        Ok(()) => format!("Branches matching {} are protected.", form.pattern.trim()),
        Err(e) => message_or_error(e)?,
    };
    settings_page(&st, user.nav(), &grant, Section::Branches, message).await
}

async fn unprotect_branch(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    st.forge.unprotect_branch(&grant, id).await?;
    Ok(Redirect::to(&Section::Branches.url(grant.repo())).into_response())
}
