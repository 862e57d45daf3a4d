//! Organizations over the API, in Gitea's shapes: `GET /orgs/{org}`, `GET /orgs/{org}/repos`
//! and `GET /user/orgs` (the read side clients such as Flux and Terraform start from). Each
//! organization route takes its decision from `ApiOrg<L>`, as repository routes do from
//! `ApiRepo<L>`: an organization the caller may not see is a 404 like a missing one.

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Query, RawPathParams, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::{ApiActor, ApiError, ApiState, RequireApiActor};
use crate::domain::{Level, OrgGrant, Read};
use crate::model::{Org, RepoAccess, Username};
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    let read = Need::Org(RepoAccess::Read);
    Routes::new()
        .get("/orgs/{org}", read, show_org)
        .get("/orgs/{org}/repos", read, list_org_repos)
        .get("/user/orgs", Need::SignedIn, list_my_orgs)
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

/// Gitea's organization object, the fields clients read.
#[derive(Serialize)]
struct ApiOrgJson {
    id: i64,
    name: String,
    username: String,
    full_name: String,
    description: String,
    website: String,
    location: String,
    avatar_url: String,
    visibility: &'static str,
}

fn org_json(org: &Org) -> ApiOrgJson {
    ApiOrgJson {
        id: org.id,
        name: org.name.clone(),
        username: org.name.clone(),
        full_name: String::new(),
        description: org.description.clone(),
        website: String::new(),
        location: String::new(),
        avatar_url: String::new(),
        visibility: org.visibility.as_str(),
    }
}

async fn show_org(ApiOrg { grant, .. }: ApiOrg) -> Json<ApiOrgJson> {
    Json(org_json(grant.org()))
}

/// Gitea's repository owner, within a repository object.
#[derive(Serialize)]
struct ApiOwner {
    id: i64,
    login: String,
    username: String,
}

/// Gitea's repository object, the fields clients read.
#[derive(Serialize)]
struct ApiRepoJson {
    id: i64,
    owner: ApiOwner,
    name: String,
    full_name: String,
    description: String,
    private: bool,
    default_branch: String,
    html_url: String,
    clone_url: String,
    ssh_url: String,
    permissions: Permissions,
}

#[derive(Serialize)]
struct Permissions {
    admin: bool,
    push: bool,
    pull: bool,
}

/// `?page=&limit=` as Gitea pages lists (limit at most 50, as Gitea's default maximum).
#[derive(Deserialize)]
struct Paging {
    page: Option<usize>,
    limit: Option<usize>,
}

const MAX_LIMIT: usize = 50;

async fn list_org_repos(
    State(st): State<ApiState>,
    ApiOrg { grant, actor }: ApiOrg,
    Query(paging): Query<Paging>,
) -> Result<Json<Vec<ApiRepoJson>>, ApiError> {
    let org = grant.org();
    let limit = paging.limit.unwrap_or(MAX_LIMIT).clamp(1, MAX_LIMIT);
    let page = paging.page.unwrap_or(1).max(1);
    let repos = st
        .forge
        .org_repos(&grant, actor.0.as_ref())
        .await?
        .into_iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|(r, level)| ApiRepoJson {
            id: r.id,
            owner: ApiOwner {
                id: org.id,
                login: org.name.clone(),
                username: org.name.clone(),
            },
            html_url: format!("{}/{}/{}", st.config.base_url, r.owner, r.name),
            clone_url: st.config.http_clone_url(&r.owner, &r.name),
            ssh_url: st.config.ssh_clone_url(&r.owner, &r.name),
            full_name: r.full_name(),
            name: r.name,
            description: r.description,
            private: r.is_private,
            default_branch: r.default_branch,
            permissions: Permissions {
                admin: level >= RepoAccess::Admin,
                push: level >= RepoAccess::Write,
                pull: level >= RepoAccess::Read,
            },
        })
        .collect();
    Ok(Json(repos))
}

async fn list_my_orgs(
    State(st): State<ApiState>,
    RequireApiActor(actor): RequireApiActor,
) -> Result<Json<Vec<ApiOrgJson>>, ApiError> {
    let orgs = st.forge.orgs_of(&actor).await?;
    Ok(Json(orgs.iter().map(|(o, _)| org_json(o)).collect()))
}
