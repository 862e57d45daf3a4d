//! Webhooks in the repository's settings, for its admins: the list and the add form on
//! `/OWNER/REPO/settings/hooks` (a section of `repo_settings.rs`), and `/OWNER/REPO/settings/hooks/{id}` with
//! the hook's settings and its deliveries, each with what was sent and received and a redeliver
//! button.

use crate::routes::{Need, Routes};
use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::settings_frame::{HookView, Section, settings_page, show_section};
use super::{RepoHeader, message_or_error, render};
use crate::domain::webhooks::{Delivery, WebhookSettings};
use crate::domain::{Admin, Grant};
use crate::model::{ContentType, Repo, WebhookEventKind};
use crate::web::WebState;
use crate::web::access::{RepoForm, RepoPage};
use crate::web::error::WebError;
use crate::web::session::{CsrfForm, Nav};

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
    nav: Nav,
    grant: &Grant<Admin>,
    id: i64,
    message: String,
) -> Result<Response, WebError> {
    let repo = grant.repo();
    let hook = st.forge.webhook(grant, id).await?;
    let deliveries = st.forge.webhook_deliveries(grant, id).await?;
    render(HookPage {
        nav,
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

/// The hook in `/settings/hooks/{id}/…`: a number, else a 404 (as for another repository's).
#[derive(Deserialize)]
struct HookId {
    id: String,
}

/// A delivery of that hook, `/settings/hooks/{id}/deliveries/{delivery}/…`.
#[derive(Deserialize)]
struct DeliveryId {
    id: String,
    delivery: String,
}

async fn create_hook(
    State(st): State<WebState>,
    RepoForm { grant, user, form }: RepoForm<Admin, HookForm>,
) -> Result<Response, WebError> {
    let settings = match form.settings(false) {
        Ok(s) => s,
        Err(why) => return settings_page(&st, user.nav(), &grant, Section::Webhooks, why).await,
    };
    match st.forge.create_webhook(&grant, settings).await {
        Ok(hook) => Ok(Redirect::to(&hook_url(grant.repo(), hook.id)).into_response()),
        Err(e) => {
            let message = message_or_error(e)?;
            settings_page(&st, user.nav(), &grant, Section::Webhooks, message).await
        }
    }
}

/// The Webhooks section of the settings: the list and the add form.
async fn show_hooks(
    State(st): State<WebState>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    show_section(&st, page, Section::Webhooks).await
}

async fn show_hook(
    State(st): State<WebState>,
    Path(HookId { id }): Path<HookId>,
    page: RepoPage<Admin>,
) -> Result<Response, WebError> {
    hook_page(&st, page.nav(), &page.grant, id_of(&id)?, String::new()).await
}

async fn update_hook(
    State(st): State<WebState>,
    Path(HookId { id }): Path<HookId>,
    RepoForm { grant, user, form }: RepoForm<Admin, HookForm>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    let message = match form.settings(true) {
        Err(why) => why,
        Ok(settings) => match st.forge.update_webhook(&grant, id, settings).await {
            Ok(_) => "Saved.".to_owned(),
            Err(e) => message_or_error(e)?,
        },
    };
    hook_page(&st, user.nav(), &grant, id, message).await
}

async fn delete_hook(
    State(st): State<WebState>,
    Path(HookId { id }): Path<HookId>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    st.forge.delete_webhook(&grant, id_of(&id)?).await?;
    Ok(Redirect::to(&Section::Webhooks.url(grant.repo())).into_response())
}

async fn test_hook(
    State(st): State<WebState>,
    Path(HookId { id }): Path<HookId>,
    RepoForm { grant, user, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    let sender = st.forge.webhook_sender(&user.0.actor.user);
    let message = match st.forge.test_webhook(&grant, id, &sender).await {
        Ok(_) => "A test push delivery is queued.".to_owned(),
        Err(e) => message_or_error(e)?,
    };
    hook_page(&st, user.nav(), &grant, id, message).await
}

async fn redeliver(
    State(st): State<WebState>,
    Path(DeliveryId { id, delivery }): Path<DeliveryId>,
    RepoForm { grant, .. }: RepoForm<Admin, CsrfForm>,
) -> Result<Response, WebError> {
    let id = id_of(&id)?;
    st.forge
        .redeliver_webhook(&grant, id, id_of(&delivery)?)
        .await?;
    Ok(Redirect::to(&hook_url(grant.repo(), id)).into_response())
}
