//! Teams over the API, in Gitea's shapes: an organization's teams (`/orgs/{org}/teams`) and a
//! team by id (`/teams/{id}`), its members and repositories. Gitea names teams by id, so the
//! decision is taken by `ApiTeam<L>`: the team's organization at level `L` through
//! `authorize_org`, a team in an organization the caller may not see answering 404 like a
//! missing one. Changes go through the domain's team functions, as the pages' and the CLI's.

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, Path, RawPathParams, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body::JsonBody;
use super::convert::organization::team_json;
use super::convert::user::ApiUser;
use super::orgs::ApiOrg;
use super::paging::Paging;
use super::{ApiActor, ApiError, ApiState};
use crate::domain::orgs::TeamSettings;
use crate::domain::{Admin, Forge, Level, OrgGrant, Read};
use crate::model::{RepoAccess, RepoName, RepoPath, Team, TeamName, Username};
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    let read = Need::Org(RepoAccess::Read);
    let admin = Need::Org(RepoAccess::Admin);
    Routes::new()
        .get("/orgs/{org}/teams", read, list_teams)
        .post("/orgs/{org}/teams", admin, create_team)
        .get("/teams/{id}", read, show_team)
        .patch("/teams/{id}", admin, edit_team)
        .delete("/teams/{id}", admin, delete_team)
        .get("/teams/{id}/members/{username}", read, show_member)
        .put("/teams/{id}/members/{username}", admin, add_member)
        .delete("/teams/{id}/members/{username}", admin, remove_member)
        .get("/teams/{id}/repos/{org}/{repo}", read, show_repo)
        .put("/teams/{id}/repos/{org}/{repo}", admin, add_repo)
        .delete("/teams/{id}/repos/{org}/{repo}", admin, remove_repo)
}

/// A team named by the path's `{id}`, and the caller's grant on its organization at `L`.
pub struct ApiTeam<L: Level = Read> {
    pub grant: OrgGrant<L>,
    pub team: Team,
    pub actor: ApiActor,
}

impl<S, L> FromRequestParts<S> for ApiTeam<L>
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
        let id: i64 = params
            .iter()
            .find(|(k, _)| *k == "id")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or(ApiError::NotFound)?;
        let st = ApiState::from_ref(state);
        let (grant, team) = st.forge.team_by_id::<L>(actor.0.as_ref(), id).await?;
        Ok(ApiTeam { grant, team, actor })
    }
}

fn team_name(team: &Team) -> Result<TeamName, ApiError> {
    Ok(Forge::team_name(team)?)
}

fn username(name: &str) -> Result<Username, ApiError> {
    Username::parse(name).map_err(|_| ApiError::NotFound)
}

async fn list_teams(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg,
    paging: Paging,
) -> Result<Response, ApiError> {
    let teams = st.forge.teams(&grant).await?;
    let (page, total) = paging.slice(teams);
    let org = grant.org();
    Ok(paging.answer(page.iter().map(|t| team_json(org, t)).collect(), total))
}

/// Gitea's `read`, `write` and `admin` (its `owner` is the owners, not a team level here).
fn access(text: Option<&str>, default: RepoAccess) -> Result<RepoAccess, ApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some("read") => Ok(RepoAccess::Read),
        Some("write") => Ok(RepoAccess::Write),
        Some("admin") => Ok(RepoAccess::Admin),
        Some(other) => Err(ApiError::Invalid(format!(
            "invalid permission: {other} (read, write or admin)"
        ))),
    }
}

/// Gitea's CreateTeamOption; units are read and left out (a team's level covers code and
/// issues alike here).
#[derive(Deserialize)]
struct CreateTeamOption {
    name: String,
    permission: Option<String>,
    #[serde(default)]
    includes_all_repositories: bool,
    #[serde(default)]
    can_create_org_repo: bool,
}

async fn create_team(
    State(st): State<ApiState>,
    ApiOrg { grant, .. }: ApiOrg<Admin>,
    JsonBody(opt): JsonBody<CreateTeamOption>,
) -> Result<Response, ApiError> {
    let name = TeamName::parse(opt.name.trim())
        .map_err(|e| ApiError::Invalid(format!("invalid team name: {e}")))?;
    let settings = TeamSettings {
        access: access(opt.permission.as_deref(), RepoAccess::Read)?,
        all_repos: opt.includes_all_repositories,
        can_create: opt.can_create_org_repo,
    };
    st.forge.create_team(&grant, &name, &settings, &[]).await?;
    let team = st.forge.team(&grant.lower::<Read>(), &name).await?;
    Ok((StatusCode::CREATED, Json(team_json(grant.org(), &team))).into_response())
}

