//! `/repos/{owner}/{repo}/hooks`: webhooks in Gitea's API shape, for repository admins. The
//! secret goes in and never comes out. `.../deliveries` (list, redeliver) is labforge's own.

use crate::domain::rfc3339;
use crate::routes::{Need, Routes};
use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::access::ApiRepo;
use super::body::JsonBody;
use super::{ApiError, ApiState};
use crate::domain::Admin;
use crate::domain::webhooks::{Delivery, WebhookSettings};
use crate::model::{ContentType, Webhook, WebhookEventKind};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/repos/{owner}/{repo}/hooks", Need::ADMIN, list_hooks)
        .post("/repos/{owner}/{repo}/hooks", Need::ADMIN, create_hook)
        .get("/repos/{owner}/{repo}/hooks/{id}", Need::ADMIN, show_hook)
        .patch("/repos/{owner}/{repo}/hooks/{id}", Need::ADMIN, edit_hook)
        .delete("/repos/{owner}/{repo}/hooks/{id}", Need::ADMIN, delete_hook)
        .post(
            "/repos/{owner}/{repo}/hooks/{id}/tests",
            Need::ADMIN,
            test_hook,
        )
        .get(
            "/repos/{owner}/{repo}/hooks/{id}/deliveries",
            Need::ADMIN,
            list_deliveries,
        )
        .post(
            "/repos/{owner}/{repo}/hooks/{id}/deliveries/{delivery}/redeliver",
            Need::ADMIN,
            redeliver,
        )
}

#[derive(Serialize)]
struct HookConfig {
    url: String,
    content_type: &'static str,
}

/// Gitea's Hook object.
#[derive(Serialize)]
struct ApiHook {
    id: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    config: HookConfig,
    events: Vec<&'static str>,
    active: bool,
    branch_filter: String,
    authorization_header: &'static str,
    created_at: String,
    updated_at: String,
}

impl ApiHook {
    fn from_hook(h: &Webhook) -> Self {
        ApiHook {
            id: h.id,
            kind: "gitea",
            config: HookConfig {
                url: h.url.clone(),
                content_type: h.content_type.as_str(),
            },
            events: h.events.iter().map(|e| e.as_str()).collect(),
            active: h.active,
            branch_filter: h.branch_filter.clone(),
            authorization_header: "",
            created_at: rfc3339(h.created_at),
            updated_at: rfc3339(h.updated_at),
        }
    }
}

#[derive(Deserialize, Default)]
struct ConfigOption {
    url: Option<String>,
    content_type: Option<String>,
    secret: Option<String>,
}

#[derive(Deserialize)]
struct CreateHookOption {
    #[serde(rename = "type")]
    kind: Option<String>,
    config: ConfigOption,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    branch_filter: String,
    #[serde(default)]
    active: bool,
}

#[derive(Deserialize)]
struct EditHookOption {
    config: Option<ConfigOption>,
    events: Option<Vec<String>>,
    branch_filter: Option<String>,
    active: Option<bool>,
}

fn parse_events(names: &[String]) -> Result<Vec<WebhookEventKind>, ApiError> {
    if names.is_empty() {
        // Gitea's default for a hook created without events.
        return Ok(vec![WebhookEventKind::Push]);
    }
    names
        .iter()
        .map(|n| n.parse().map_err(ApiError::Invalid))
        .collect()
}

fn parse_content_type(s: Option<&str>) -> Result<Option<ContentType>, ApiError> {
    s.map(|s| s.parse().map_err(ApiError::Invalid)).transpose()
}

/// The hook in `/hooks/{id}/…`: a number, else a 404 (as for another repository's).
#[derive(Deserialize)]
struct HookId {
    id: String,
}

/// A delivery of that hook, `/hooks/{id}/deliveries/{delivery}/…`.
#[derive(Deserialize)]
struct DeliveryId {
    id: String,
    delivery: String,
}

async fn list_hooks(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    paging: super::paging::Paging,
) -> Result<Response, ApiError> {
    // A repository's hooks are few (an admin adds each): paged in memory.
    let (hooks, total) = paging.slice(st.forge.webhooks(&grant).await?);
    let hooks = hooks.iter().map(ApiHook::from_hook).collect::<Vec<_>>();
    Ok(paging.answer(hooks, total))
}

async fn create_hook(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    JsonBody(body): JsonBody<CreateHookOption>,
) -> Result<Response, ApiError> {
    if let Some(kind) = body.kind.as_deref()
        && !matches!(kind, "gitea" | "forgejo" | "gogs")
    {
        return Err(ApiError::Invalid(format!(
            "hook type '{kind}' is not supported; use gitea"
        )));
    }
    let settings = WebhookSettings {
        url: body
            .config
            .url
            .ok_or_else(|| ApiError::Invalid("config.url is required".into()))?,
        content_type: parse_content_type(body.config.content_type.as_deref())?
            .unwrap_or(ContentType::Json),
        secret: body.config.secret,
        events: parse_events(&body.events)?,
        branch_filter: body.branch_filter,
        active: body.active,
    };
    let hook = st.forge.create_webhook(&grant, settings).await?;
    Ok((StatusCode::CREATED, Json(ApiHook::from_hook(&hook))).into_response())
}

