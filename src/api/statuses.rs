//! Commit statuses in Gitea's shape, so an outside CI (Woodpecker, a script with curl) reports on
//! commits beside labforge's own checks and deploys:
//! `POST /repos/{owner}/{repo}/statuses/{sha}` (write access), `GET .../statuses/{sha}`,
//! `GET .../commits/{ref}/statuses` and `GET .../commits/{ref}/status` (combined). A commit
//! keeps the latest status per context; `check/` and `deploy/` contexts are labforge's own.

use crate::routes::{Need, Routes};
use axum::Json;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::ApiRepo;
use super::body::JsonBody;
use super::convert::repository::repository_json;
use super::convert::user::{embedded_ids, fill_users};
use super::paging::Paging;
use super::{ApiError, ApiState};
use crate::domain::statuses::{CommitStatus, StatusReport};
use crate::domain::{Write, rfc3339};
use crate::model::{CommitState, Repo, StatusContext};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get(
            "/repos/{owner}/{repo}/statuses/{sha}",
            Need::READ,
            list_statuses,
        )
        .post(
            "/repos/{owner}/{repo}/statuses/{sha}",
            Need::WRITE,
            create_status,
        )
        .get(
            "/repos/{owner}/{repo}/commits/{rev}/statuses",
            Need::READ,
            list_statuses,
        )
        .get(
            "/repos/{owner}/{repo}/commits/{rev}/status",
            Need::READ,
            show_combined_status,
        )
}

/// `{sha}` (a commit id, as Gitea names it on `/statuses/`) or `{rev}` (a commit id, branch or
/// tag, on `/commits/`): the same thing to labforge.
#[derive(Deserialize)]
struct Rev {
    #[serde(alias = "sha")]
    rev: String,
}

/// Gitea's CreateStatusOption.
#[derive(Deserialize)]
struct CreateStatus {
    state: String,
    #[serde(default)]
    target_url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    context: String,
}

/// Gitea's CommitStatus (its state is `status`). `creator` is filled to Gitea's whole User by
/// `with_creators`; labforge's own statuses (checks, deploys) have none: Gitea's ghost.
fn status_json(st: &ApiState, repo: &Repo, s: &CommitStatus) -> Value {
    let creator = json!({"id": s.creator_id.unwrap_or(-1), "login": s.creator_name});
    json!({
        "id": s.id,
        "status": s.state.as_str(),
        "target_url": s.target_url,
        "description": s.description,
        "url": format!("{}/api/v1/repos/{}/statuses/{}", st.config.base_url, repo.full_name(), s.sha),
        "context": s.context,
        "creator": creator,
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.updated_at),
    })
}

async fn with_creators(st: &ApiState, mut values: Vec<Value>) -> Result<Vec<Value>, ApiError> {
    let profiles = st
        .forge
        .profiles_by_ids(&embedded_ids(&values, "creator"))
        .await?;
    fill_users(&st.config.base_url, &mut values, "creator", &profiles);
    Ok(values)
}

async fn create_status(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Write>,
    Path(Rev { rev: sha }): Path<Rev>,
    JsonBody(body): JsonBody<CreateStatus>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let state: CommitState = body.state.parse().map_err(ApiError::Invalid)?;
    let context = StatusContext::parse_outside(&body.context).map_err(ApiError::Invalid)?;
    let status = st
        .forge
        .create_status(
            &grant,
            &StatusReport {
                sha: &sha,
                context: &context,
                state,
                description: &body.description,
                target_url: body.target_url.trim(),
            },
        )
        .await?;
    let value = with_creators(&st, vec![status_json(&st, grant.repo(), &status)])
        .await?
        .pop()
        .expect("one status in, one out");
    Ok((StatusCode::CREATED, Json(value)))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
}

/// The commit's statuses (one per context), latest first; `?state=` filters, `page`/`limit`
/// (up to 50) page.
async fn list_statuses(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(Rev { rev }): Path<Rev>,
    paging: Paging,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse::<CommitState>().map_err(ApiError::Invalid)?),
        None => None,
    };
    let (_, list) = st
        .forge
        .statuses(&grant, &rev, state, i64::from(paging.page), paging.limit())
        .await?
        .ok_or(ApiError::NotFound)?;
    // The total: every context of the commit, unless a state filters (then what this page
    // proves).
    let total = match state {
        None => st
            .forge
            .combined_status(&grant, &rev)
            .await?
            .map_or(0, |(_, c)| c.total as u64),
        Some(_) => paging.offset() as u64 + list.len() as u64,
    };
    let values = list
        .iter()
        .map(|s| status_json(&st, grant.repo(), s))
        .collect();
    Ok(paging.answer(with_creators(&st, values).await?, total))
}

/// Gitea's CombinedStatus: the combined state over every context, with the first
/// `SHOWN_IN_API` statuses (failing and pending first); `total_count` counts them all.
async fn show_combined_status(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(Rev { rev }): Path<Rev>,
) -> Result<Json<Value>, ApiError> {
    let (sha, combined) = st
        .forge
        .combined_status(&grant, &rev)
        .await?
        .ok_or(ApiError::NotFound)?;
    let repo = grant.repo();
    let base = &st.config.base_url;
    let view = st.forge.repo_view(&grant).await?;
    let statuses = combined
        .statuses
        .iter()
        .map(|s| status_json(&st, repo, s))
        .collect();
    Ok(Json(json!({
        "state": combined.state.as_str(),
        "sha": sha,
        "total_count": combined.total,
        "statuses": with_creators(&st, statuses).await?,
        "repository": repository_json(&st.config, &view, grant.actor()),
        "commit_url": format!("{base}/api/v1/repos/{}/git/commits/{sha}", repo.full_name()),
        "url": format!("{base}/api/v1/repos/{}/commits/{sha}/status", repo.full_name()),
    })))
}
