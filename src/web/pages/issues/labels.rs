//! `/OWNER/REPO/labels`: everyone who can read sees them; writers create, edit and delete.

use crate::web::form::Form;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{LabelView, form_message, issue_access};
use crate::domain::IssueAccess;
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::pages::{RepoHeader, render};
use crate::web::session::{CsrfForm, MaybeUser, Nav, RequireUser};

#[derive(Template)]
#[template(path = "repo/issues/labels.html")]
struct LabelsPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    labels: Vec<LabelView>,
    can_manage: bool,
    message: String,
}

async fn labels_page(
    st: &WebState,
    nav: Nav,
    who: &IssueAccess,
    message: String,
) -> Result<Response, WebError> {
    let labels = st.forge.labels(&who.repo).await?;
    render(LabelsPage {
        nav,
        repo: RepoHeader::new(&who.repo, &who.repo.default_branch),
        tab: "issues",
        labels: labels.iter().map(LabelView::from).collect(),
        can_manage: who.can_triage(),
        message,
    })
}

pub(super) async fn show_labels(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let who = issue_access(&st, user.actor(), &owner, &name).await?;
    labels_page(&st, user.nav(), &who, String::new()).await
}

#[derive(Deserialize)]
pub(super) struct LabelForm {
    csrf: String,
    name: String,
    color: String,
    #[serde(default)]
    description: String,
}

fn back(who: &IssueAccess) -> Response {
    Redirect::to(&format!("/{}/{}/labels", who.repo.owner, who.repo.name)).into_response()
}

/// A refusal is a 403; bad input or a taken name is shown on the page.
async fn after(
    st: &WebState,
    user: &RequireUser,
    who: &IssueAccess,
    result: crate::domain::Result<()>,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(back(who)),
        Err(e) => labels_page(st, user.nav(), who, form_message(e)?).await,
    }
}

pub(super) async fn create_label(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<LabelForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let who = issue_access(&st, Some(&user.0.actor), &owner, &name).await?;
    let result = st
        .forge
        .create_label(&who, &form.name, &form.color, &form.description)
        .await
        .map(|_| ());
    after(&st, &user, &who, result).await
}

pub(super) async fn update_label(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
    Form(form): Form<LabelForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let who = issue_access(&st, Some(&user.0.actor), &owner, &name).await?;
    let result = st
        .forge
        .update_label(&who, id, &form.name, &form.color, &form.description)
        .await;
    after(&st, &user, &who, result).await
}

pub(super) async fn delete_label(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let who = issue_access(&st, Some(&user.0.actor), &owner, &name).await?;
    let result = st.forge.delete_label(&who, id).await;
    after(&st, &user, &who, result).await
}
