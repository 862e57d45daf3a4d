//! One module per group of pages, each exporting `router()`.

pub mod auth;
pub mod deploys;
pub mod history;
pub mod home;
pub mod issues;
pub mod repo;
pub mod repo_hooks;
pub mod repo_mirrors;
pub mod repo_settings;
pub mod settings;

use super::WebState;
use super::error::WebError;
use super::session::MaybeUser;
use crate::git::GitError;
use crate::git::read::{Reader, Resolved};
use crate::model::{Repo, RepoAccess, RepoName, RepoPath, Username};

/// The repository named in the URL, if the visitor may read it (else a 404, never a 403: a
/// private repository's existence does not leak).
async fn readable_repo(
    st: &WebState,
    user: &MaybeUser,
    owner: &str,
    name: &str,
) -> Result<Repo, WebError> {
    let path = RepoPath {
        owner: Username::parse(owner)?,
        name: RepoName::parse_url_segment(name)?,
    };
    Ok(st
        .forge
        .authorize(user.actor(), &path, RepoAccess::Read)
        .await?)
}

/// What every repository page's header shows.
pub struct RepoHeader {
    pub owner: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    pub default_branch: String,
    /// The revision the page is at (a branch, tag or commit id), for the tabs' links.
    pub rev: String,
    /// For the Issues tab.
    pub open_issues: Option<i64>,
}

impl RepoHeader {
    fn new(repo: &Repo, rev: &str) -> Self {
        Self {
            owner: repo.owner.clone(),
            name: repo.name.clone(),
            description: repo.description.clone(),
            is_private: repo.is_private,
            default_branch: repo.default_branch.clone(),
            rev: rev.to_owned(),
            open_issues: repo.open_issues,
        }
    }
}

fn render(page: impl askama::Template) -> Result<axum::response::Response, WebError> {
    use axum::response::IntoResponse;
    let html = page.render().map_err(|e| WebError::Internal(e.into()))?;
    Ok(super::assets::with_page_csp(
        axum::response::Html(html).into_response(),
    ))
}

/// The common shape of pages at `REF/PATH`: resolve `rest` in the repository, then read what
/// the page needs with `f` (None from either step is a 404), all on the blocking pool.
async fn read_at<T, F>(
    st: &WebState,
    repo: &Repo,
    rest: String,
    f: F,
) -> Result<(Resolved, T), WebError>
where
    T: Send + 'static,
    F: Fn(&Reader, &Resolved) -> Result<Option<T>, GitError> + Send + 'static,
{
    let found = st
        .forge
        .read_repo(repo, move |r| {
            let Some(at) = r.resolve(&rest)? else {
                return Ok(None);
            };
            Ok(f(r, &at)?.map(|value| (at, value)))
        })
        .await?;
    found.ok_or(WebError::NotFound)
}

/// A refusal the page shows as a message (bad input, a name taken); anything else is an error.
fn message_or_error(e: crate::domain::Error) -> Result<String, WebError> {
    match e {
        crate::domain::Error::InvalidInput(m) | crate::domain::Error::Conflict(m) => Ok(m),
        other => Err(other.into()),
    }
}
