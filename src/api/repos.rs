//! Repositories in Gitea's API: `/user/repos`, `/users/{u}/repos`, `/repos/{o}/{r}` (read,
//! edit, delete), `/repositories/{id}`, `/repos/search` and `/repos/{o}/{r}/topics`. Every
//! answer is Gitea's Repository object (`convert::repository`) as the caller sees it.

use axum::Json;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::access::ApiRepo;
use super::body::JsonBody;
use super::convert::repository::repository_json;
use super::paging::Paging;
use super::{ApiActor, ApiError, ApiState, RequireApiActor, RequireWriteActor};
use crate::domain::repo_api::{RepoQuery, RepoSort};
use crate::domain::{Admin, Grant, Level};
use crate::model::{Actor, RepoName};
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/user/repos", Need::SignedIn, list_my_repos)
        .post("/user/repos", Need::SignedIn, create_repo)
        .get("/users/{username}/repos", Need::Public, list_user_repos)
        .get("/repos/search", Need::Public, search_repos)
        .get("/repositories/{id}", Need::Public, show_repo_by_id)
        .get("/repos/{owner}/{repo}", Need::READ, show_repo)
        .patch("/repos/{owner}/{repo}", Need::ADMIN, edit_repo)
        .delete("/repos/{owner}/{repo}", Need::ADMIN, delete_repo)
        .post("/repos/{owner}/{repo}/transfer", Need::ADMIN, transfer_repo)
        .get("/repos/{owner}/{repo}/topics", Need::READ, list_topics)
        .put("/repos/{owner}/{repo}/topics", Need::ADMIN, replace_topics)
}

pub(super) async fn answer_repo<L: Level>(
    st: &ApiState,
    grant: &Grant<L>,
) -> Result<Response, ApiError> {
    let view = st.forge.repo_view(grant).await?;
    Ok(Json(repository_json(&st.config, &view, grant.actor())).into_response())
}

/// Gitea's `ctx.FormOptionalBool`: `true`/`false` (and `1`/`0`); anything else is absent.
fn form_bool(v: Option<&str>) -> Option<bool> {
    match v.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        _ => None,
    }
}

/// `/repos/search`'s query, read as text the way Gitea reads its form values.
#[derive(Deserialize, Default)]
struct SearchParams {
    q: Option<String>,
    topic: Option<String>,
    #[serde(rename = "includeDesc")]
    include_desc: Option<String>,
    uid: Option<String>,
    exclusive: Option<String>,
    private: Option<String>,
    is_private: Option<String>,
    archived: Option<String>,
    sort: Option<String>,
    order: Option<String>,
}

impl SearchParams {
    fn query(&self, paging: &Paging) -> Result<RepoQuery, ApiError> {
        let sort = match self.sort.as_deref().map(str::trim) {
            None | Some("") => RepoSort::Alpha,
            Some(s) => s
                .to_ascii_lowercase()
                .parse()
                .map_err(|_| ApiError::Invalid(format!("Invalid sort mode: \"{s}\"")))?,
        };
        let descending = match self.order.as_deref().map(str::trim) {
            None | Some("") | Some("asc") => false,
            Some("desc") => true,
            Some(o) => return Err(ApiError::Invalid(format!("Invalid sort order: \"{o}\""))),
        };
        let owner_id = self
            .uid
            .as_deref()
            .and_then(|u| u.trim().parse::<i64>().ok())
            .filter(|u| *u != 0);
        Ok(RepoQuery {
            keyword: self.q.clone().unwrap_or_default(),
            topic: form_bool(self.topic.as_deref()).unwrap_or(false),
            include_description: form_bool(self.include_desc.as_deref()).unwrap_or(false),
            owner_id,
            exclusive: form_bool(self.exclusive.as_deref()).unwrap_or(false),
            private: form_bool(self.is_private.as_deref()),
            exclude_private: form_bool(self.private.as_deref()) == Some(false),
            archived: form_bool(self.archived.as_deref()),
            sort,
            descending,
            offset: paging.offset(),
            limit: paging.limit(),
        })
    }
}

