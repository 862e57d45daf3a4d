//! Organizations on the web: `/ORG` (its repositories, members and teams, through `home`'s
//! owner route), `/org/new`, `/org/ORG/settings` (profile, members, teams, deletion) and
//! `/org/ORG/teams/TEAM` (a team's members and repositories). Every org route takes its
//! decision from `OrgPage`/`OrgForm` (read to see, admin to manage); each settings form posts
//! an `action` to its page's address, which answers GET with the page.

use crate::routes::{Need, Routes};
use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::lab::{ListControls, RepoItem};
use super::{message_or_error, render};
use crate::domain::orgs::TeamSettings;
use crate::domain::{Admin, Error, OrgGrant, Read};
use crate::model::{Org, OrgMember, OrgVisibility, RepoAccess, RepoName, Team, TeamName, Username};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::form::Form;
use crate::web::org_access::{OrgForm, OrgPage};
use crate::web::session::{MaybeUser, Nav, RequireUser};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    let read = Need::Org(RepoAccess::Read);
    let admin = Need::Org(RepoAccess::Admin);
    Routes::new()
        .get("/org/new", Need::SignedIn, show_new_org)
        .post("/org/new", Need::SignedIn, create_org)
        .get("/org/{org}/settings", admin, show_settings)
        .post("/org/{org}/settings", admin, change_org)
        .get("/org/{org}/teams/{team}", read, show_team)
        .post("/org/{org}/teams/{team}", admin, change_team)
}

#[derive(Template)]
#[template(path = "org/page.html")]
struct OrgHome {
    nav: Nav,
    org: Org,
    manage: bool,
    action: String,
    controls: ListControls,
    repos: Vec<RepoItem>,
    members: Vec<OrgMember>,
    teams: Vec<Team>,
}

/// `/ORG`, from `home`'s owner route once the name is an organization's: the grant says the
/// visitor may see it.
pub(super) async fn show_org(
    st: &WebState,
    visitor: &MaybeUser,
    grant: OrgGrant<Read>,
    filter: &str,
    sort: crate::domain::dashboard::RepoSort,
    sort_word: &'static str,
) -> Result<Response, WebError> {
    let org = grant.org().clone();
    let (repos, cut) = st
        .forge
        .repo_listings(visitor.actor(), Some(&org.name), filter, sort)
        .await?;
    render(OrgHome {
        nav: visitor.nav(),
        manage: grant.at_least::<Admin>().is_some(),
        action: format!("/{}", org.name),
        controls: ListControls {
            q: filter.to_owned(),
            sort: sort_word,
            cut,
        },
        repos: repos.iter().map(RepoItem::from).collect(),
        members: st.forge.org_members(&grant).await?,
        teams: st.forge.teams(&grant).await?,
        org,
    })
}

#[derive(Template)]
#[template(path = "org/new.html")]
struct NewOrgPage {
    nav: Nav,
    message: String,
    name: String,
    description: String,
}

async fn show_new_org(user: RequireUser) -> Result<Response, WebError> {
    render(NewOrgPage {
        nav: user.nav(),
        message: String::new(),
        name: String::new(),
        description: String::new(),
    })
}

#[derive(Deserialize)]
struct NewOrgForm {
    csrf: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
}

async fn create_org(
    State(st): State<WebState>,
    user: RequireUser,
    Form(form): Form<NewOrgForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let created = match (
        Username::parse_new(form.name.trim()),
        form.visibility.parse::<OrgVisibility>(),
    ) {
        (Err(e), _) => Err(Error::InvalidInput(e.to_string())),
        (_, Err(e)) => Err(Error::InvalidInput(e.to_string())),
        (Ok(name), Ok(visibility)) => {
            st.forge
                .create_org(&user.0.actor, &name, &form.description, visibility)
                .await
        }
    };
    let message = match created {
        Ok(org) => return Ok(Redirect::to(&format!("/{}", org.name)).into_response()),
        Err(Error::Forbidden(why)) => why,
        Err(e) => message_or_error(e)?,
    };
    render(NewOrgPage {
        nav: user.nav(),
        message,
        name: form.name,
        description: form.description,
    })
}

#[derive(Template)]
#[template(path = "org/settings.html")]
struct SettingsPage {
    nav: Nav,
    org: Org,
    message: String,
    members: Vec<OrgMember>,
    teams: Vec<Team>,
}

async fn settings_page(
    st: &WebState,
    nav: Nav,
    grant: &OrgGrant<Admin>,
    message: String,
) -> Result<Response, WebError> {
    let read = grant.lower::<Read>();
    render(SettingsPage {
        nav,
        org: grant.org().clone(),
        message,
        members: st.forge.org_members(&read).await?,
        teams: st.forge.teams(&read).await?,
    })
}

async fn show_settings(
    State(st): State<WebState>,
    page: OrgPage<Admin>,
) -> Result<Response, WebError> {
    settings_page(&st, page.nav(), &page.grant, String::new()).await
}

/// Every form of the settings page: `action` says which, the other fields are its own.
#[derive(Deserialize)]
struct OrgAction {
    action: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    user: String,
    owner: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    access: String,
    all_repos: Option<String>,
    can_create: Option<String>,
    #[serde(default)]
    confirm: String,
}

fn team_settings(
    access: &str,
    all: &Option<String>,
    create: &Option<String>,
) -> Result<TeamSettings, Error> {
    Ok(TeamSettings {
        access: access.parse().map_err(Error::InvalidInput)?,
        all_repos: all.is_some(),
        can_create: create.is_some(),
    })
}

