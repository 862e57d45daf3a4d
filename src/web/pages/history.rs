//! `/commits/REF[/PATH]` (50 a page), `/branches`, `/tags`.

use crate::routes::{Need, Routes};
use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::message::{Piece, commit_words, link_message};
use super::{RefMenu, RepoHeader, read_at, render, with_menu};
use crate::domain::statuses::CommitStatus;
use crate::git::diff::{Change, DiffLimits, FileDiff};
use crate::git::read::CommitId;
use crate::web::WebState;
use crate::web::access::{RepoPage, Rest};
use crate::web::error::WebError;
use crate::web::highlight::{self, DiffLine};
use crate::web::session::Nav;
use crate::web::view::{CommitRow, StatusMark, age, date};

const PAGE_SIZE: usize = 50;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/{owner}/{repo}/commits/{*rest}", Need::READ, show_commits)
        .get("/{owner}/{repo}/commit/{id}", Need::READ, show_commit)
        .get("/{owner}/{repo}/blame/{*rest}", Need::READ, show_blame)
        .get("/{owner}/{repo}/branches", Need::READ, show_branches)
        .get("/{owner}/{repo}/tags", Need::READ, show_tags)
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
    /// `?follow=1`: a file's log across renames, as `git log --follow`.
    follow: Option<u8>,
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
    follow: bool,
    menu: RefMenu,
}

async fn show_commits(
    State(st): State<WebState>,
    visit: LogVisit,
    Path(Rest { rest }): Path<Rest>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let visit = match visit {
        LogVisit::Feed(grant) => {
            let stem = rest.strip_suffix(".atom").unwrap_or(&rest).to_owned();
            return super::feeds::commits_feed(st, grant, stem).await;
        }
        LogVisit::Page(visit) => visit,
    };
    let (repo, user) = (visit.repo(), &visit.visitor);
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let follow = q.follow == Some(1);
    let (at, ((commits, has_more), menu)) = read_at(&st, &visit.grant, rest, move |r, at| {
        if r.is_dir(&at.commit, &at.path)?.is_none() {
            return Ok(None); // a path that does not exist at this revision
        }
        let skip = (page - 1) * PAGE_SIZE;
        let log = if follow {
            r.log_following(&at.commit, &at.path, skip, PAGE_SIZE)?
        } else {
            r.log(&at.commit, &at.path, skip, PAGE_SIZE)?
        };
        with_menu(r, Some(log))
    })
    .await?;
    let mut commits: Vec<CommitRow> = commits.iter().map(CommitRow::from).collect();
    super::checks::mark_rows(&st, &visit.grant, commits.iter_mut()).await?;
    render(CommitsPage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &at.rev),
        tab: "commits",
        path: at.path.as_str().to_owned(),
        commits,
        page,
        has_more,
        follow,
        menu: menu.at("commits", &at),
    })
}

/// `/commits/REF[/PATH]` is a page, and with `.atom` a feed, whose readers authenticate as feed
/// readers do (see `feeds`): the one route takes either decision.
enum LogVisit {
    Page(RepoPage),
    Feed(super::feeds::FeedGrant),
}

impl<S> axum::extract::FromRequestParts<S> for LogVisit
where
    S: Send + Sync,
    WebState: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        if parts.uri.path().ends_with(".atom") {
            Ok(LogVisit::Feed(
                super::feeds::FeedGrant::from_request_parts(parts, state).await?,
            ))
        } else {
            Ok(LogVisit::Page(
                RepoPage::from_request_parts(parts, state).await?,
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "repo/refs.html")]
struct RefsPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    refs: Vec<(String, CommitRow)>,
}

async fn show_refs(st: WebState, page: RepoPage, tags: bool) -> Result<Response, WebError> {
    let refs = st
        .forge
        .read_repo(
            &page.grant,
            move |r| if tags { r.tags() } else { r.branches() },
        )
        .await?;
    let mut refs: Vec<(String, CommitRow)> = refs
        .iter()
        .map(|r| (r.name.clone(), CommitRow::from(&r.commit)))
        .collect();
    let repo = page.repo();
    super::checks::mark_rows(&st, &page.grant, refs.iter_mut().map(|(_, c)| c)).await?;
    render(RefsPage {
        nav: page.nav(),
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: if tags { "tags" } else { "branches" },
        refs,
    })
}

