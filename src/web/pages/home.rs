//! `/` and `/OWNER`: for a signed-in user the home page is the dashboard (deploys, recent pushes
//! and issues, their repositories); otherwise, and on user pages, the repositories a visitor can
//! see, sortable and filtered on the server (no script needed).

use crate::routes::{Need, Routes};
use askama::Template;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::lab::{DeployBadge, ListControls, RepoItem};
use super::render;
use crate::domain::Read;
use crate::domain::dashboard::RepoSort;
use crate::model::Username;
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{MaybeUser, Nav};
use crate::web::view::{age, date};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/", Need::Public, show_home)
        .get("/{owner}", Need::Public, show_user)
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
}

impl ListQuery {
    fn sort(&self) -> RepoSort {
        RepoSort::parse(&self.sort)
    }
}

fn sort_word(sort: RepoSort) -> &'static str {
    match sort {
        RepoSort::Name => "name",
        RepoSort::LastPush => "pushed",
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    heading: String,
    /// Where the filter form and sort links point.
    action: String,
    controls: ListControls,
    repos: Vec<RepoItem>,
}

struct PushItem {
    owner: String,
    name: String,
    pusher: String,
    branch: String,
    /// (base, head) for a compare link when the push moved an existing ref.
    compare: Option<(String, String)>,
    short: String,
    deleted: bool,
    age: String,
    date: String,
}

struct IssueItem {
    owner: String,
    name: String,
    number: i64,
    title: String,
    closed: bool,
    age: String,
    date: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    deploys: Vec<DeployBadge>,
    pushes: Vec<PushItem>,
    issues: Vec<IssueItem>,
    action: String,
    controls: ListControls,
    repos: Vec<RepoItem>,
}

async fn show_home(
    State(st): State<WebState>,
    user: MaybeUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let Some(actor) = user.actor() else {
        return repo_list(&st, &user, None, "Repositories".into(), "/".into(), q).await;
    };
    let d = st.forge.dashboard(actor, &q.q, q.sort()).await?;
    let pushes = d
        .pushes
        .iter()
        .map(|(repo, p)| {
            let at = p.at.unix_timestamp();
            let zero = crate::model::ZERO_ID;
            PushItem {
                owner: repo.owner.clone(),
                name: repo.name.clone(),
                pusher: p.pusher_name.clone(),
                branch: p
                    .ref_name
                    .strip_prefix("refs/heads/")
                    .or_else(|| p.ref_name.strip_prefix("refs/tags/"))
                    .unwrap_or(&p.ref_name)
                    .to_owned(),
                compare: (p.old_id != zero && p.new_id != zero)
                    .then(|| (p.old_id.clone(), p.new_id.clone())),
                short: p.new_id.chars().take(7).collect(),
                deleted: p.new_id == zero,
                age: age(at),
                date: date(at),
            }
        })
        .collect();
    let issues = d
        .issues
        .iter()
        .map(|(repo, i)| {
            let at = i.at.unix_timestamp();
            IssueItem {
                owner: repo.owner.clone(),
                name: repo.name.clone(),
                number: i.number,
                title: i.title.clone(),
                closed: i.closed,
                age: age(at),
                date: date(at),
            }
        })
        .collect();
    render(DashboardPage {
        nav: user.nav(),
        deploys: d.deploys.iter().map(DeployBadge::from).collect(),
        pushes,
        issues,
        action: "/".into(),
        controls: ListControls {
            q: q.q.clone(),
            sort: sort_word(q.sort()),
            cut: d.cut,
        },
        repos: d.repos.iter().map(RepoItem::from).collect(),
    })
}

async fn repo_list(
    st: &WebState,
    user: &MaybeUser,
    owner: Option<&str>,
    heading: String,
    action: String,
    q: ListQuery,
) -> Result<Response, WebError> {
    let (repos, cut) = st
        .forge
        .repo_listings(user.actor(), owner, &q.q, q.sort())
        .await?;
    render(HomePage {
        nav: user.nav(),
        heading,
        action,
        controls: ListControls {
            q: q.q.clone(),
            sort: sort_word(q.sort()),
            cut,
        },
        repos: repos.iter().map(RepoItem::from).collect(),
    })
}

async fn show_user(
    State(st): State<WebState>,
    user: MaybeUser,
    Path(owner): Path<String>,
    Query(q): Query<ListQuery>,
    uri: axum::http::Uri,
) -> Result<Response, WebError> {
    let owner = Username::parse(&owner)?;
    if st.forge.is_org(&owner).await? {
        // An organization's page: `authorize_org` decides (a hidden one is the same 404).
        let grant = st.forge.authorize_org::<Read>(user.actor(), &owner).await?;
        let sort = q.sort();
        return super::orgs::show_org(&st, &user, grant, &q.q, sort, sort_word(sort)).await;
    }
    let owner = match st.forge.user(&owner).await {
        Ok(found) => found,
        Err(_) => return moved_owner(&st, &user, &owner, uri.query()).await,
    };
    let action = format!("/{}", owner.name);
    let heading = owner.name.clone();
    repo_list(&st, &user, Some(&owner.name), heading, action, q).await
}

/// A renamed user's or organization's old name: 301 to the new one, unless that is an
/// organization the visitor may not see (then the missing page, as for any unknown name).
async fn moved_owner(
    st: &WebState,
    user: &MaybeUser,
    old: &Username,
    query: Option<&str>,
) -> Result<Response, WebError> {
    let Some(now) = st.forge.owner_moved_to(old).await? else {
        return Err(WebError::NotFound);
    };
    let now = Username::parse(&now)?;
    if st.forge.is_org(&now).await?
        && st
            .forge
            .authorize_org::<Read>(user.actor(), &now)
            .await
            .is_err()
    {
        return Err(WebError::NotFound);
    }
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(crate::web::access::moved_permanently(&format!(
        "/{now}{query}"
    )))
}
