//! Organizations over the API, in Gitea's shapes: the organizations, their repositories and
//! members, and a user's standing in one (teams are in `teams.rs`). Each organization route
//! takes its decision from `ApiOrg<L>`, as repository routes do from `ApiRepo<L>`: an
//! organization the caller may not see is a 404 like a missing one; acting on it goes through
//! the domain functions the web pages and the CLI use.

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, RawPathParams, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::JsonBody;
use super::convert::organization::{organization_json, permissions_json};
use super::convert::repository::repository_json;
use super::convert::user::ApiUser;
use super::paging::Paging;
use super::{ApiActor, ApiError, ApiState, RequireApiActor, RequireWriteActor};
use crate::domain::{Admin, Level, OrgGrant, Read};
use crate::model::{Org, OrgVisibility, RepoAccess, RepoName, RepoPath, Username};
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    let read = Need::Org(RepoAccess::Read);
    let admin = Need::Org(RepoAccess::Admin);
    Routes::new()
        .get("/orgs", Need::Public, list_orgs)
        .post("/orgs", Need::SignedIn, create_org)
        .get("/orgs/{org}", read, show_org)
        .patch("/orgs/{org}", admin, edit_org)
        .delete("/orgs/{org}", admin, delete_org)
        .get("/orgs/{org}/repos", read, list_org_repos)
        .post("/orgs/{org}/repos", read, create_org_repo)
        .get("/orgs/{org}/members", read, list_members)
        .get("/orgs/{org}/members/{username}", read, is_member)
        .delete("/orgs/{org}/members/{username}", admin, remove_member)
        .get(
            "/users/{username}/orgs/{org}/permissions",
            read,
            user_permissions,
        )
        .get("/user/orgs", Need::SignedIn, list_my_orgs)
        .get("/users/{username}/orgs", Need::Public, list_user_orgs)
}

/// An organization the caller may see at level `L`.
pub struct ApiOrg<L: Level = Read> {
    pub grant: OrgGrant<L>,
    pub actor: ApiActor,
}

impl<S, L> FromRequestParts<S> for ApiOrg<L>
where
    S: Send + Sync,
    ApiState: FromRef<S>,
    L: Level,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let actor = ApiActor::from_request_parts(parts, state).await?;
        if L::ACCESS > RepoAccess::Read && actor.0.is_none() {
            return Err(ApiError::Unauthorized);
        }
        let params = RawPathParams::from_request_parts(parts, &())
            .await
            .map_err(|_| ApiError::NotFound)?;
        let org = params
            .iter()
            .find(|(k, _)| *k == "org")
            .map(|(_, v)| v)
            .ok_or(ApiError::NotFound)?;
        let name = Username::parse(org).map_err(|_| ApiError::NotFound)?;
        let st = ApiState::from_ref(state);
        let grant = st.forge.authorize_org::<L>(actor.0.as_ref(), &name).await?;
        Ok(ApiOrg { grant, actor })
    }
}

/// A user named in the path; an unparsable name names nobody.
fn username(name: &str) -> Result<Username, ApiError> {
    Username::parse(name).map_err(|_| ApiError::NotFound)
}

/// A page of organizations, with Gitea's paging headers.
fn answer_orgs(paging: &Paging, orgs: Vec<Org>) -> Response {
    let (page, total) = paging.slice(orgs);
    paging.answer(page.iter().map(organization_json).collect(), total)
}

async fn list_orgs(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    paging: Paging,
) -> Result<Response, ApiError> {
    let orgs = st.forge.visible_orgs(actor.as_ref()).await?;
    Ok(answer_orgs(&paging, orgs))
}

async fn list_my_orgs(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
    paging: Paging,
) -> Result<Response, ApiError> {
    let orgs = st.forge.orgs_of(&actor).await?;
    Ok(answer_orgs(
        &paging,
        orgs.into_iter().map(|(o, _)| o).collect(),
    ))
}

async fn list_user_orgs(
    State(st): State<ApiState>,
    ApiActor(actor): ApiActor,
    Path(name): Path<String>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let user = username(&name)?;
    let orgs = st.forge.user_orgs_visible_to(&user, actor.as_ref()).await?;
    Ok(answer_orgs(&paging, orgs))
}

async fn show_org(ApiOrg { grant, .. }: ApiOrg) -> Response {
    Json(organization_json(grant.org())).into_response()
}

/// Gitea's `public`, `limited` and `private`; absent is public.
fn visibility(text: Option<&str>, default: OrgVisibility) -> Result<OrgVisibility, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::Invalid(format!("invalid visibility: {v}"))),
    }
}

/// Gitea's CreateOrgOption; labforge keeps the name, description and visibility (an
/// organization has no e-mail, full name, website or location here).
#[derive(Deserialize)]
struct CreateOrgOption {
    username: String,
    #[serde(default)]
    description: String,
    visibility: Option<String>,
}

