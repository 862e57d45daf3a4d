//! Issues, comments and labels in Gitea's shape (`/api/v1/repos/{owner}/{repo}/issues...`).
//! The JSON objects come from `domain::issues::payload`, the same ones webhooks carry.

use crate::routes::{Need, Routes};
use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde_json::Value;

use super::access::ApiRepo;
use super::body::JsonBody;
use super::{ApiError, ApiState};
use crate::domain::issues::payload::{comment_json, issue_json, label_json};
use crate::domain::{Grant, IssueChange, IssueQuery, IssueRules, IssueState, Level};
use crate::model::IssueStatus;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/repos/{owner}/{repo}/issues", Need::READ, list_issues)
        .post("/repos/{owner}/{repo}/issues", Need::READ, create_issue)
        .get(
            "/repos/{owner}/{repo}/issues/{index}",
            Need::READ,
            show_issue,
        )
        .patch(
            "/repos/{owner}/{repo}/issues/{index}",
            Need::READ,
            update_issue,
        )
        .get(
            "/repos/{owner}/{repo}/issues/{index}/comments",
            Need::READ,
            list_comments,
        )
        .post(
            "/repos/{owner}/{repo}/issues/{index}/comments",
            Need::READ,
            create_comment,
        )
        .get("/repos/{owner}/{repo}/labels", Need::READ, list_labels)
        .post("/repos/{owner}/{repo}/labels", Need::READ, create_label)
}

/// Writes to issues need a caller who sent credentials, though reading the repository is all
/// they need: a request without any is a 401 before the repository is looked at (as Gitea
/// answers); sent credentials are checked by `ApiRepo`, which follows this in each signature.
struct SentCredentials;

impl<S: Send + Sync> FromRequestParts<S> for SentCredentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            Ok(SentCredentials)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// `{index}`: an issue's number.
#[derive(Deserialize)]
struct Index {
    index: i64,
}

/// Gitea's paging: `page` from 1, `limit` up to 50 (default 30).
fn paging(page: Option<i64>, limit: Option<i64>) -> (i64, i64) {
    (page.unwrap_or(1).max(1), limit.unwrap_or(30).clamp(1, 50))
}

async fn issue_value<L: Level>(
    st: &ApiState,
    who: &Grant<L>,
    number: i64,
) -> Result<Value, ApiError> {
    let (issue, labels) = st.forge.issue(who, number).await?;
    Ok(issue_json(&st.config.base_url, who.repo(), &issue, &labels))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    /// Comma-separated label names; issues carry all of them.
    labels: Option<String>,
    q: Option<String>,
    created_by: Option<String>,
    page: Option<i64>,
    limit: Option<i64>,
}

async fn list_issues(
    State(st): State<ApiState>,
    ApiRepo { grant: who }: ApiRepo,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (page, per_page) = paging(q.page, q.limit);
    let query = IssueQuery {
        state: IssueState::parse(q.state.as_deref()),
        labels: q
            .labels
            .unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect(),
        author: q.created_by,
        text: q.q,
        page,
        per_page,
    };
    let list = st.forge.list_issues(&who, &query).await?;
    Ok(Json(
        list.issues
            .iter()
            .map(|(i, l)| issue_json(&st.config.base_url, who.repo(), i, l))
            .collect(),
    ))
}

/// Labels as Gitea clients send them: ids, or (newer clients) names.
fn label_names(
    st_labels: &[crate::model::Label],
    given: &[Value],
) -> Result<Vec<String>, ApiError> {
    given
        .iter()
        .map(|v| match v {
            Value::String(name) => Ok(name.clone()),
            Value::Number(n) => st_labels
                .iter()
                .find(|l| Some(l.id) == n.as_i64())
                .map(|l| l.name.clone())
                .ok_or_else(|| ApiError::Invalid(format!("there is no label with id {n}"))),
            _ => Err(ApiError::Invalid("labels are ids or names".into())),
        })
        .collect()
}

#[derive(Deserialize)]
struct CreateIssue {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    labels: Vec<Value>,
    #[serde(default)]
    closed: bool,
}

