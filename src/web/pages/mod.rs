//! One module per group of pages, each exporting `router()`.

pub mod admin;
mod admin_user;
mod admin_views;
pub mod auth;
pub mod checks;
pub mod compare;
pub mod deploys;
pub mod edit;
pub mod feeds;
pub mod history;
pub mod home;
pub mod issues;
pub mod lab;
pub mod message;
pub mod orgs;
pub mod repo;
pub mod repo_deploy_keys;
pub mod repo_hooks;
pub mod repo_mirrors;
pub mod repo_settings;
pub mod settings;
mod settings_frame;

use super::WebState;
use super::error::WebError;
use crate::git::GitError;
use crate::git::read::{Reader, Resolved};
use crate::model::Repo;

/// What every repository page's header shows.
pub struct RepoHeader {
    pub owner: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    /// Archived: read-only, said under the title on every page.
    pub is_archived: bool,
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
            is_archived: repo.is_archived,
            default_branch: repo.default_branch.clone(),
            rev: rev.to_owned(),
            open_issues: repo.open_issues,
        }
    }
}

/// Branches and tags the switcher menu offers (names only, at most this many of each).
const MENU_REFS: usize = 100;

/// The branch/tag switcher of tree, blob, log and blame pages: a `<details>` menu of links to
/// the same page and path at another ref (no script needed).
pub struct RefMenu {
    /// The page's URL segment: `tree`, `blob`, `commits` or `blame`.
    pub kind: &'static str,
    /// The path the links keep (empty at the root).
    pub path: String,
    pub branches: Vec<String>,
    pub tags: Vec<String>,
    /// More refs than the menu lists.
    pub cut: bool,
    /// What the current revision is: `branch`, `tag` or `at` (a commit id).
    pub rev_kind: &'static str,
}

impl RefMenu {
    fn read(r: &Reader) -> Result<Self, GitError> {
        let (branches, more_branches) = r.ref_names("refs/heads/", MENU_REFS)?;
        let (tags, more_tags) = r.ref_names("refs/tags/", MENU_REFS)?;
        Ok(Self {
            kind: "",
            path: String::new(),
            branches,
            tags,
            cut: more_branches || more_tags,
            rev_kind: "at",
        })
    }

    fn at(mut self, kind: &'static str, at: &Resolved) -> Self {
        self.kind = kind;
        self.path = at.path.as_str().to_owned();
        self.rev_kind = if self.branches.contains(&at.rev) {
            "branch"
        } else if self.tags.contains(&at.rev) {
            "tag"
        } else {
            "at"
        };
        self
    }
}

/// `found` with the switcher's refs read beside it (nothing read when there is nothing).
fn with_menu<T>(r: &Reader, found: Option<T>) -> Result<Option<(T, RefMenu)>, GitError> {
    match found {
        Some(value) => Ok(Some((value, RefMenu::read(r)?))),
        None => Ok(None),
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
async fn read_at<L: crate::domain::Level, T, F>(
    st: &WebState,
    grant: &crate::domain::Grant<L>,
    rest: String,
    f: F,
) -> Result<(Resolved, T), WebError>
where
    T: Send + 'static,
    F: Fn(&Reader, &Resolved) -> Result<Option<T>, GitError> + Send + 'static,
{
    let found = st
        .forge
        .read_repo(grant, move |r| {
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