async fn show_team(ApiTeam { grant, team, .. }: ApiTeam) -> Response {
    Json(team_json(grant.org(), &team)).into_response()
}

/// Gitea's EditTeamOption. labforge's teams keep their name: another name is refused (422).
#[derive(Deserialize)]
struct EditTeamOption {
    name: Option<String>,
    permission: Option<String>,
    includes_all_repositories: Option<bool>,
    can_create_org_repo: Option<bool>,
}

async fn edit_team(
    State(st): State<ApiState>,
    ApiTeam { grant, team, .. }: ApiTeam<Admin>,
    JsonBody(opt): JsonBody<EditTeamOption>,
) -> Result<Response, ApiError> {
    if let Some(name) = opt.name.as_deref().map(str::trim)
        && !name.is_empty()
        && !name.eq_ignore_ascii_case(&team.name)
    {
        return Err(ApiError::Invalid(
            "renaming a team is not supported; create another team".into(),
        ));
    }
    let name = team_name(&team)?;
    let settings = TeamSettings {
        access: access(opt.permission.as_deref(), team.access)?,
        all_repos: opt.includes_all_repositories.unwrap_or(team.all_repos),
        can_create: opt.can_create_org_repo.unwrap_or(team.can_create),
    };
    st.forge.update_team(&grant, &name, &settings).await?;
    let team = st.forge.team(&grant.lower::<Read>(), &name).await?;
    Ok(Json(team_json(grant.org(), &team)).into_response())
}

async fn delete_team(
    State(st): State<ApiState>,
    ApiTeam { grant, team, .. }: ApiTeam<Admin>,
) -> Result<StatusCode, ApiError> {
    st.forge.delete_team(&grant, &team_name(&team)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The member as a User object, 404 when the user is not in the team (Gitea's
/// `GetTeamMember`).
async fn show_member(
    State(st): State<ApiState>,
    ApiTeam { team, actor, .. }: ApiTeam,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if !team.members.iter().any(|m| m.eq_ignore_ascii_case(&name)) {
        return Err(ApiError::NotFound);
    }
    let profile = st.forge.profile(&username(&name)?).await?;
    let viewer = actor.0.as_ref().map(|a| &a.user);
    Ok(Json(ApiUser::new(&st.config.base_url, &profile, viewer)).into_response())
}

async fn add_member(
    State(st): State<ApiState>,
    ApiTeam { grant, team, .. }: ApiTeam<Admin>,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.forge
        .add_team_member(&grant, &team_name(&team)?, &username(&name)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(st): State<ApiState>,
    ApiTeam { grant, team, .. }: ApiTeam<Admin>,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.forge
        .remove_team_member(&grant, &team_name(&team)?, &username(&name)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The repository named by `{org}/{repo}`, which must be the team's organization's.
fn team_repo(grant_org: &str, org: &str, repo: &str) -> Result<RepoName, ApiError> {
    if !org.eq_ignore_ascii_case(grant_org) {
        return Err(ApiError::NotFound);
    }
    RepoName::parse(repo).map_err(|_| ApiError::NotFound)
}

/// The repository as a Repository object when the team's list holds it (or the team has all
/// of the organization's), 404 otherwise (Gitea's `GetTeamRepo`).
async fn show_repo(
    State(st): State<ApiState>,
    ApiTeam { grant, team, actor }: ApiTeam,
    Path((_, org, repo)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let name = team_repo(&grant.org().name, &org, &repo)?;
    if !team.all_repos
        && !team
            .repos
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name.as_str()))
    {
        return Err(ApiError::NotFound);
    }
    let path = RepoPath {
        owner: username(&grant.org().name)?,
        name,
    };
    let repo_grant = st.forge.authorize::<Read>(actor.0.as_ref(), &path).await?;
    super::repos::answer_repo(&st, &repo_grant).await
}

async fn add_repo(
    State(st): State<ApiState>,
    ApiTeam { grant, team, .. }: ApiTeam<Admin>,
    Path((_, org, repo)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let name = team_repo(&grant.org().name, &org, &repo)?;
    st.forge
        .add_team_repo(&grant, &team_name(&team)?, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_repo(
    State(st): State<ApiState>,
    ApiTeam { grant, team, .. }: ApiTeam<Admin>,
    Path((_, org, repo)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let name = team_repo(&grant.org().name, &org, &repo)?;
    st.forge
        .remove_team_repo(&grant, &team_name(&team)?, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