async fn show_branches(State(st): State<WebState>, page: RepoPage) -> Result<Response, WebError> {
    show_refs(st, page, false).await
}

async fn show_tags(State(st): State<WebState>, page: RepoPage) -> Result<Response, WebError> {
    show_refs(st, page, true).await
}

pub(super) struct FileView {
    pub(super) path: String,
    pub(super) change: &'static str,
    pub(super) additions: u32,
    pub(super) deletions: u32,
    pub(super) binary: bool,
    pub(super) skipped: bool,
    pub(super) lines: Arc<Vec<DiffLine>>,
}

/// The page's view of a commit's files, their diffs highlighted (see `highlight::diffs`).
pub(super) fn file_views(commit: &str, files: Vec<FileDiff>) -> Vec<FileView> {
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
    subject: Vec<Piece>,
    body: Vec<Piece>,
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
    /// The commit's current statuses (the newest per context) and their combined mark.
    statuses: Vec<StatusLine>,
    /// Statuses beyond those listed (a commit keeps up to `max_status_contexts`).
    more_statuses: usize,
    mark: Option<StatusMark>,
    /// (who, when) pushed it with `-o skip-checks`.
    checks_skipped: Vec<(String, String)>,
}

/// One context's status as the commit page lists it.
struct StatusLine {
    context: String,
    state: &'static str,
    description: String,
    /// Only http(s) links are shown as links (the API refuses anything else, too).
    target_url: Option<String>,
    by: String,
    age: String,
    /// The exact time, for the age's `title`.
    date: String,
}

/// `/commit/{id}`'s id (a commit id, or one with `.patch`).
#[derive(serde::Deserialize)]
struct CommitAt {
    id: String,
}

/// `/commit/SHA`: message, author, parents, changed files with counts and the diff, cut with a
/// notice when large; `/commit/SHA.patch`: the whole patch as text.
async fn show_commit(
    State(st): State<WebState>,
    page: RepoPage,
    Path(CommitAt { id }): Path<CommitAt>,
) -> Result<Response, WebError> {
    let (repo, user) = (page.repo(), &page.visitor);
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
        .read_repo(&page.grant, move |r| {
            let Some(mut diff) = r.commit_diff(&CommitId(id.clone()), limits)? else {
                return Ok(None);
            };
            // Words of the message that name commits here, with their full ids.
            let message = format!("{}\n{}", diff.commit.subject, diff.commit.body);
            let mut commits = HashMap::new();
            for word in commit_words(&message) {
                if let Some(at) = r.resolve(&word)?.filter(|a| a.rev == word) {
                    commits.insert(word, at.commit.0);
                }
            }
            // Highlighting is CPU work: done here, on the blocking pool with the diff.
            let files = if patch {
                Vec::new()
            } else {
                file_views(&diff.commit.id.0, std::mem::take(&mut diff.files))
            };
            Ok(Some((diff, files, commits)))
        })
        .await?;
    let (diff, files, commits) = found.ok_or(WebError::NotFound)?;
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
    // Three independent lookups, at once: the page waits for one round trip, not three.
    let (issues, combined, skipped) = tokio::try_join!(
        st.forge.mentioned_issues(&page.grant, &message),
        st.forge.latest_statuses(
            &page.grant,
            std::slice::from_ref(&c.id.0),
            crate::domain::statuses::SHOWN_ON_COMMIT
        ),
        st.forge.checks_skipped_for(&page.grant, &c.id.0),
    )?;
    let combined = combined.get(&c.id.0);
    let statuses = combined
        .map(|all| all.statuses.iter().map(StatusLine::from).collect())
        .unwrap_or_default();
    let more_statuses = combined.map_or(0, |all| all.more());
    let checks_skipped = skipped
        .into_iter()
        .map(|(who, at)| (who, date(at.unix_timestamp())))
        .collect();
    let base = format!("/{}/{}", repo.owner, repo.name);
    let issue_urls: HashMap<i64, String> = issues
        .iter()
        .map(|i| (i.number, format!("{base}/issues/{}", i.number)))
        .collect();
    let commit_urls: HashMap<String, String> = commits
        .into_iter()
        .map(|(word, full)| (word, format!("{base}/commit/{full}")))
        .collect();
    render(CommitPage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &c.id.0),
        tab: "commits",
        id: c.id.0.clone(),
        subject: link_message(&c.subject, &issue_urls, &commit_urls),
        body: link_message(&c.body, &issue_urls, &commit_urls),
        author: c.author_name.clone(),
        email: c.author_email.clone(),
        age: age(c.time),
        date: date(c.time),
        parents: c.parents.iter().map(|p| p.0.clone()).collect(),
        truncated: diff.truncated,
        listing_cut: diff.listing_cut,
        files,
        deploys: super::deploys::startable_deploys(&st, &page.grant),
        issues: issues
            .into_iter()
            .map(|i| (i.number, i.title.clone(), i.is_open()))
            .collect(),
        statuses,
        more_statuses,
        mark: combined.map(StatusMark::from),
        checks_skipped,
    })
}

