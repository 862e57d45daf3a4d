//! Issues, comments and labels in Gitea's shape (`/api/v1/repos/{owner}/{repo}/issues...`).
//! The JSON objects come from `domain::issues::payload`, the same ones webhooks carry.

use crate::routes::{Need, Routes};
use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::access::ApiRepo;
use super::body::JsonBody;
use super::convert::user::{embedded_ids, fill_users};
use super::paging::Paging;
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

/// The objects with their embedded `user` made Gitea's whole User (one query for the page).
async fn with_users(st: &ApiState, mut values: Vec<Value>) -> Result<Vec<Value>, ApiError> {
    let ids = embedded_ids(&values, "user");
    let profiles = st.forge.profiles_by_ids(&ids).await?;
    fill_users(&st.config.base_url, &mut values, "user", &profiles);
    Ok(values)
}

async fn with_user(st: &ApiState, value: Value) -> Result<Value, ApiError> {
    Ok(with_users(st, vec![value])
        .await?
        .pop()
        .expect("one value in, one out"))
}

async fn issue_value<L: Level>(
    st: &ApiState,
    who: &Grant<L>,
    number: i64,
) -> Result<Value, ApiError> {
    let (issue, labels) = st.forge.issue(who, number).await?;
    with_user(
        st,
        issue_json(&st.config.base_url, who.repo(), &issue, &labels),
    )
    .await
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    /// Comma-separated label names; issues carry all of them.
    labels: Option<String>,
    q: Option<String>,
    created_by: Option<String>,
}

async fn list_issues(
    State(st): State<ApiState>,
    ApiRepo { grant: who }: ApiRepo,
    paging: Paging,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let state = IssueState::parse(q.state.as_deref());
    let filtered = q.labels.as_deref().is_some_and(|l| !l.trim().is_empty())
        || q.q.as_deref().is_some_and(|t| !t.trim().is_empty())
        || q.created_by
            .as_deref()
            .is_some_and(|a| !a.trim().is_empty());
    let query = IssueQuery {
        state,
        labels: q
            .labels
            .unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect(),
        author: q.created_by,
        text: q.q,
        page: i64::from(paging.page),
        per_page: paging.limit(),
    };
    let list = st.forge.list_issues(&who, &query).await?;
    // The total: exact by state when nothing else filters; else what this page proves (its
    // end, plus one when more follow), which is enough for `Link`'s next.
    let total = match (filtered, state) {
        (false, IssueState::Open) => list.open_count,
        (false, IssueState::Closed) => list.closed_count,
        (false, IssueState::All) => list.open_count + list.closed_count,
        (true, _) => paging.offset() + list.issues.len() as i64 + i64::from(list.has_more),
    };
    let values = list
        .issues
        .iter()
        .map(|(i, l)| issue_json(&st.config.base_url, who.repo(), i, l))
        .collect();
    let values = with_users(&st, values).await?;
    Ok(paging.answer(values, u64::try_from(total).unwrap_or(0)))
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

/// An issue's comments, a page at a time (`page`, `limit`; Gitea 1.22 answers them all, which
/// is no answer for an issue with ten thousand comments).
async fn list_comments(
    State(st): State<ApiState>,
    ApiRepo { grant: who }: ApiRepo,
    Path(Index { index }): Path<Index>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let (issue, _) = st.forge.issue(&who, index).await?;
    let comments = st
        .forge
        .comments(&who, &issue, i64::from(paging.page), paging.limit())
        .await?;
    let values = comments
        .iter()
        .map(|c| comment_json(&st.config.base_url, who.repo(), &issue, c))
        .collect();
    let values = with_users(&st, values).await?;
    let total = u64::try_from(issue.comment_count).unwrap_or(0);
    Ok(paging.answer(values, total))
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
        Json(
            with_user(
                &st,
                comment_json(&st.config.base_url, who.repo(), &issue, &comment),
            )
            .await?,
        ),
    ))
}

async fn list_labels(
    State(st): State<ApiState>,
    ApiRepo { grant: who }: ApiRepo,
    paging: Paging,
) -> Result<Response, ApiError> {
    let (labels, total) = paging.slice(st.forge.labels(&who).await?);
    let values = labels
        .iter()
        .map(|l| label_json(&st.config.base_url, who.repo(), l))
        .collect::<Vec<_>>();
    Ok(paging.answer(values, total))
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
    Ok((
        StatusCode::CREATED,
        Json(label_json(&st.config.base_url, writer.repo(), &label)),
    ))
}
