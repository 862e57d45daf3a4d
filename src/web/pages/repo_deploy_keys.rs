//! Deploy keys in the repository's settings, for its admins: the list, the add form (title,
//! public key, read-only or read-write) and a remove button, on `/OWNER/REPO/settings/deploy-keys`
//! (a section of the settings frame).

use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::message_or_error;
use super::settings_frame::{Section, settings_page, show_section};
use crate::domain::Admin;
use crate::routes::{Need, Routes};
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
        .get(
            "/{owner}/{repo}/settings/deploy-keys",
            Need::ADMIN,
            show_deploy_keys,
        )
        .post(
            "/{owner}/{repo}/settings/deploy-keys",
            Need::ADMIN,
            add_deploy_key,
        )
        .post(
            "/{owner}/{repo}/settings/deploy-keys/{id}/remove",
            Need::ADMIN,
            remove_deploy_key,
        )
}

async fn show_deploy_keys(
    State(st): State<WebState>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    show_section(&st, page, Section::DeployKeys).await
}

#[derive(Deserialize)]
struct DeployKeyForm {
    title: String,
    key: String,
    /// The "read-write" box: absent means read-only, the safe default for GitOps pulls.
    write: Option<String>,
}

async fn add_deploy_key(
    State(st): State<WebState>,
    RepoForm { grant, user, form }: RepoForm<Admin, DeployKeyForm>,
) -> Result<Response, WebError> {
    let read_only = form.write.is_none();
    let message = match st
        .forge
        .add_deploy_key(&grant, &form.title, &form.key, read_only)
        .await
    {
        Ok(key) => {
            let access = if key.read_only {
                "read-only"
            } else {
                "read-write"
            };
            format!(
                "Deploy key {} ({access}) added: {}",
                key.title, key.fingerprint
            )
        }
        Err(e) => message_or_error(e)?,
    };
    settings_page(&st, user.nav(), &grant, Section::DeployKeys, message).await
}

async fn remove_deploy_key(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    st.forge.remove_deploy_key(&grant, id).await?;
    Ok(Redirect::to(&Section::DeployKeys.url(grant.repo())).into_response())
}
