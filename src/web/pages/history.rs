//! `/commits/REF[/PATH]` (50 a page), `/branches`, `/tags`.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::{RepoHeader, read_at, readable_repo, render};
use crate::git::diff::{Change, DiffLimits, FileDiff};
use crate::git::read::CommitId;
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::highlight::{self, DiffLine};
use crate::web::session::{MaybeUser, Nav};
use crate::web::view::{CommitRow, age, date};

const PAGE_SIZE: usize = 50;

pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new()
        .route("/{owner}/{repo}/commits/{*rest}", get(show_commits))
        .route("/{owner}/{repo}/commit/{id}", get(show_commit))
        .route("/{owner}/{repo}/blame/{*rest}", get(show_blame))
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
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    path: String,
    commits: Vec<CommitRow>,
    page: usize,
    has_more: bool,
}

async fn show_commits(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name, rest)): Path<(String, String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &user, &owner, &name).await?;
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let (at, (commits, has_more)) = read_at(&st, &repo, rest, move |r, at| {
        if r.is_dir(&at.commit, &at.path)?.is_none() {
            return Ok(None); // a path that does not exist at this revision
        }
        r.log(&at.commit, &at.path, (page - 1) * PAGE_SIZE, PAGE_SIZE)
            .map(Some)
    })
    .await?;
    render(CommitsPage {
        nav: user.nav(),
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
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    refs: Vec<(String, CommitRow)>,
}

async fn show_refs(
    st: WebState,
    user: MaybeUser,
    owner: String,
    name: String,
    tags: bool,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &user, &owner, &name).await?;
    let refs = st
        .forge
        .read_repo(&repo, move |r| if tags { r.tags() } else { r.branches() })
        .await?;
    render(RefsPage {
        nav: user.nav(),
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
    user: MaybeUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_refs(st, user, owner, name, false).await
}

async fn show_tags(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    show_refs(st, user, owner, name, true).await
}

struct FileView {
    path: String,
    change: &'static str,
    additions: u32,
    deletions: u32,
    binary: bool,
    skipped: bool,
    lines: Arc<Vec<DiffLine>>,
}

/// The page's view of a commit's files, their diffs highlighted (see `highlight::diffs`).
fn file_views(commit: &str, files: Vec<FileDiff>) -> Vec<FileView> {
    let hunks: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.path.as_str(), f.hunks.as_str()))
        .collect();
    let lines = highlight::diffs(commit, &hunks);
    files
        .into_iter()
        .zip(lines.iter())
        .map(|(f, lines)| FileView {
            lines: Arc::clone(lines),
            path: f.path,
            change: match f.change {
                Change::Added => "added",
                Change::Modified => "modified",
                Change::Deleted => "deleted",
            },
            additions: f.additions,
            deletions: f.deletions,
            binary: f.binary,
            skipped: f.skipped,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "repo/commit.html")]
struct CommitPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    id: String,
    subject: String,
    body: String,
    author: String,
    email: String,
    age: String,
    date: String,
    parents: Vec<String>,
    files: Vec<FileView>,
    truncated: bool,
    /// The list of files was cut: the commit changes more than a page reads.
    listing_cut: bool,
    /// "Deploy this commit" buttons, for writers.
    deploys: Vec<String>,
    /// (number, title, open) of the issues the message mentions.
    issues: Vec<(i64, String, bool)>,
}

/// `/commit/SHA`: message, author, parents, changed files with counts and the diff, cut with a
/// notice when large; `/commit/SHA.patch`: the whole patch as text.
async fn show_commit(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name, id)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &user, &owner, &name).await?;
    let (id, patch) = match id.strip_suffix(".patch") {
        Some(stem) => (stem.to_owned(), true),
        None => (id, false),
    };
    let limits = if patch {
        DiffLimits::PATCH
    } else {
        DiffLimits::PAGE
    };
    let found = st
        .forge
        .read_repo(&repo, move |r| {
            let Some(mut diff) = r.commit_diff(&CommitId(id.clone()), limits)? else {
                return Ok(None);
            };
            // Highlighting is CPU work: done here, on the blocking pool with the diff.
            let files = if patch {
                Vec::new()
            } else {
                file_views(&diff.commit.id.0, std::mem::take(&mut diff.files))
            };
            Ok(Some((diff, files)))
        })
        .await?;
    let (diff, files) = found.ok_or(WebError::NotFound)?;
    if patch {
        use axum::response::IntoResponse;
        let headers = [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            ),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ];
        return Ok((headers, diff.to_patch()).into_response());
    }
    let c = &diff.commit;
    let message = format!("{}\n\n{}", c.subject, c.body);
    let issues = st.forge.mentioned_issues(&repo, &message).await?;
    render(CommitPage {
        nav: user.nav(),
        repo: RepoHeader::new(&repo, &c.id.0),
        tab: "commits",
        id: c.id.0.clone(),
        subject: c.subject.clone(),
        body: c.body.clone(),
        author: c.author_name.clone(),
        email: c.author_email.clone(),
        age: age(c.time),
        date: date(c.time),
        parents: c.parents.iter().map(|p| p.0.clone()).collect(),
        truncated: diff.truncated,
        listing_cut: diff.listing_cut,
        files,
        deploys: super::deploys::startable_deploys(&st, user.actor(), &repo).await?,
        issues: issues
            .into_iter()
            .map(|i| (i.number, i.title.clone(), i.is_open()))
            .collect(),
    })
}

/// How long a blame page waits for the blame before showing the lines traced so far (the
/// blame goes on in the background; the page reloads until it is complete).
const BLAME_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

struct BlameRow {
    line: String,
    /// First line of a run of lines from the same commit: the commit is shown there.
    first: bool,
    commit: String,
    short: String,
    subject: String,
    age: String,
    date: String,
}

#[derive(Template)]
#[template(path = "repo/blame.html")]
struct BlamePage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    path: String,
    rows: Vec<BlameRow>,
    complete: bool,
    too_large: bool,
}

async fn show_blame(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name, rest)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &user, &owner, &name).await?;
    let (at, blame) = read_at(&st, &repo, rest, |r, at| {
        if r.is_dir(&at.commit, &at.path)? != Some(false) {
            return Ok(None); // only files have a blame
        }
        r.blame(&at.commit, &at.path, BLAME_BUDGET).map(Some)
    })
    .await?;
    let (rows, complete, too_large) = match blame {
        None => (Vec::new(), true, true),
        Some(b) => {
            let commits: Vec<CommitRow> = b.commits.iter().map(CommitRow::from).collect();
            let mut previous = None;
            let rows = b
                .lines
                .into_iter()
                .zip(b.origin)
                .map(|(line, origin)| {
                    let first = previous != Some(origin);
                    previous = Some(origin);
                    let c = origin.map(|i| &commits[i]);
                    BlameRow {
                        line,
                        first,
                        commit: c.map(|c| c.id.clone()).unwrap_or_default(),
                        short: c.map(|c| c.short.clone()).unwrap_or_default(),
                        subject: c.map(|c| c.subject.clone()).unwrap_or_default(),
                        age: c.map(|c| c.age.clone()).unwrap_or_default(),
                        date: c.map(|c| c.date.clone()).unwrap_or_default(),
                    }
                })
                .collect();
            (rows, b.complete, false)
        }
    };
    render(BlamePage {
        nav: user.nav(),
        repo: RepoHeader::new(&repo, &at.rev),
        tab: "code",
        path: at.path.as_str().to_owned(),
        rows,
        complete,
        too_large,
    })
}
