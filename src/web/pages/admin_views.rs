//! The read-only site administration pages: the overview (version, database, scheduled
//! backups), every repository (size on disk, last push, visibility, mirror state), the running
//! configuration with secrets redacted and the deploys and checks defined, and the audit log.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::admin::{PageQuery, Pager};
use super::render;
use crate::config::shown::{ShownSetting, running};
use crate::model::Secrets;
use crate::web::WebState;
use crate::web::access::AdminPage;
use crate::web::error::WebError;
use crate::web::session::Nav;
use crate::web::view::{When, plural};

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    version: &'static str,
    database: String,
    backup: crate::model::BackupStatus,
    deploys: usize,
    checks: usize,
}

pub(super) async fn show_overview(
    State(st): State<WebState>,
    page: AdminPage,
) -> Result<Response, WebError> {
    let database = match st.config.database_url {
        Some(_) => "external (DATABASE_URL; its address is not shown)".to_owned(),
        None => format!(
            "managed by labforge, in {}",
            st.config.data_dir.join("pg").display()
        ),
    };
    let backup = st
        .forge
        .backup_status()
        .lock()
        .expect("backup status is never poisoned: no code panics while holding it")
        .clone();
    render(OverviewPage {
        nav: page.user.nav(),
        tab: "overview",
        message: String::new(),
        version: env!("CARGO_PKG_VERSION"),
        database,
        backup,
        deploys: st.forge.deploy_state().configs().len(),
        checks: st.forge.check_state().configs().len(),
    })
}

struct RepoRow {
    path: String,
    private: bool,
    size: String,
    pushed: Option<When>,
    mirror: String,
}

#[derive(Template)]
#[template(path = "admin/repos.html")]
struct ReposPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    repos: Vec<RepoRow>,
    pager: Pager,
}

/// `1.2 MiB`, and `at least …` when the walk stopped at its cap.
fn size_text(size: Option<crate::git::DiskUsage>) -> String {
    let Some(size) = size else {
        return "no folder".to_owned();
    };
    let b = size.bytes as f64;
    let text = if b < 1024.0 {
        format!("{} B", size.bytes)
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    };
    if size.capped {
        format!("at least {text}")
    } else {
        text
    }
}

fn mirror_text(row: &crate::storage::AdminRepoRow) -> String {
    let mut parts = Vec::new();
    match (&row.pull_error, row.pull_success_at) {
        (Some(e), _) if !e.is_empty() => parts.push("pull mirror: failing".to_owned()),
        (Some(_), Some(t)) => parts.push(format!("pull mirror: synced {}", When::at(t).age)),
        (Some(_), None) => parts.push("pull mirror: not synced yet".to_owned()),
        (None, _) => {}
    }
    if row.push_mirrors > 0 {
        let n = usize::try_from(row.push_mirrors).unwrap_or(usize::MAX);
        let mut text = format!("pushes to {}", plural(n, "mirror", "mirrors"));
        if row.push_mirrors_failing > 0 {
            text.push_str(&format!(", {} failing", row.push_mirrors_failing));
        }
        parts.push(text);
    }
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join("; ")
    }
}

pub(super) async fn show_repos(
    State(st): State<WebState>,
    page: AdminPage,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let paged = st.forge.repos_page(&page.admin, q.number()).await?;
    let pager = Pager::of(&paged);
    render(ReposPage {
        nav: page.user.nav(),
        tab: "repos",
        message: String::new(),
        repos: paged
            .rows
            .into_iter()
            .map(|r| RepoRow {
                path: format!("{}/{}", r.row.owner, r.row.name),
                private: r.row.is_private,
                size: size_text(r.size),
                pushed: r.row.pushed_at.map(When::at),
                mirror: mirror_text(&r.row),
            })
            .collect(),
        pager,
    })
}

struct DeployRow {
    name: String,
    repo: String,
    trigger: String,
    run: String,
    timeout: u64,
    env: String,
}

struct CheckRow {
    name: String,
    repo: String,
    trigger: String,
    paths: String,
    run: String,
    timeout: u64,
    sandbox: bool,
}

#[derive(Template)]
#[template(path = "admin/config.html")]
struct ConfigPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    settings: Vec<ShownSetting>,
    deploys: Vec<DeployRow>,
    checks: Vec<CheckRow>,
}

/// The program and its arguments, with any deploy secret among them redacted.
fn command(run: &std::path::Path, args: &[String], secrets: &Secrets) -> String {
    let mut text = run.display().to_string();
    for a in args {
        text.push(' ');
        text.push_str(a);
    }
    secrets.redact(&text).0.into_owned()
}

pub(super) async fn show_config(
    State(st): State<WebState>,
    page: AdminPage,
) -> Result<Response, WebError> {
    // Every deploy's secret values, so none shows through another's arguments either.
    let deploys = st.forge.deploy_state().configs();
    let secrets = Secrets::new(deploys.iter().flat_map(|d| d.secrets.iter().cloned()));
    let checks = st.forge.check_state().configs();
    render(ConfigPage {
        nav: page.user.nav(),
        tab: "config",
        message: String::new(),
        settings: running(&st.config),
        deploys: deploys
            .iter()
            .map(|d| DeployRow {
                name: d.name.to_string(),
                repo: d.repo.to_string(),
                trigger: d.trigger_text(),
                run: command(&d.run, &d.args, &secrets),
                timeout: d.timeout.as_secs(),
                // Names only: `secret_env` values are secrets, and `env` may hold one by mistake.
                env: d
                    .env
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        checks: checks
            .iter()
            .map(|c| CheckRow {
                name: c.name.to_string(),
                repo: c.repo.as_str().to_owned(),
                trigger: c.trigger.text(),
                paths: c
                    .paths
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                run: command(&c.run, &c.args, &secrets),
                timeout: c.timeout.as_secs(),
                sandbox: c.sandbox,
            })
            .collect(),
    })
}

struct AuditRow {
    when: When,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    tab: &'static str,
    message: String,
    entries: Vec<AuditRow>,
    pager: Pager,
}

pub(super) async fn show_audit(
    State(st): State<WebState>,
    page: AdminPage,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let paged = st.forge.audit_log(&page.admin, q.number()).await?;
    let pager = Pager::of(&paged);
    render(AuditPage {
        nav: page.user.nav(),
        tab: "audit",
        message: String::new(),
        entries: paged
            .rows
            .into_iter()
            .map(|e| AuditRow {
                when: When::at(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
            })
            .collect(),
        pager,
    })
}
