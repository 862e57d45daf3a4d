//! `/OWNER/REPO/checks` and `/OWNER/REPO/checks/N`: check runs and their output (a failed check's
//! status links here); and the status marks other pages put beside commits.

use crate::routes::{Need, Routes};
use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;

use super::{RepoHeader, render};
use crate::domain::check_runs::CheckRun;
use crate::domain::deploys::format_duration;
use crate::domain::{Grant, Level};
use crate::model::{CheckOutcome, LogStream};
use crate::web::WebState;
use crate::web::access::{Id, RepoPage};
use crate::web::error::WebError;
use crate::web::session::Nav;
use crate::web::view::{CommitRow, StatusMark, age, date};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/{owner}/{repo}/checks", Need::READ, list_checks)
        .get("/{owner}/{repo}/checks/{id}", Need::READ, show_check)
}

/// The combined status marks of `ids` (full commit ids) that have any statuses, read through
/// the page's grant.
pub async fn marks<L: Level>(
    st: &WebState,
    grant: &Grant<L>,
    ids: &[String],
) -> Result<HashMap<String, StatusMark>, WebError> {
    Ok(st
        .forge
        .latest_statuses(grant, ids, crate::domain::statuses::SHOWN_IN_MARK)
        .await?
        .iter()
        .map(|(sha, combined)| (sha.clone(), StatusMark::from(combined)))
        .collect())
}

/// Sets each row's mark (one query for all of them).
pub async fn mark_rows<'a, L: Level>(
    st: &WebState,
    grant: &Grant<L>,
    rows: impl IntoIterator<Item = &'a mut CommitRow>,
) -> Result<(), WebError> {
    let mut rows: Vec<&mut CommitRow> = rows.into_iter().collect();
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let found = marks(st, grant, &ids).await?;
    for row in &mut rows {
        row.mark = found.get(&row.id).cloned();
    }
    Ok(())
}

pub struct CheckRow {
    pub id: i64,
    pub name: String,
    pub outcome: CheckOutcome,
    pub outcome_text: String,
    pub ref_name: String,
    pub commit: String,
    pub short: String,
    pub pusher: String,
    pub duration: String,
    pub age: String,
    pub date: String,
    pub exit_code: Option<i32>,
    pub sandboxed: bool,
    pub truncated: bool,
}

impl From<&CheckRun> for CheckRow {
    fn from(r: &CheckRun) -> Self {
        let started = r.started_at.unix_timestamp();
        CheckRow {
            id: r.id,
            name: r.check_name.clone(),
            outcome: r.outcome,
            outcome_text: match (r.outcome, r.exit_code) {
                (CheckOutcome::Failed, Some(code)) => format!("failed (exit {code})"),
                (CheckOutcome::TimedOut, _) => "timed out".into(),
                (CheckOutcome::Error, _) => "could not run".into(),
                (other @ (CheckOutcome::Passed | CheckOutcome::Failed), _) => other.to_string(),
            },
            ref_name: r
                .ref_name
                .strip_prefix("refs/heads/")
                .unwrap_or(&r.ref_name)
                .to_owned(),
            commit: r.new_id.clone(),
            short: r.new_id.chars().take(10).collect(),
            pusher: r.pusher_name.clone(),
            duration: format_duration((r.finished_at - r.started_at).as_seconds_f64()),
            age: age(started),
            date: date(started),
            exit_code: r.exit_code,
            sandboxed: r.sandboxed,
            truncated: r.log_truncated,
        }
    }
}

#[derive(Template)]
#[template(path = "repo/checks.html")]
struct ChecksPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    runs: Vec<CheckRow>,
}

async fn list_checks(State(st): State<WebState>, page: RepoPage) -> Result<Response, WebError> {
    let repo = page.repo();
    let runs = st.forge.check_runs(&page.grant).await?;
    render(ChecksPage {
        nav: page.nav(),
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "checks",
        runs: runs.iter().map(CheckRow::from).collect(),
    })
}

#[derive(Template)]
#[template(path = "repo/check.html")]
struct CheckPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    run: CheckRow,
    /// (stream, line): the check's output, and labforge's notes.
    log: Vec<(LogStream, String)>,
}

async fn show_check(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Id { id }): Path<Id>,
) -> Result<Response, WebError> {
    let repo = page.repo();
    let run = st.forge.check_run(&page.grant, id).await?;
    let log = st.forge.check_log(&page.grant, &run).await?;
    render(CheckPage {
        nav: page.nav(),
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "checks",
        run: CheckRow::from(&run),
        log: log.into_iter().map(|l| (l.stream, l.line)).collect(),
    })
}
