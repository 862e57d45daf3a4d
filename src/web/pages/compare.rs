//! `/OWNER/REPO/compare/BASE...HEAD` (three dots, as GitHub): the commits in HEAD that BASE does
//! not have and the diff from their merge base, with the commit page's bounds and highlighting.

use crate::routes::{Need, Routes};
use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;

use super::history::{FileView, file_views};
use super::{RepoHeader, render};
use crate::git::diff::DiffLimits;
use crate::web::WebState;
use crate::web::access::RepoPage;
use crate::web::error::WebError;
use crate::web::session::Nav;
use crate::web::view::{CommitRow, plural};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new().get("/{owner}/{repo}/compare/{*spec}", Need::READ, show_compare)
}

#[derive(Template)]
#[template(path = "repo/compare.html")]
struct ComparePage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    base: String,
    head: String,
    commits: Vec<CommitRow>,
    count: String,
    more_commits: bool,
    merge_base: String,
    merge_short: String,
    files: Vec<FileView>,
    truncated: bool,
    listing_cut: bool,
}

/// `BASE...HEAD` split at its three dots; each side a branch, tag or commit id.
fn parse_spec(spec: &str) -> Option<(&str, &str)> {
    let (base, head) = spec.split_once("...")?;
    let ok = |s: &str| !s.is_empty() && !s.starts_with('/') && !s.ends_with('/');
    (ok(base) && ok(head)).then_some((base, head))
}

/// `/compare/{*spec}`: `BASE...HEAD`.
#[derive(serde::Deserialize)]
struct Spec {
    spec: String,
}

async fn show_compare(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Spec { spec }): Path<Spec>,
) -> Result<Response, WebError> {
    let (repo, user) = (page.repo(), &page.visitor);
    let (base, head) = parse_spec(&spec).ok_or(WebError::NotFound)?;
    let (base, head) = (base.to_owned(), head.to_owned());
    let found = st
        .forge
        .read_repo(&page.grant, move |r| {
            // Each side must name a commit, not a path under one.
            let at = |rev: &str| -> Result<Option<_>, crate::git::GitError> {
                Ok(r.resolve(rev)?.filter(|a| a.path.is_root()))
            };
            let (Some(b), Some(h)) = (at(&base)?, at(&head)?) else {
                return Ok(None);
            };
            let cmp = r.compare(&b.commit, &h.commit, DiffLimits::PAGE)?;
            let key = format!("{}...{}", b.commit.0, h.commit.0);
            let mut cmp = cmp;
            let files = file_views(&key, std::mem::take(&mut cmp.files));
            Ok(Some((b.rev, h.rev, cmp, files)))
        })
        .await?;
    let (base, head, cmp, files) = found.ok_or(WebError::NotFound)?;
    render(ComparePage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &head),
        tab: "commits",
        count: format!(
            "{}{}",
            plural(cmp.commits.len(), "commit", "commits"),
            if cmp.more_commits { " or more" } else { "" }
        ),
        commits: cmp.commits.iter().map(CommitRow::from).collect(),
        more_commits: cmp.more_commits,
        merge_short: cmp
            .merge_base
            .as_ref()
            .map(|c| c.short().to_owned())
            .unwrap_or_default(),
        merge_base: cmp.merge_base.map(|c| c.0).unwrap_or_default(),
        base,
        head,
        files,
        truncated: cmp.truncated,
        listing_cut: cmp.listing_cut,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_spec;

    #[test]
    fn three_dots_split_base_and_head() {
        assert_eq!(parse_spec("main...feature/x"), Some(("main", "feature/x")));
        assert_eq!(parse_spec("v1...abc1234"), Some(("v1", "abc1234")));
        assert_eq!(parse_spec("main..feature"), None);
        assert_eq!(parse_spec("...main"), None);
        assert_eq!(parse_spec("main..."), None);
    }
}