pub(super) async fn list(
    st: &ApiState,
    actor: Option<&Actor>,
    query: &RepoQuery,
) -> Result<(Vec<super::convert::repository::ApiRepository>, u64), ApiError> {
    let (views, total) = st.forge.search_repos(actor, query).await?;
    Ok((
        views
            .iter()
            .map(|v| repository_json(&st.config, v, actor))
            .collect(),
        total,
    ))
}

async fn search_repos(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    paging: Paging,
    Query(params): Query<SearchParams>,
) -> Result<Response, ApiError> {
    let query = params.query(&paging)?;
    let (data, total) = list(&st, actor.as_ref(), &query).await?;
    Ok(paging.answer_search(data, total))
}

/// The caller's own repositories and those shared with them (Gitea's `ListMyRepos`).
async fn list_my_repos(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    paging: Paging,
) -> Result<Response, ApiError> {
    let query = RepoQuery {
        owner_id: Some(actor.user.id),
        offset: paging.offset(),
        limit: paging.limit(),
        ..RepoQuery::default()
    };
    let (data, total) = list(&st, Some(&actor), &query).await?;
    Ok(paging.answer(data, total))
}

/// A user's own repositories the caller may read (Gitea's `ListUserRepos`).
async fn list_user_repos(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    Path(username): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let owner = st.forge.user_view(&username).await?;
    let query = RepoQuery {
        owner_id: Some(owner.id),
        exclusive: true,
        offset: paging.offset(),
        limit: paging.limit(),
        ..RepoQuery::default()
    };
    let (data, total) = list(&st, actor.as_ref(), &query).await?;
    Ok(paging.answer(data, total))
}

/// Gitea's CreateRepoOption; what labforge cannot do at creation (`auto_init`, templates,
/// licenses, `.gitignore`s) is read and left out: the answer's `empty` says what was made.
#[derive(Deserialize)]
struct CreateRepoOption {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    private: bool,
    default_branch: Option<String>,
}

async fn create_repo(
    State(st): State<ApiState>,
    RequireWriteActor(actor): RequireWriteActor,
    JsonBody(opt): JsonBody<CreateRepoOption>,
) -> Result<Response, ApiError> {
    let name = RepoName::parse(opt.name.trim())
        .map_err(|e| ApiError::Invalid(format!("invalid repository name: {e}")))?;
    let grant = st
        .forge
        .create_own_repo(
            &actor,
            &name,
            opt.private,
            &opt.description,
            opt.default_branch.as_deref(),
        )
        .await
        .map_err(|e| match e {
            crate::domain::Error::Conflict(_) => {
                ApiError::Conflict("The repository with the same name already exists.".into())
            }
            other => other.into(),
        })?;
    let mut res = answer_repo(&st, &grant).await?;
    *res.status_mut() = StatusCode::CREATED;
    Ok(res)
}

async fn show_repo(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
) -> Result<Response, ApiError> {
    answer_repo(&st, &grant).await
}

async fn show_repo_by_id(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let path = st.forge.repo_path_of(id).await?;
    let grant = st
        .forge
        .authorize::<crate::domain::Read>(actor.as_ref(), &path)
        .await?;
    answer_repo(&st, &grant).await
}

/// Gitea's EditRepoOption, the fields labforge keeps; the others (wiki, merge styles,
/// trackers, ...) are read and left alone, as for a Gitea with those units off.
#[derive(Deserialize)]
struct EditRepoOption {
    name: Option<String>,
    description: Option<String>,
    private: Option<bool>,
    default_branch: Option<String>,
    archived: Option<bool>,
}