async fn create_org(
    State(st): State<ApiState>,
    RequireWriteActor(actor): RequireWriteActor,
    JsonBody(opt): JsonBody<CreateOrgOption>,
) -> Result<Response, ApiError> {
    let name = Username::parse(opt.username.trim())
        .map_err(|e| ApiError::Invalid(format!("invalid organization name: {e}")))?;
    let vis = visibility(opt.visibility.as_deref(), OrgVisibility::Public)?;
    let org = st
        .forge
        .create_org(&actor, &name, &opt.description, vis)
        .await
        .map_err(|e| match e {
            crate::domain::Error::Conflict(_) => ApiError::Invalid("user already exists".into()),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(organization_json(&org))).into_response())
}

/// Gitea's EditOrgOption, the fields labforge keeps.
#[derive(Deserialize)]
struct EditOrgOption {
    description: Option<String>,
    visibility: Option<String>,
}

async fn edit_org(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg<Admin>,
    JsonBody(opt): JsonBody<EditOrgOption>,
) -> Result<Response, ApiError> {
    let org = grant.org();
    let vis = visibility(opt.visibility.as_deref(), org.visibility)?;
    let description = opt.description.as_deref().unwrap_or(&org.description);
    st.forge.update_org(&grant, description, vis).await?;
    let fresh = Org {
        description: description.trim().to_owned(),
        visibility: vis,
        ..org.clone()
    };
    Ok(Json(organization_json(&fresh)).into_response())
}

/// Refused while the organization owns repositories, naming them (409).
async fn delete_org(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg<Admin>,
) -> Result<StatusCode, ApiError> {
    st.forge.delete_org(&grant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization's repositories the caller may read (the one rule decides each, as
/// `org_repos` does for the organization's page), a page of Repository objects.
async fn list_org_repos(
    State(st): State<ApiState>,
    ApiOrg { grant, actor }: ApiOrg,
    paging: Paging,
) -> Result<Response, ApiError> {
    let actor = actor.0.as_ref();
    let repos = st.forge.org_repos(&grant, actor).await?;
    let (page, total) = paging.slice(repos);
    let owner = username(&grant.org().name)?;
    let mut data = Vec::with_capacity(page.len());
    for (repo, _) in page {
        let path = RepoPath {
            owner: owner.clone(),
            name: RepoName::parse(&repo.name).map_err(crate::domain::Error::from)?,
        };
        let repo_grant = st.forge.authorize::<Read>(actor, &path).await?;
        let view = st.forge.repo_view(&repo_grant).await?;
        data.push(repository_json(&st.config, &view, actor));
    }
    Ok(paging.answer(data, total))
}

/// Gitea's CreateRepoOption, the fields labforge keeps at creation.
#[derive(Deserialize)]
struct CreateRepoOption {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    private: bool,
}

/// Who may create under the organization is the domain's `may_create_under` (owners, teams
/// that may create, site admins); a refusal is 403.
async fn create_org_repo(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg,
    RequireWriteActor(actor): RequireWriteActor,
    JsonBody(opt): JsonBody<CreateRepoOption>,
) -> Result<Response, ApiError> {
    let name = RepoName::parse(opt.name.trim())
        .map_err(|e| ApiError::Invalid(format!("invalid repository name: {e}")))?;
    let owner = username(&grant.org().name)?;
    let repo = st
        .forge
        .create_repo_as(&actor, &owner, &name, opt.private, &opt.description)
        .await
        .map_err(|e| match e {
            crate::domain::Error::Conflict(_) => {
                ApiError::Conflict("The repository with the same name already exists.".into())
            }
            other => other.into(),
        })?;
    let path = RepoPath {
        owner,
        name: RepoName::parse(&repo.name).map_err(crate::domain::Error::from)?,
    };
    let repo_grant = st.forge.authorize::<Read>(Some(&actor), &path).await?;
    let mut res = super::repos::answer_repo(&st, &repo_grant).await?;
    *res.status_mut() = StatusCode::CREATED;
    Ok(res)
}

/// Every member (Gitea's `ListMembers`), as User objects.
async fn list_members(
    State(st): State<ApiState>,
    ApiOrg { grant, actor }: ApiOrg,
    paging: Paging,
) -> Result<Response, ApiError> {
    let members = st.forge.org_members(&grant).await?;
    let (page, total) = paging.slice(members);
    let viewer = actor.0.as_ref().map(|a| &a.user);
    let mut users = Vec::with_capacity(page.len());
    for m in page {
        let profile = st.forge.profile(&username(&m.name)?).await?;
        users.push(ApiUser::new(&st.config.base_url, &profile, viewer));
    }
    Ok(paging.answer(users, total))
}

/// 204 when the user is a member, 404 otherwise (Gitea's `IsMember`).
async fn is_member(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let members = st.forge.org_members(&grant).await?;
    if members.iter().any(|m| m.name.eq_ignore_ascii_case(&name)) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Removes the member from the organization and its teams: their access through it ends now.
async fn remove_member(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg<Admin>,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.forge
        .remove_org_member(&grant, &username(&name)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_permissions(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg,
    Path((name, _)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let standing = st.forge.org_standing(&grant, &username(&name)?).await?;
    Ok(Json(permissions_json(&standing)).into_response())
}
