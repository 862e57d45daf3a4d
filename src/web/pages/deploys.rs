//! `/OWNER/REPO/deploys` and `/OWNER/REPO/deploys/N`: runs, their logs (followed while they
//! run), re-run and cancel for writers; `POST /OWNER/REPO/deploys` deploys a chosen commit.
//! Readers see runs and logs (the deploy's `secret_env` values are redacted from them).

use crate::routes::{Need, Routes};
use askama::Template;
use axum::extract::{FromRef, FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{RepoHeader, message_or_error, render};
use crate::domain::deploys::{DeployLogLine, DeployRun, format_duration, outcome_word};
use crate::domain::{Grant, Level, Read, Write};
use crate::git::compare::Ahead;
use crate::git::read::CommitId;
use crate::model::{DeployReason, DeployStatus, LogStream};
use crate::web::WebState;
use crate::web::access::{Id, RepoForm, RepoPage};
use crate::web::error::WebError;
use crate::web::session::{Nav, RequireUser};

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

/// The deploys the visitor may start by hand (empty unless the grant proves they may write).
pub fn startable_deploys<L: Level>(st: &WebState, grant: &Grant<L>) -> Vec<String> {
    if grant.at_least::<Write>().is_none() {
        return Vec::new();
    }
    st.forge
        .configured_deploys(grant)
        .iter()
        .map(|d| d.name.to_string())
        .collect()
}

pub struct RunRow {
    pub id: i64,
    pub deploy: String,
    pub status: DeployStatus,
    pub status_text: String,
    pub commit: String,
    pub short: String,
    pub ref_name: String,
    pub by: String,
    pub reason: DeployReason,
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
            status: r.status,
            status_text: outcome_word(r.status, r.exit_code),
            commit: r.new_id.clone(),
            short: r.new_id.chars().take(10).collect(),
            ref_name: r
                .ref_name
                .strip_prefix("refs/heads/")
                .unwrap_or(&r.ref_name)
                .to_owned(),
            by: r.triggered_by_name.clone(),
            reason: r.reason,
            rerun_of: r.rerun_of,
            exit_code: r.exit_code,
            duration,
            queued_age: crate::web::view::age(queued),
            queued_date: crate::web::view::date(queued),
            live: r.status.is_live(),
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
async fn annotate_runs<L: Level>(
    st: &WebState,
    grant: &Grant<L>,
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
                .find(|g| g.deploy_name == run.deploy_name && g.status == DeployStatus::Succeeded)
                .map(|g| g.new_id.clone());
            (
                run.new_id.clone(),
                before,
                run.reason == DeployReason::Manual,
            )
        })
        .collect();
    let answers = st
        .forge
        .read_repo(grant, move |r| {
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
                .find(|g| g.deploy_name == run.deploy_name && g.status == DeployStatus::Succeeded)
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
pub async fn configured_deploys<L: Level>(
    st: &WebState,
    grant: &Grant<L>,
) -> Result<Vec<ConfiguredDeploy>, WebError> {
    let configured = st.forge.configured_deploys(grant);
    if configured.is_empty() {
        return Ok(Vec::new()); // the summary of a repository without deploys asks nothing
    }
    let good = st.forge.last_good_deploys(grant).await?;
    Ok(configured
        .into_iter()
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
    page_of: RepoPage,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let (grant, repo) = (&page_of.grant, page_of.repo());
    let page = q.page.unwrap_or(1).max(1);
    let runs = st.forge.deploy_runs(grant, page - 1).await?;
    let good = st.forge.last_good_deploys(grant).await?;
    let latest: Vec<i64> = good.iter().map(|g| g.id).collect();
    render(DeploysPage {
        nav: page_of.nav(),
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "deploys",
        configured: configured_deploys(&st, grant).await?,
        runs: annotate_runs(&st, grant, &runs, &good, &latest).await?,
        page,
    })
}

pub struct LogRow {
    pub stream: LogStream,
    pub time: String,
    pub line: String,
}

impl From<&DeployLogLine> for LogRow {
    fn from(l: &DeployLogLine) -> Self {
        let format = time::macros::format_description!("[hour]:[minute]:[second]");
        LogRow {
            stream: l.stream,
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

async fn deploy_page<L: Level>(
    st: &WebState,
    nav: Nav,
    grant: &Grant<L>,
    id: i64,
    message: String,
) -> Result<Response, WebError> {
    let repo = grant.repo();
    let run = st.forge.deploy_run(grant, id).await?;
    // The log, the good run before this one and each deploy's newest good run, at once.
    let (log, before, latest) = tokio::try_join!(
        st.forge.deploy_log(grant, &run),
        st.forge.deploy_runs_before(grant, &run),
        st.forge.last_good_deploys(grant),
    )?;
    let latest: Vec<i64> = latest.iter().map(|g| g.id).collect();
    let row = annotate_runs(st, grant, std::slice::from_ref(&run), &before, &latest)
        .await?
        .pop()
        .expect("one row for one run because annotate_runs maps each run");
    render(DeployPage {
        nav,
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "deploys",
        run: row,
        log: log.iter().map(LogRow::from).collect(),
        // Writers get the re-run and cancel buttons.
        can_write: grant.at_least::<Write>().is_some(),
        message,
        checks_skipped_by: st.forge.checks_skipped_for_deploy(run.id).await?,
    })
}

async fn show_deploy(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Id { id }): Path<Id>,
) -> Result<Response, WebError> {
    deploy_page(&st, page.nav(), &page.grant, id, String::new()).await
}

/// A writer's form on a repository's deploys: `RepoForm<Write, T>`, except that a reader who
/// may see the runs is told 403 with `T::REFUSAL`, as these pages always answered, rather than
/// the 404 a level too low gets elsewhere.
struct WriterForm<T> {
    grant: Grant<Write>,
    user: RequireUser,
    form: T,
}

/// What a reader is told when posting form `Self`.
trait WritersOnly {
    const REFUSAL: &'static str;
}

impl<S, T> FromRequest<S> for WriterForm<T>
where
    S: Send + Sync,
    WebState: FromRef<S>,
    T: DeserializeOwned + WritersOnly,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let RepoForm { grant, user, form } = RepoForm::<Read, T>::from_request(req, state).await?;
        let grant = grant
            .at_least::<Write>()
            .ok_or_else(|| WebError::Forbidden(T::REFUSAL.into()).into_response())?;
        Ok(WriterForm { grant, user, form })
    }
}

/// Re-run and cancel post nothing but their CSRF token (checked by `RepoForm`).
#[derive(Deserialize)]
struct NoFields {}

impl WritersOnly for NoFields {
    const REFUSAL: &'static str = "deploys are started and stopped by writers";
}

async fn rerun_deploy(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    WriterForm { grant, user, .. }: WriterForm<NoFields>,
) -> Result<Response, WebError> {
    let run = st.forge.deploy_run(&grant, id).await?;
    match st.forge.rerun_deploy(&grant, &run).await {
        Ok(queued) => Ok(Redirect::to(&format!(
            "/{}/{}/deploys/{}",
            grant.repo().owner,
            grant.repo().name,
            queued.id
        ))
        .into_response()),
        Err(e) => {
            let message = message_or_error(e)?;
            deploy_page(&st, user.nav(), &grant, id, message).await
        }
    }
}

async fn cancel_deploy(
    State(st): State<WebState>,
    Path(Id { id }): Path<Id>,
    WriterForm { grant, user, .. }: WriterForm<NoFields>,
) -> Result<Response, WebError> {
    let run = st.forge.deploy_run(&grant, id).await?;
    let message = match st.forge.cancel_deploy(&grant, &run).await {
        Ok(()) => "Cancelling.".to_owned(),
        Err(e) => message_or_error(e)?,
    };
    deploy_page(&st, user.nav(), &grant, id, message).await
}

#[derive(Deserialize)]
struct DeployCommitForm {
    deploy: String,
    commit: String,
}

impl WritersOnly for DeployCommitForm {
    const REFUSAL: &'static str = "deploys are started by writers";
}

async fn deploy_commit(
    State(st): State<WebState>,
    WriterForm { grant, form, .. }: WriterForm<DeployCommitForm>,
) -> Result<Response, WebError> {
    let queued = st
        .forge
        .deploy_commit(&grant, &form.deploy, form.commit.trim())
        .await?;
    Ok(Redirect::to(&format!(
        "/{}/{}/deploys/{}",
        grant.repo().owner,
        grant.repo().name,
        queued.id
    ))
    .into_response())
}