impl From<&CommitStatus> for StatusLine {
    fn from(s: &CommitStatus) -> Self {
        let link = s.target_url.starts_with("http://") || s.target_url.starts_with("https://");
        StatusLine {
            context: s.context.clone(),
            state: s.state.as_str(),
            description: s.description.clone(),
            target_url: link.then(|| s.target_url.clone()),
            by: s.creator_name.clone(),
            age: age(s.updated_at.unix_timestamp()),
            date: date(s.updated_at.unix_timestamp()),
        }
    }
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
    author: String,
    age: String,
    date: String,
    /// `2026-11-26`, the column that lines up down the annotations.
    day: String,
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
    menu: RefMenu,
}

async fn show_blame(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Rest { rest }): Path<Rest>,
) -> Result<Response, WebError> {
    let (repo, user) = (page.repo(), &page.visitor);
    let (at, (blame, menu)) = read_at(&st, &page.grant, rest, |r, at| {
        if r.is_dir(&at.commit, &at.path)? != Some(false) {
            return Ok(None); // only files have a blame
        }
        let blame = r.blame(&at.commit, &at.path, BLAME_BUDGET)?;
        with_menu(r, Some(blame))
    })
    .await?;
    let (rows, complete, too_large) = match blame {
        None => (Vec::new(), true, true),
        Some(b) => {
            let commits: Vec<CommitRow> = b.commits.iter().map(CommitRow::from).collect();
            let days: Vec<String> = b
                .commits
                .iter()
                .map(|c| crate::web::view::day(c.time))
                .collect();
            let mut previous = None;
            let rows = b
                .lines
                .into_iter()
                .zip(b.origin)
                .map(|(line, origin)| {
                    let first = previous != Some(origin);
                    previous = Some(origin);
                    // Only a run's first line shows its commit: the others carry no copies.
                    let origin = origin.filter(|_| first);
                    let c = origin.map(|i| &commits[i]);
                    BlameRow {
                        line,
                        first,
                        commit: c.map(|c| c.id.clone()).unwrap_or_default(),
                        short: c.map(|c| c.short.clone()).unwrap_or_default(),
                        subject: c.map(|c| c.subject.clone()).unwrap_or_default(),
                        author: c.map(|c| c.author.clone()).unwrap_or_default(),
                        age: c.map(|c| c.age.clone()).unwrap_or_default(),
                        date: c.map(|c| c.date.clone()).unwrap_or_default(),
                        day: origin.map(|i| days[i].clone()).unwrap_or_default(),
                    }
                })
                .collect();
            (rows, b.complete, false)
        }
    };
    render(BlamePage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &at.rev),
        tab: "code",
        path: at.path.as_str().to_owned(),
        rows,
        complete,
        too_large,
        menu: menu.at("blame", &at),
    })
}
