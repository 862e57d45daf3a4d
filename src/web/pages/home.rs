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
    heading: String,
    repos: Vec<Repo>,
}

async fn show_home(State(st): State<WebState>) -> Result<Response, WebError> {
    let repos = st.forge.listed_repos(None, None).await?;
    render(HomePage {
        heading: "Repositories".into(),
        repos,
    })
}

async fn show_user(
    State(st): State<WebState>,
    Path(owner): Path<String>,
) -> Result<Response, WebError> {
    let owner = Username::parse(&owner)?;
    let user = st
        .forge
        .user(&owner)
        .await
        .map_err(|_| WebError::NotFound)?;
    let repos = st.forge.listed_repos(None, Some(&user.name)).await?;
    render(HomePage {
        heading: user.name,
        repos,
    })
}