fn hook_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound)
}

async fn show_hook(
    State(st): State<ApiState>,
    Path(HookId { id }): Path<HookId>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<Json<ApiHook>, ApiError> {
    let hook = st.forge.webhook(&grant, hook_id(&id)?).await?;
    Ok(Json(ApiHook::from_hook(&hook)))
}

async fn edit_hook(
    State(st): State<ApiState>,
    Path(HookId { id }): Path<HookId>,
    ApiRepo { grant }: ApiRepo<Admin>,
    JsonBody(body): JsonBody<EditHookOption>,
) -> Result<Json<ApiHook>, ApiError> {
    let current = st.forge.webhook(&grant, hook_id(&id)?).await?;
    let mut settings = WebhookSettings::of(&current);
    let config = body.config.unwrap_or_default();
    if let Some(url) = config.url {
        settings.url = url;
    }
    if let Some(ct) = parse_content_type(config.content_type.as_deref())? {
        settings.content_type = ct;
    }
    settings.secret = config.secret;
    if let Some(events) = body.events {
        settings.events = parse_events(&events)?;
    }
    if let Some(filter) = body.branch_filter {
        settings.branch_filter = filter;
    }
    if let Some(active) = body.active {
        settings.active = active;
    }
    let hook = st
        .forge
        .update_webhook(&grant, current.id, settings)
        .await?;
    Ok(Json(ApiHook::from_hook(&hook)))
}

async fn delete_hook(
    State(st): State<ApiState>,
    Path(HookId { id }): Path<HookId>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<StatusCode, ApiError> {
    st.forge.delete_webhook(&grant, hook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test_hook(
    State(st): State<ApiState>,
    Path(HookId { id }): Path<HookId>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<StatusCode, ApiError> {
    let actor = grant.actor().ok_or(ApiError::Unauthorized)?;
    let sender = st.forge.webhook_sender(&actor.user);
    st.forge
        .test_webhook(&grant, hook_id(&id)?, &sender)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A delivery and its last attempt, for scripts.
#[derive(Serialize)]
struct ApiDelivery {
    id: i64,
    guid: String,
    event: String,
    action: String,
    state: &'static str,
    attempts: i32,
    redelivery_of: Option<i64>,
    created_at: String,
    last_attempt_at: Option<String>,
    next_attempt_at: Option<String>,
    delivered_at: Option<String>,
    request_headers: String,
    payload: String,
    response_status: Option<i32>,
    response_headers: String,
    response_body: String,
    duration_ms: Option<i32>,
    error: String,
}

impl ApiDelivery {
    fn from_delivery(d: Delivery) -> Self {
        let (state, next) = (d.state(), d.next_attempt());
        ApiDelivery {
            id: d.id,
            guid: d.guid,
            event: d.event,
            action: d.action,
            state: state.as_str(),
            attempts: d.attempts,
            redelivery_of: d.redelivery_of,
            created_at: rfc3339(d.created_at),
            last_attempt_at: d.last_attempt_at.map(rfc3339),
            next_attempt_at: next.map(rfc3339),
            delivered_at: d.delivered_at.map(rfc3339),
            request_headers: d.request_headers,
            payload: d.payload,
            response_status: d.response_status,
            response_headers: d.response_headers,
            response_body: d.response_body,
            duration_ms: d.duration_ms,
            error: d.error,
        }
    }
}

async fn list_deliveries(
    State(st): State<ApiState>,
    Path(HookId { id }): Path<HookId>,
    ApiRepo { grant }: ApiRepo<Admin>,
    paging: super::paging::Paging,
) -> Result<Response, ApiError> {
    // The domain answers a bounded number of the latest deliveries: paged in memory.
    let (deliveries, total) =
        paging.slice(st.forge.webhook_deliveries(&grant, hook_id(&id)?).await?);
    let deliveries = deliveries
        .into_iter()
        .map(ApiDelivery::from_delivery)
        .collect::<Vec<_>>();
    Ok(paging.answer(deliveries, total))
}

#[derive(Serialize)]
struct Queued {
    id: i64,
}

async fn redeliver(
    State(st): State<ApiState>,
    Path(DeliveryId { id, delivery }): Path<DeliveryId>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<Response, ApiError> {
    let delivery: i64 = delivery.parse().map_err(|_| ApiError::NotFound)?;
    let id = st
        .forge
        .redeliver_webhook(&grant, hook_id(&id)?, delivery)
        .await?;
    Ok((StatusCode::CREATED, Json(Queued { id })).into_response())
}