async fn create_issue(
    State(st): State<ApiState>,
    _: SentCredentials,
    ApiRepo { grant: who }: ApiRepo,
    JsonBody(body): JsonBody<CreateIssue>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let names = if body.labels.is_empty() {
        Vec::new()
    } else {
        label_names(&st.forge.labels(&who).await?, &body.labels)?
    };
    // One transaction: an unknown label or a refused close opens nothing.
    let issue = st
        .forge
        .open_issue_with(&who, &body.title, &body.body, &names, body.closed)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(issue_value(&st, &who, issue.number).await?),
    ))
}

async fn show_issue(
    State(st): State<ApiState>,
    ApiRepo { grant: who }: ApiRepo,
    Path(Index { index }): Path<Index>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(issue_value(&st, &who, index).await?))
}

#[derive(Deserialize)]
struct EditIssue {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    labels: Option<Vec<Value>>,
}

async fn update_issue(
    State(st): State<ApiState>,
    _: SentCredentials,
    ApiRepo { grant: who }: ApiRepo,
    Path(Index { index }): Path<Index>,
    JsonBody(body): JsonBody<EditIssue>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let open = match body.state.as_deref().map(|s| (s, s.parse::<IssueStatus>())) {
        None => None,
        Some((_, Ok(state))) => Some(state == IssueStatus::Open),
        Some((other, Err(_))) => {
            return Err(ApiError::Invalid(format!(
                "state '{other}' is not open or closed"
            )));
        }
    };
    let names = match &body.labels {
        Some(labels) => Some(label_names(&st.forge.labels(&who).await?, labels)?),
        None => None,
    };
    // One transaction: a bad label after a good title changes neither.
    let change = IssueChange {
        title: body.title.as_deref(),
        body: body.body.as_deref(),
        labels: names.as_deref(),
        open,
    };
    st.forge.change_issue(&who, index, change).await?;
    Ok((
        StatusCode::CREATED,
        Json(issue_value(&st, &who, index).await?),
    ))
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<i64>,
    limit: Option<i64>,
}

async fn list_comments(
    State(st): State<ApiState>,
    ApiRepo { grant: who }: ApiRepo,
    Path(Index { index }): Path<Index>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (issue, _) = st.forge.issue(&who, index).await?;
    // Gitea lists every comment unless asked to page.
    let (page, per_page) = match (q.page, q.limit) {
        (None, None) => (1, 100),
        (p, l) => paging(p, l),
    };
    let comments = st.forge.comments(&who, &issue, page, per_page).await?;
    Ok(Json(
        comments
            .iter()
            .map(|c| comment_json(&st.config.base_url, who.repo(), &issue, c))
            .collect(),
    ))
}

#[derive(Deserialize)]
struct CreateComment {
    body: String,
}

async fn create_comment(
    State(st): State<ApiState>,
    _: SentCredentials,
    ApiRepo { grant: who }: ApiRepo,
    Path(Index { index }): Path<Index>,
    JsonBody(body): JsonBody<CreateComment>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let comment = st.forge.comment_on_issue(&who, index, &body.body).await?;
    let (issue, _) = st.forge.issue(&who, index).await?;
    Ok((
        StatusCode::CREATED,
        Json(comment_json(
            &st.config.base_url,
            who.repo(),
            &issue,
            &comment,
        )),
    ))
}

async fn list_labels(
    State(st): State<ApiState>,
    ApiRepo { grant: who }: ApiRepo,
) -> Result<Json<Vec<Value>>, ApiError> {
    let labels = st.forge.labels(&who).await?;
    Ok(Json(labels.iter().map(label_json).collect()))
}

#[derive(Deserialize)]
struct CreateLabel {
    name: String,
    color: String,
    #[serde(default)]
    description: String,
}

/// Managing labels is triage: a 403 that says why for a reader, else the write grant the
/// domain takes.
async fn create_label(
    State(st): State<ApiState>,
    _: SentCredentials,
    ApiRepo { grant: who }: ApiRepo,
    JsonBody(body): JsonBody<CreateLabel>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let writer = who.for_triage("manage labels")?;
    let label = st
        .forge
        .create_label(&writer, &body.name, &body.color, &body.description)
        .await?;
    Ok((StatusCode::CREATED, Json(label_json(&label))))
}
