//! `/OWNER/REPO/checks` and `/OWNER/REPO/checks/N`: check runs and their output (a failed check's
//! status links here); and the status marks other pages put beside commits.

use crate::routes::{Need, Routes};
use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;

use super::{RepoHeader, readable_repo, render};
use crate::domain::check_runs::CheckRun;
use crate::domain::deploys::format_duration;
use crate::model::Repo;
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{MaybeUser, Nav};
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

/// The combined status marks of `ids` (full commit ids) that have any statuses.
pub async fn marks(
    st: &WebState,
    repo: &Repo,
    ids: &[String],
) -> Result<HashMap<String, StatusMark>, WebError> {
    Ok(st
        .forge
        .latest_statuses(repo, ids, crate::domain::statuses::SHOWN_IN_MARK)
        .await?
        .iter()
        .map(|(sha, combined)| (sha.clone(), StatusMark::from(combined)))
        .collect())
}

/// Sets each row's mark (one query for all of them).
pub async fn mark_rows<'a>(
    st: &WebState,
    repo: &Repo,
    rows: impl IntoIterator<Item = &'a mut CommitRow>,
) -> Result<(), WebError> {
    let mut rows: Vec<&mut CommitRow> = rows.into_iter().collect();
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let found = marks(st, repo, &ids).await?;
    for row in &mut rows {
        row.mark = found.get(&row.id).cloned();
    }
    Ok(())
}

pub struct CheckRow {
    pub id: i64,
    pub name: String,
    pub outcome: String,
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
            outcome: r.outcome.clone(),
            outcome_text: match (r.outcome.as_str(), r.exit_code) {
                ("failed", Some(code)) => format!("failed (exit {code})"),
                ("timed_out", _) => "timed out".into(),
                ("error", _) => "could not run".into(),
                (other, _) => other.into(),
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

async fn list_checks(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &user, &owner, &name).await?;
    let runs = st.forge.check_runs(&repo).await?;
    render(ChecksPage {
        nav: user.nav(),
        repo: RepoHeader::new(&repo, &repo.default_branch),
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
    /// (stream, line): 'o' the check's output, 's' labforge's notes.
    log: Vec<(String, String)>,
}

async fn show_check(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> Result<Response, WebError> {
    let repo = readable_repo(&st, &user, &owner, &name).await?;
    let run = st.forge.check_run(&repo, id).await?;
    let log = st.forge.check_log(&run).await?;
    render(CheckPage {
        nav: user.nav(),
        repo: RepoHeader::new(&repo, &repo.default_branch),
        tab: "checks",
        run: CheckRow::from(&run),
        log: log.into_iter().map(|l| (l.stream, l.line)).collect(),
    })
}
