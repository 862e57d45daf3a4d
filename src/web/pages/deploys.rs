//! `/OWNER/REPO/deploys` and `/OWNER/REPO/deploys/N`: runs, their logs (followed while they
//! run), re-run and cancel for writers; `POST /OWNER/REPO/deploys` deploys a chosen commit.
//! Readers see runs and logs (the deploy's `secret_env` values are redacted from them).

use crate::routes::{Need, Routes};
use crate::web::form::Form;
use askama::Template;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{RepoHeader, message_or_error, render};
use crate::domain::deploys::{DeployLogLine, DeployRun, format_duration, outcome_word};
use crate::git::compare::Ahead;
use crate::git::read::CommitId;
use crate::model::{Repo, RepoAccess, RepoName, RepoPath, Username};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{CsrfForm, MaybeUser, Nav, RequireUser};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/{owner}/{repo}/deploys", Need::READ, list_deploys)
        .post("/{owner}/{repo}/deploys", Need::WRITE, deploy_commit)
        .get("/{owner}/{repo}/deploys/{id}", Need::READ, show_deploy)
        .post(
            "/{owner}/{repo}/deploys/{id}/rerun",
            Need::WRITE,
            rerun_deploy,
        )
        .post(
            "/{owner}/{repo}/deploys/{id}/cancel",
            Need::WRITE,
            cancel_deploy,
        )
}

/// The repository if `actor` may read it, and whether they may also write.
async fn repo_access(
    st: &WebState,
    actor: Option<&crate::model::Actor>,
    owner: &str,
    name: &str,
) -> Result<(Repo, bool), WebError> {
    let path = RepoPath {
        owner: Username::parse(owner)?,
        name: RepoName::parse_url_segment(name)?,
    };
    // One lookup for both answers; unreadable is a 404, exactly as `authorize` says it.
    let (repo, level) = st.forge.access(actor, &path).await?;
    if level < RepoAccess::Read {
        return Err(WebError::NotFound);
    }
    Ok((repo, level >= RepoAccess::Write))
}

/// The deploys `actor` may start by hand on `repo` (empty unless they may write).
pub async fn startable_deploys(
    st: &WebState,
    actor: Option<&crate::model::Actor>,
    repo: &Repo,
) -> Result<Vec<String>, WebError> {
    // Most repositories have no deploy: then the commit page asks nothing more.
    let names: Vec<String> = st
        .forge
        .deploys
        .for_repo(repo)
        .map(|d| d.name.to_string())
        .collect();
    if names.is_empty() {
        return Ok(names);
    }
    let (_, can_write) = repo_access(st, actor, &repo.owner, &repo.name).await?;
    Ok(if can_write { names } else { Vec::new() })
}

pub struct RunRow {
    pub id: i64,
    pub deploy: String,
    pub status: String,
    pub status_text: String,
    pub commit: String,
    pub short: String,
    pub ref_name: String,
    pub by: String,
    pub reason: String,
    pub rerun_of: Option<i64>,
    pub exit_code: Option<i32>,
    pub duration: String,
    pub queued_age: String,
    pub queued_date: String,
    pub live: bool,
    pub truncated: bool,
    /// The commit's subject (empty until `annotate_runs`, or when the commit is gone).
    pub subject: String,
    /// What the run did: "deploy abc1234", or "rollback to abc1234" for a manual run of a commit
    /// older than the deploy's previous good one.
    pub label: String,
    /// The last good commit before this run, for a "changes since last good" link.
    pub since_good: Option<String>,
}

impl From<&DeployRun> for RunRow {
    fn from(r: &DeployRun) -> Self {
        let duration = match (r.started_at, r.finished_at) {
            (Some(s), Some(f)) => format_duration((f - s).as_seconds_f64()),
            (Some(s), None) => {
                let secs = (time::OffsetDateTime::now_utc() - s).as_seconds_f64();
                format!("{} so far", format_duration(secs))
            }
            _ => String::new(),
        };
        let queued = r.queued_at.unix_timestamp();
        RunRow {
            id: r.id,
            deploy: r.deploy_name.clone(),
            status: r.status.clone(),
            status_text: outcome_word(&r.status, r.exit_code),
            commit: r.new_id.clone(),
            short: r.new_id.chars().take(10).collect(),
            ref_name: r
                .ref_name
                .strip_prefix("refs/heads/")
                .unwrap_or(&r.ref_name)
                .to_owned(),
            by: r.triggered_by_name.clone(),
            reason: r.reason.clone(),
            rerun_of: r.rerun_of,
            exit_code: r.exit_code,
            duration,
            queued_age: crate::web::view::age(queued),
            queued_date: crate::web::view::date(queued),
            live: matches!(r.status.as_str(), "queued" | "running"),
            truncated: r.log_truncated,
            subject: String::new(),
            label: format!("deploy {}", r.new_id.chars().take(7).collect::<String>()),
            since_good: None,
        }
    }
}