async fn edit_repo(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    JsonBody(opt): JsonBody<EditRepoOption>,
) -> Result<Response, ApiError> {
    let mut grant = grant;
    if let Some(name) = opt.name.as_deref().map(str::trim)
        && !name.is_empty()
        && name != grant.repo().name
    {
        let name = RepoName::parse(name)
            .map_err(|e| ApiError::Invalid(format!("invalid repository name: {e}")))?;
        grant = st.forge.rename_repo(grant, &name).await?;
    }
    if opt.description.is_some() || opt.private.is_some() || opt.default_branch.is_some() {
        let repo = grant.repo();
        st.forge
            .update_repo(
                &grant,
                opt.description.as_deref().unwrap_or(&repo.description),
                opt.private.unwrap_or(repo.is_private),
                opt.default_branch
                    .as_deref()
                    .unwrap_or(&repo.default_branch),
            )
            .await?;
    }
    if let Some(archived) = opt.archived {
        st.forge.set_archived(&grant, archived).await?;
    }
    answer_repo(&st, &grant).await
}

async fn delete_repo(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
) -> Result<StatusCode, ApiError> {
    st.forge.delete_repo(grant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gitea's TopicName (the answer) and RepoTopicOptions (the request): `{"topics": [...]}`.
#[derive(Serialize, Deserialize)]
struct Topics {
    topics: Vec<String>,
}

async fn list_topics(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    paging: Paging,
) -> Result<Response, ApiError> {
    let view = st.forge.repo_view(&grant).await?;
    let (topics, total) = paging.slice(view.topics);
    Ok(paging.answer_wrapped(Topics { topics }, total))
}

async fn replace_topics(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    JsonBody(opt): JsonBody<Topics>,
) -> Result<StatusCode, ApiError> {
    st.forge.set_topics(&grant, &opt.topics).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(sort: Option<&str>, order: Option<&str>) -> SearchParams {
        SearchParams {
            sort: sort.map(str::to_owned),
            order: order.map(str::to_owned),
            ..SearchParams::default()
        }
    }

    #[test]
    fn sort_and_order_are_giteas_words() {
        let paging = Paging::for_tests(2, 10);
        let q = params(Some("Created"), Some("desc"))
            .query(&paging)
            .unwrap();
        assert_eq!(q.sort, RepoSort::Created);
        assert!(q.descending);
        assert_eq!((q.offset, q.limit), (10, 10));
        assert_eq!(
            params(None, None).query(&paging).unwrap().sort,
            RepoSort::Alpha
        );
        assert!(params(Some("stars"), None).query(&paging).is_err());
        assert!(params(None, Some("up")).query(&paging).is_err());
    }

    #[test]
    fn form_booleans_read_as_gitea_reads_them() {
        assert_eq!(form_bool(Some("true")), Some(true));
        assert_eq!(form_bool(Some("0")), Some(false));
        assert_eq!(form_bool(Some("maybe")), None);
        assert_eq!(form_bool(None), None);
        let private_off = SearchParams {
            private: Some("false".into()),
            uid: Some("0".into()),
            ..SearchParams::default()
        };
        let q = private_off.query(&Paging::for_tests(1, 10)).unwrap();
        assert!(q.exclude_private && q.private.is_none() && q.owner_id.is_none());
    }
}

/// Gitea's TransferRepoOption. `team_ids` (teams of the new organization to give the
/// repository to) is read and not applied: add it to teams afterwards.
#[derive(Deserialize)]
struct TransferRepoOption {
    new_owner: String,
    #[allow(dead_code)]
    team_ids: Option<Vec<i64>>,
}

/// `POST /repos/{o}/{r}/transfer`: to yourself or an organization you own, at once (202 with
/// the moved repository, as Gitea); to another user, refused (no acceptance step yet).
async fn transfer_repo(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    JsonBody(opt): JsonBody<TransferRepoOption>,
) -> Result<Response, ApiError> {
    let owner = crate::model::Username::parse(opt.new_owner.trim())
        .map_err(|e| ApiError::Invalid(format!("invalid new_owner: {e}")))?;
    let grant = st.forge.transfer_repo(grant, &owner).await?;
    let mut res = answer_repo(&st, &grant).await?;
    *res.status_mut() = axum::http::StatusCode::ACCEPTED;
    Ok(res)
}
