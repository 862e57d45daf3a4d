//! `/` and `/OWNER`: the repositories a visitor can see.

use askama::Template;
use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;
use axum::routing::get;

use super::render;
use crate::model::{Repo, Username};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{MaybeUser, Nav};

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new()
        .route("/", get(show_home))
        .route("/{owner}", get(show_user))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    heading: String,
    repos: Vec<Repo>,
}

async fn show_home(State(st): State<WebState>, user: MaybeUser) -> Result<Response, WebError> {
    let repos = st.forge.listed_repos(user.actor(), None).await?;
    render(HomePage {
        nav: user.nav(),
        heading: "Repositories".into(),
        repos,
    })
}

async fn show_user(
    State(st): State<WebState>,
    user: MaybeUser,
    Path(owner): Path<String>,
) -> Result<Response, WebError> {
    let owner = Username::parse(&owner)?;
    let owner = st
        .forge
        .user(&owner)
        .await
        .map_err(|_| WebError::NotFound)?;
    let repos = st
        .forge
        .listed_repos(user.actor(), Some(&owner.name))
        .await?;
    render(HomePage {
        nav: user.nav(),
        heading: owner.name,
        repos,
    })
}
