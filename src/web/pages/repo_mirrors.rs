//! The Mirrors section of the settings, `/OWNER/REPO/settings/mirrors`: add a push mirror (SSH
//! with a key made here, or HTTPS with a user name and token), sync now, remove; each mirror's
//! last success and last error.

use crate::routes::{Need, Routes};
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::message_or_error;
use super::settings_frame::{Section, settings_page, show_section};
use crate::domain::Admin;
use crate::domain::mirrors::NewMirrorAuth;
use crate::model::{MirrorScope, MirrorTransport};
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
            "/{owner}/{repo}/settings/mirrors",
            Need::ADMIN,
            show_mirrors,
        )
        .post("/{owner}/{repo}/settings/mirrors", Need::ADMIN, add_mirror)
        .post(
            "/{owner}/{repo}/settings/mirrors/{id}/sync",
            Need::ADMIN,
            sync_mirror,
        )
        .post(
            "/{owner}/{repo}/settings/mirrors/{id}/remove",
            Need::ADMIN,
            remove_mirror,
        )
        .post(
            "/{owner}/{repo}/settings/pull-mirror/sync",
            Need::ADMIN,
            sync_pull_mirror,
        )
}

/// The Mirrors section of the settings: the pull mirror this repository is, if any, and its
/// push mirrors with the add form.
async fn show_mirrors(
    State(st): State<WebState>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    show_section(&st, page, Section::Mirrors).await
}

async fn sync_pull_mirror(
    State(st): State<WebState>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    st.forge.sync_pull_mirror_now(&grant).await?;
    let back = Section::Mirrors.url(grant.repo());
    Ok(Redirect::to(&format!("{back}#pull-mirror")).into_response())
}

#[derive(Deserialize)]
struct MirrorForm {
    url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    token: String,
    scope: String,
}

async fn add_mirror(
    State(st): State<WebState>,
    RepoForm { grant, user, form }: RepoForm<Admin, MirrorForm>,
) -> Result<Response, WebError> {
    let url = form.url.trim();
    let auth = if url.starts_with("https://") || url.starts_with("http://") {
        NewMirrorAuth::Https {
            username: form.username.trim().to_owned(),
            token: form.token.trim().to_owned(),
        }
    } else {
        NewMirrorAuth::Ssh
    };
    let scope = MirrorScope::parse(&form.scope).unwrap_or(MirrorScope::Mirror);
    let message = match st
        .forge
        .add_push_mirror(&grant, url, auth, scope, true)
        .await
    {
        Ok(m) if m.transport == MirrorTransport::Ssh => "Mirror added. Add its public key on \
            the far side (below); the first sync pins the far side's host key."
            .to_owned(),
        Ok(_) => "Mirror added; its first sync is queued.".to_owned(),
        Err(e) => message_or_error(e)?,
    };
    settings_page(&st, user.nav(), &grant, Section::Mirrors, message).await
}

async fn sync_mirror(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    st.forge.sync_push_mirrors_now(&grant, Some(id)).await?;
    Ok(Redirect::to(&Section::Mirrors.url(grant.repo())).into_response())
}

async fn remove_mirror(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    st.forge.remove_push_mirror(&grant, id).await?;
    Ok(Redirect::to(&Section::Mirrors.url(grant.repo())).into_response())
}
