//! `/OWNER/REPO/labels`: everyone who can read sees them; writers create, edit and delete.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{LabelView, form_message, refused};
use crate::domain::{Grant, IssueRules, Level, Read};
use crate::web::WebState;
use crate::web::access::{Id, RepoForm, RepoPage};
use crate::web::error::WebError;
use crate::web::pages::{RepoHeader, render};
use crate::web::session::{Nav, RequireUser};

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

async fn labels_page<L: Level>(
    st: &WebState,
    nav: Nav,
    who: &Grant<L>,
    message: String,
) -> Result<Response, WebError> {
    let labels = st.forge.labels(who).await?;
    render(LabelsPage {
        nav,
        repo: RepoHeader::new(who.repo(), &who.repo().default_branch),
        tab: "issues",
        labels: labels.iter().map(LabelView::from).collect(),
        can_manage: who.can_triage(),
        message,
    })
}

pub(super) async fn show_labels(
    State(st): State<WebState>,
    page: RepoPage,
) -> Result<Response, WebError> {
    labels_page(&st, page.nav(), &page.grant, String::new()).await
}

#[derive(Deserialize)]
pub(super) struct LabelForm {
    name: String,
    color: String,
    #[serde(default)]
    description: String,
}

/// An empty form (the delete button's: its CSRF token is checked by `RepoForm`).
#[derive(Deserialize)]
pub(super) struct NoFields {}

fn back<L: Level>(who: &Grant<L>) -> Response {
    let repo = who.repo();
    Redirect::to(&format!("/{}/{}/labels", repo.owner, repo.name)).into_response()
}

/// A refusal is a 403; bad input or a taken name is shown on the page.
async fn after<L: Level>(
    st: &WebState,
    user: &RequireUser,
    who: &Grant<L>,
    result: crate::domain::Result<()>,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(back(who)),
        Err(e) => labels_page(st, user.nav(), who, form_message(e)?).await,
    }
}

/// Managing labels is triage: the visitor's read grant becomes the write grant the domain's
/// label functions take, or the 403 that says why not.
pub(super) async fn create_label(
    State(st): State<WebState>,
    RepoForm {
        grant: who,
        user,
        form,
    }: RepoForm<Read, LabelForm>,
) -> Result<Response, WebError> {
    let writer = who.for_triage("manage labels").map_err(refused)?;
    let result = st
        .forge
        .create_label(&writer, &form.name, &form.color, &form.description)
        .await
        .map(|_| ());
    after(&st, &user, &who, result).await
}

pub(super) async fn update_label(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    RepoForm {
        grant: who,
        user,
        form,
    }: RepoForm<Read, LabelForm>,
) -> Result<Response, WebError> {
    let writer = who.for_triage("manage labels").map_err(refused)?;
    let result = st
        .forge
        .update_label(&writer, id, &form.name, &form.color, &form.description)
        .await;
    after(&st, &user, &who, result).await
}

pub(super) async fn delete_label(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    RepoForm {
        grant: who, user, ..
    }: RepoForm<Read, NoFields>,
) -> Result<Response, WebError> {
    let writer = who.for_triage("manage labels").map_err(refused)?;
    let result = st.forge.delete_label(&writer, id).await;
    after(&st, &user, &who, result).await
}