/// Fills in what a run row needs from git: its commit's subject, whether a manual run was a
/// rollback, and the last good commit before it. `runs` are newest first; `older_good` is the
/// deploys' good runs known beyond the list (their newest), used when the list has none older.
/// `latest_good` are the ids of each deploy's newest good run: "changes since last good" on
/// the last good run itself would point at itself, so those rows get no such link.
async fn annotate_runs(
    st: &WebState,
    repo: &Repo,
    runs: &[DeployRun],
    older_good: &[DeployRun],
    latest_good: &[i64],
) -> Result<Vec<RunRow>, WebError> {
    // For each run: (its commit, the commit of the newest good run of its deploy before it).
    let asks: Vec<(String, Option<String>, bool)> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let before = runs[i + 1..]
                .iter()
                .chain(older_good.iter().filter(|g| g.id < run.id))
                .find(|g| g.deploy_name == run.deploy_name && g.status == "succeeded")
                .map(|g| g.new_id.clone());
            (run.new_id.clone(), before, run.reason == "manual")
        })
        .collect();
    let answers = st
        .forge
        .read_repo_row(repo, move |r| {
            Ok(asks
                .iter()
                .map(|(commit, before, manual)| {
                    let id = CommitId(commit.clone());
                    let subject = r.commit(&id).map(|c| c.subject).unwrap_or_default();
                    // Older: the previous good commit has it in its history and moved past it.
                    let rollback = *manual
                        && before.as_ref().is_some_and(|b| {
                            let good = CommitId(b.clone());
                            matches!(r.ahead(&id, &good, 1), Ok(Ahead::Exactly(0)))
                                && matches!(
                                    r.ahead(&good, &id, 1),
                                    Ok(Ahead::Exactly(1..) | Ahead::AtLeast(_))
                                )
                        });
                    (subject, rollback)
                })
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default();
    Ok(runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let mut row = RunRow::from(run);
            if let Some((subject, rollback)) = answers.get(i) {
                row.subject = subject.clone();
                if *rollback {
                    row.label = format!("rollback to {}", &row.commit[..row.commit.len().min(7)]);
                }
            }
            row.since_good = runs[i + 1..]
                .iter()
                .chain(older_good.iter().filter(|g| g.id < run.id))
                .find(|g| g.deploy_name == run.deploy_name && g.status == "succeeded")
                .map(|g| g.new_id.clone())
                .filter(|good| *good != run.new_id && !latest_good.contains(&run.id));
            row
        })
        .collect())
}

pub struct LastGood {
    pub id: i64,
    pub commit: String,
    pub short: String,
}

pub struct ConfiguredDeploy {
    pub name: String,
    pub trigger: String,
    pub last_good: Option<LastGood>,
}