async fn change_org(
    State(st): State<WebState>,
    OrgForm { grant, user, form }: OrgForm<Admin, OrgAction>,
) -> Result<Response, WebError> {
    let f = &form;
    let done: Result<String, Error> = match f.action.as_str() {
        "profile" => match f.visibility.parse::<OrgVisibility>() {
            Ok(v) => st
                .forge
                .update_org(&grant, &f.description, v)
                .await
                .map(|()| "Saved.".to_owned()),
            Err(e) => Err(Error::InvalidInput(e.to_string())),
        },
        "add_member" => match Username::parse(f.user.trim()) {
            Ok(who) => st
                .forge
                .set_org_member(&grant, &who, f.owner.is_some())
                .await
                .map(|()| format!("{who} is a member.")),
            Err(e) => Err(e.into()),
        },
        "remove_member" => match Username::parse(f.user.trim()) {
            Ok(who) => st
                .forge
                .remove_org_member(&grant, &who)
                .await
                .map(|()| format!("{who} was removed.")),
            Err(e) => Err(e.into()),
        },
        "create_team" => match (
            TeamName::parse(f.name.trim()),
            team_settings(&f.access, &f.all_repos, &f.can_create),
        ) {
            (Ok(name), Ok(settings)) => st
                .forge
                .create_team(&grant, &name, &settings, &[])
                .await
                .map(|()| format!("Team {name} created.")),
            (Err(e), _) => Err(e.into()),
            (_, Err(e)) => Err(e),
        },
        "delete" => {
            let name = grant.org().name.clone();
            if f.confirm.trim() != name {
                Ok(format!("Type {name} exactly to delete it."))
            } else {
                match st.forge.delete_org(&grant).await {
                    Ok(()) => return Ok(Redirect::to("/").into_response()),
                    Err(e) => Err(e),
                }
            }
        }
        other => Err(Error::InvalidInput(format!("unknown action '{other}'"))),
    };
    let message = match done {
        Ok(m) => m,
        Err(e) => message_or_error(e)?,
    };
    // The page shows the organization as saved: read (and decided) again.
    let name = Username::parse(&grant.org().name)?;
    let grant = st
        .forge
        .authorize_org::<Admin>(Some(&user.0.actor), &name)
        .await?;
    settings_page(&st, user.nav(), &grant, message).await
}

#[derive(Deserialize)]
struct TeamPathParams {
    team: String,
}

#[derive(Template)]
#[template(path = "org/team.html")]
struct TeamPage {
    nav: Nav,
    org: Org,
    team: Team,
    manage: bool,
    message: String,
}

async fn team_page(
    st: &WebState,
    nav: Nav,
    grant: &OrgGrant<Read>,
    name: &TeamName,
    message: String,
) -> Result<Response, WebError> {
    let team = st.forge.team(grant, name).await?;
    render(TeamPage {
        nav,
        org: grant.org().clone(),
        manage: grant.at_least::<Admin>().is_some(),
        team,
        message,
    })
}

async fn show_team(
    State(st): State<WebState>,
    Path(TeamPathParams { team }): Path<TeamPathParams>,
    page: OrgPage<Read>,
) -> Result<Response, WebError> {
    let name = TeamName::parse(&team)?;
    team_page(&st, page.nav(), &page.grant, &name, String::new()).await
}

async fn change_team(
    State(st): State<WebState>,
    Path(TeamPathParams { team }): Path<TeamPathParams>,
    OrgForm { grant, user, form }: OrgForm<Admin, OrgAction>,
) -> Result<Response, WebError> {
    let team = TeamName::parse(&team)?;
    let f = &form;
    let user_name = Username::parse(f.user.trim());
    let repo_name = RepoName::parse(f.name.trim());
    let done: Result<String, Error> = match f.action.as_str() {
        "update" => match team_settings(&f.access, &f.all_repos, &f.can_create) {
            Ok(s) => st
                .forge
                .update_team(&grant, &team, &s)
                .await
                .map(|()| "Saved.".to_owned()),
            Err(e) => Err(e),
        },
        "add_member" => match user_name {
            Ok(who) => st
                .forge
                .add_team_member(&grant, &team, &who)
                .await
                .map(|()| format!("{who} is in {team}.")),
            Err(e) => Err(e.into()),
        },
        "remove_member" => match user_name {
            Ok(who) => st
                .forge
                .remove_team_member(&grant, &team, &who)
                .await
                .map(|()| format!("{who} left {team}.")),
            Err(e) => Err(e.into()),
        },
        "add_repo" => match repo_name {
            Ok(r) => st
                .forge
                .add_team_repo(&grant, &team, &r)
                .await
                .map(|()| format!("{team} covers {r}.")),
            Err(e) => Err(e.into()),
        },
        "remove_repo" => match repo_name {
            Ok(r) => st
                .forge
                .remove_team_repo(&grant, &team, &r)
                .await
                .map(|()| format!("{team} no longer covers {r}.")),
            Err(e) => Err(e.into()),
        },
        "delete" => {
            st.forge.delete_team(&grant, &team).await?;
            let to = format!("/org/{}/settings", grant.org().name);
            return Ok(Redirect::to(&to).into_response());
        }
        other => Err(Error::InvalidInput(format!("unknown action '{other}'"))),
    };
    let message = match done {
        Ok(m) => m,
        Err(e) => message_or_error(e)?,
    };
    team_page(&st, user.nav(), &grant.lower::<Read>(), &team, message).await
}
