//! The Mirrors section of the settings, `/OWNER/REPO/settings/mirrors`: add a push mirror (SSH
//! with a key made here, or HTTPS with a user name and token), sync now, remove; each mirror's
//! last success and last error.

use crate::routes::{Need, Routes};
use axum::Form;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::message_or_error;
use super::repo_settings::{Section, admin_repo, settings_page, show_section};
use crate::domain::mirrors::NewMirrorAuth;
use crate::model::{MirrorScope, MirrorTransport, PullMirror, PushMirror};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{CsrfForm, RequireUser};
use crate::web::view::When;

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

/// The Mirrors section of the settings: the pull mirror this repository is, if any, and its
/// push mirrors with the add form.
async fn show_mirrors(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_section(&st, &user, &owner, &name, Section::Mirrors).await
}

async fn sync_pull_mirror(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    st.forge.sync_pull_mirror_now(&repo).await?;
    Ok(Redirect::to(&format!("{}#pull-mirror", Section::Mirrors.url(&repo))).into_response())
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

#[derive(Deserialize)]
struct MirrorForm {
    csrf: String,
    url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    token: String,
    scope: String,
}

async fn add_mirror(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<MirrorForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
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
        .add_push_mirror(&repo, url, auth, scope, true)
        .await
    {
        Ok(m) if m.transport == MirrorTransport::Ssh => "Mirror added. Add its public key on \
            the far side (below); the first sync pins the far side's host key."
            .to_owned(),
        Ok(_) => "Mirror added; its first sync is queued.".to_owned(),
        Err(e) => message_or_error(e)?,
    };
    settings_page(&st, &user, &repo, Section::Mirrors, message).await
}

async fn sync_mirror(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    st.forge.sync_push_mirrors_now(&repo, Some(id)).await?;
    Ok(Redirect::to(&Section::Mirrors.url(&repo)).into_response())
}

async fn remove_mirror(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    st.forge.remove_push_mirror(&repo, id).await?;
    Ok(Redirect::to(&Section::Mirrors.url(&repo)).into_response())
}