/// The repository's deploys with each one's last good run, for this page and the summary.
pub async fn configured_deploys(
    st: &WebState,
    repo: &Repo,
) -> Result<Vec<ConfiguredDeploy>, WebError> {
    if st.forge.deploys.for_repo(repo).next().is_none() {
        return Ok(Vec::new()); // the summary of a repository without deploys asks nothing
    }
    let good = st.forge.last_good_deploys(repo).await?;
    Ok(st
        .forge
        .deploys
        .for_repo(repo)
        .map(|d| ConfiguredDeploy {
            name: d.name.to_string(),
            trigger: d.trigger_text(),
            last_good: good
                .iter()
                .find(|g| g.deploy_name == d.name.as_str())
                .map(|g| LastGood {
                    id: g.id,
                    commit: g.new_id.clone(),
                    short: g.new_id.chars().take(10).collect(),
                }),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "repo/deploys.html")]
struct DeploysPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    configured: Vec<ConfiguredDeploy>,
    runs: Vec<RunRow>,
    page: i64,
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<i64>,
}

async fn list_deploys(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let (repo, _) = repo_access(&st, user.actor(), &owner, &name).await?;
    let page = q.page.unwrap_or(1).max(1);
    let runs = st.forge.deploy_runs(&repo, page - 1).await?;
    let good = st.forge.last_good_deploys(&repo).await?;
    let latest: Vec<i64> = good.iter().map(|g| g.id).collect();
    render(DeploysPage {
        nav: user.nav(),
        repo: RepoHeader::new(&repo, &repo.default_branch),
        tab: "deploys",
        configured: configured_deploys(&st, &repo).await?,
        runs: annotate_runs(&st, &repo, &runs, &good, &latest).await?,
        page,
    })
}

pub struct LogRow {
    pub stream: String,
    pub time: String,
    pub line: String,
}

impl From<&DeployLogLine> for LogRow {
    fn from(l: &DeployLogLine) -> Self {
        let format = time::macros::format_description!("[hour]:[minute]:[second]");
        LogRow {
            stream: l.stream.clone(),
            time: l.at.format(&format).unwrap_or_default(),
            line: l.line.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "repo/deploy.html")]
struct DeployPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    run: RunRow,
    log: Vec<LogRow>,
    can_write: bool,
    message: String,
    /// The pusher who skipped the checks of the push that started this run.
    checks_skipped_by: Option<String>,
}

async fn deploy_page(
    st: &WebState,
    nav: Nav,
    repo: &Repo,
    can_write: bool,
    id: i64,
    message: String,
) -> Result<Response, WebError> {
    let run = st.forge.deploy_run(repo, id).await?;
    // The log, the good run before this one and each deploy's newest good run, at once.
    let (log, before, latest) = tokio::try_join!(
        st.forge.deploy_log(&run),
        st.forge.deploy_runs_before(repo, &run),
        st.forge.last_good_deploys(repo),
    )?;
    let latest: Vec<i64> = latest.iter().map(|g| g.id).collect();
    let row = annotate_runs(st, repo, std::slice::from_ref(&run), &before, &latest)
        .await?
        .pop()
        .expect("one row for one run because annotate_runs maps each run");
    render(DeployPage {
        nav,
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "deploys",
        run: row,
        log: log.iter().map(LogRow::from).collect(),
        can_write,
        message,
        checks_skipped_by: st.forge.checks_skipped_for_deploy(run.id).await?,
    })
}

async fn show_deploy(
    State(st): State<WebState>,
    user: MaybeUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
) -> Result<Response, WebError> {
    let (repo, can_write) = repo_access(&st, user.actor(), &owner, &name).await?;
    deploy_page(&st, user.nav(), &repo, can_write, id, String::new()).await
}

/// A writer's action on a run: the repository (404/403 as usual) and the run.
async fn writable_run(
    st: &WebState,
    user: &RequireUser,
    owner: &str,
    name: &str,
    id: i64,
) -> Result<(Repo, DeployRun), WebError> {
    let (repo, can_write) = repo_access(st, Some(&user.0.actor), owner, name).await?;
    if !can_write {
        return Err(WebError::Forbidden(
            "deploys are started and stopped by writers".into(),
        ));
    }
    let run = st.forge.deploy_run(&repo, id).await?;
    Ok((repo, run))
}

async fn rerun_deploy(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let (repo, run) = writable_run(&st, &user, &owner, &name, id).await?;
    match st.forge.rerun_deploy(&user.0.actor, &repo, &run).await {
        Ok(queued) => Ok(Redirect::to(&format!(
            "/{}/{}/deploys/{}",
            repo.owner, repo.name, queued.id
        ))
        .into_response()),
        Err(e) => {
            let message = message_or_error(e)?;
            deploy_page(&st, user.nav(), &repo, true, id, message).await
        }
    }
}

async fn cancel_deploy(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name, id)): Path<(String, String, i64)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let (repo, run) = writable_run(&st, &user, &owner, &name, id).await?;
    let message = match st.forge.cancel_deploy(&repo, &run).await {
        Ok(()) => "Cancelling.".to_owned(),
        Err(e) => message_or_error(e)?,
    };
    deploy_page(&st, user.nav(), &repo, true, id, message).await
}

#[derive(Deserialize)]
struct DeployCommitForm {
    csrf: String,
    deploy: String,
    commit: String,
}

async fn deploy_commit(
    State(st): State<WebState>,
    user: RequireUser,
    Path((owner, name)): Path<(String, String)>,
    Form(form): Form<DeployCommitForm>,
) -> Result<Response, WebError> {
    user.check_csrf(&form.csrf)?;
    let (repo, can_write) = repo_access(&st, Some(&user.0.actor), &owner, &name).await?;
    if !can_write {
        return Err(WebError::Forbidden("deploys are started by writers".into()));
    }
    let queued = st
        .forge
        .deploy_commit(&user.0.actor, &repo, &form.deploy, form.commit.trim())
        .await?;
    Ok(Redirect::to(&format!(
        "/{}/{}/deploys/{}",
        repo.owner, repo.name, queued.id
    ))
    .into_response())
}
