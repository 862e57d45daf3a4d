//! Webhooks in the repository's settings, for its admins: the list and the add form on
//! `/OWNER/REPO/settings/hooks` (a section of `repo_settings.rs`), and `/OWNER/REPO/settings/hooks/{id}` with
//! the hook's settings and its deliveries, each with what was sent and received and a redeliver
//! button.

use crate::routes::{Need, Routes};
use crate::web::form::Form;
use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::repo_settings::{Section, admin_repo, settings_page, show_section};
use super::{RepoHeader, message_or_error, render};
use crate::domain::webhooks::{Delivery, WebhookSettings};
use crate::model::{ContentType, Repo, Webhook, WebhookEventKind};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{CsrfForm, Nav, RequireUser};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/{owner}/{repo}/settings/hooks", Need::ADMIN, show_hooks)
        .post("/{owner}/{repo}/settings/hooks", Need::ADMIN, create_hook)
        .get(
            "/{owner}/{repo}/settings/hooks/{id}",
            Need::ADMIN,
            show_hook,
        )
        .post(
            "/{owner}/{repo}/settings/hooks/{id}",
            Need::ADMIN,
            update_hook,
        )
        .post(
            "/{owner}/{repo}/settings/hooks/{id}/delete",
            Need::ADMIN,
            delete_hook,
        )
        .post(
            "/{owner}/{repo}/settings/hooks/{id}/test",
            Need::ADMIN,
            test_hook,
        )
        .post(
            "/{owner}/{repo}/settings/hooks/{id}/deliveries/{delivery}/redeliver",
            Need::ADMIN,
            redeliver,
        )
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

struct DeliveryView {
    id: i64,
    event: String,
    guid: String,
    state: &'static str,
    attempts: i32,
    status: String,
    duration: String,
    time: String,
    next: String,
    error: String,
    redelivery_of: String,
    request_headers: String,
    payload: String,
    response_headers: String,
    response_body: String,
}

/// `2026-11-26 12:00:05 UTC`: deliveries seconds apart must be told apart.
fn when(t: time::OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&format).unwrap_or_default()
}

impl DeliveryView {
    fn new(d: Delivery) -> Self {
        let (state, next) = (d.state(), d.next_attempt());
        DeliveryView {
            id: d.id,
            event: if d.action.is_empty() {
                d.event
            } else {
                format!("{} ({})", d.event, d.action)
            },
            guid: d.guid,
            state: state.as_str(),
            attempts: d.attempts,
            status: d.response_status.map(|s| s.to_string()).unwrap_or_default(),
            duration: d
                .duration_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_default(),
            time: when(d.last_attempt_at.unwrap_or(d.created_at)),
            next: next.map(when).unwrap_or_default(),
            error: d.error,
            redelivery_of: d.redelivery_of.map(|i| i.to_string()).unwrap_or_default(),
            request_headers: d.request_headers,
            payload: d.payload,
            response_headers: d.response_headers,
            response_body: d.response_body,
        }
    }
}

#[derive(Template)]
#[template(path = "repo/hook.html")]
struct HookPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    message: String,
    hook: HookView,
    deliveries: Vec<DeliveryView>,
}

async fn hook_page(
    st: &WebState,
    user: &RequireUser,
    repo: &Repo,
    id: i64,
    message: String,
) -> Result<Response, WebError> {
    let hook = st.forge.webhook(repo, id).await?;
    let deliveries = st.forge.webhook_deliveries(repo, id).await?;
    render(HookPage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "settings",
        message,
        hook: HookView::new(&hook),
        deliveries: deliveries.into_iter().map(DeliveryView::new).collect(),
    })
}

/// The add and edit forms. Checkboxes are sent only when ticked.
#[derive(Deserialize)]
struct HookForm {
    csrf: String,
    url: String,
    #[serde(default)]
    secret: String,
    clear_secret: Option<String>,
    content_type: String,
    #[serde(default)]
    branch_filter: String,
    active: Option<String>,
    event_push: Option<String>,
    event_deploy: Option<String>,
    event_issues: Option<String>,
    event_issue_comment: Option<String>,
    event_status: Option<String>,
}

impl HookForm {
    /// On edit an empty secret keeps the current one unless "remove" is ticked.
    fn settings(&self, editing: bool) -> Result<WebhookSettings, String> {
        let events = [
            (&self.event_push, WebhookEventKind::Push),
            (&self.event_deploy, WebhookEventKind::Deploy),
            (&self.event_issues, WebhookEventKind::Issues),
            (&self.event_issue_comment, WebhookEventKind::IssueComment),
            (&self.event_status, WebhookEventKind::Status),
        ]
        .into_iter()
        .filter(|(on, _)| on.is_some())
        .map(|(_, k)| k)
        .collect();
        let secret = if self.clear_secret.is_some() {
            Some(String::new())
        } else if self.secret.is_empty() && editing {
            None
        } else {
            Some(self.secret.clone())
        };
        Ok(WebhookSettings {
            url: self.url.clone(),
            content_type: self.content_type.parse::<ContentType>()?,
            secret,
            events,
            branch_filter: self.branch_filter.clone(),
            active: self.active.is_some(),
        })
    }
}

fn id_of(s: &str) -> Result<i64, WebError> {
    s.parse().map_err(|_| WebError::NotFound)
}

fn hook_url(repo: &Repo, id: i64) -> String {
    format!("/{}/{}/settings/hooks/{id}", repo.owner, repo.name)
}

async fn create_hook(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<HookForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    let settings = match form.settings(false) {
        Ok(s) => s,
        Err(why) => return settings_page(&st, &user, &repo, Section::Webhooks, why).await,
    };
    match st.forge.create_webhook(&repo, settings).await {
        Ok(hook) => Ok(Redirect::to(&hook_url(&repo, hook.id)).into_response()),
        Err(e) => {
            let message = message_or_error(e)?;
            settings_page(&st, &user, &repo, Section::Webhooks, message).await
        }
    }
}

/// The Webhooks section of the settings: the list and the add form.
async fn show_hooks(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_section(&st, &user, &owner, &name, Section::Webhooks).await
}

async fn show_hook(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    hook_page(&st, &user, &repo, id_of(&id)?, String::new()).await
}

async fn update_hook(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, String)>,
    Form(form): Form<HookForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    let id = id_of(&id)?;
    let message = match form.settings(true) {
        Err(why) => why,
        Ok(settings) => match st.forge.update_webhook(&repo, id, settings).await {
            Ok(_) => "Saved.".to_owned(),
            Err(e) => message_or_error(e)?,
        },
    };
    hook_page(&st, &user, &repo, id, message).await
}

async fn delete_hook(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    st.forge.delete_webhook(&repo, id_of(&id)?).await?;
    Ok(Redirect::to(&Section::Webhooks.url(&repo)).into_response())
}

async fn test_hook(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    let id = id_of(&id)?;
    let hook = st.forge.webhook(&repo, id).await?;
    let sender = st.forge.webhook_sender(&user.0.actor.user);
    let message = match st.forge.test_webhook(&repo, &hook, &sender).await {
        Ok(_) => "A test push delivery is queued.".to_owned(),
        Err(e) => message_or_error(e)?,
    };
    hook_page(&st, &user, &repo, id, message).await
}

async fn redeliver(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id, delivery)): Path<(String, String, String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let repo = admin_repo(&st, &user, &owner, &name).await?;
    let id = id_of(&id)?;
    st.forge
        .redeliver_webhook(&repo, id, id_of(&delivery)?)
        .await?;
    Ok(Redirect::to(&hook_url(&repo, id)).into_response())
}
