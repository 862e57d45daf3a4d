//! `/commits/REF[/PATH]` (50 a page), `/branches`, `/tags`.

use askama::Template;
use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::{RepoHeader, readable_repo, render};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::view::CommitRow;

const PAGE_SIZE: usize = 50;

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new()
        .route("/{owner}/{repo}/commits/{*rest}", get(show_commits))
        .route("/{owner}/{repo}/branches", get(show_branches))
        .route("/{owner}/{repo}/tags", get(show_tags))
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

#[derive(Template)]
#[template(path = "repo/commits.html")]
struct CommitsPage {
    repo: RepoHeader,
    tab: &'static str,
    path: String,
    commits: Vec<CommitRow>,
    page: usize,
    has_more: bool,
}

async fn show_commits(
    State(st): State<WebState>,
    Path((owner, name, rest)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &owner, &name).await?;
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let found = st
        .forge
        .read_repo(&repo, move |r| {
            let Some(at) = r.resolve(&rest)? else {
                return Ok(None);
            };
            if r.is_dir(&at.commit, &at.path)?.is_none() {
                return Ok(None); // a path that does not exist at this revision
            }
            let (commits, more) = r.log(&at.commit, &at.path, (page - 1) * PAGE_SIZE, PAGE_SIZE)?;
            Ok(Some((at, commits, more)))
        })
        .await?;
    let (at, commits, has_more) = found.ok_or(WebError::NotFound)?;
    render(CommitsPage {
        repo: RepoHeader::new(&repo, &at.rev),
        tab: "commits",
        path: at.path.as_str().to_owned(),
        commits: commits.iter().map(CommitRow::from).collect(),
        page,
        has_more,
    })
}

#[derive(Template)]
#[template(path = "repo/refs.html")]
struct RefsPage {
    repo: RepoHeader,
    tab: &'static str,
    refs: Vec<(String, CommitRow)>,
}

async fn show_refs(
    st: WebState,
    owner: String,
    name: String,
    tags: bool,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &owner, &name).await?;
    let refs = st
        .forge
        .read_repo(&repo, move |r| if tags { r.tags() } else { r.branches() })
        .await?;
    render(RefsPage {
        repo: RepoHeader::new(&repo, &repo.default_branch),
        tab: if tags { "tags" } else { "branches" },
        refs: refs
            .iter()
            .map(|r| (r.name.clone(), CommitRow::from(&r.commit)))
            .collect(),
    })
}

async fn show_branches(
    State(st): State<WebState>,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_refs(st, owner, name, false).await
}

async fn show_tags(
    State(st): State<WebState>,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_refs(st, owner, name, true).await
}
