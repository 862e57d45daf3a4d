//! `/OWNER/REPO/issues` with its filters, and `/issues/new`.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{LabelView, form_message, preview};
use crate::domain::{IssueQuery, IssueRules, IssueState, Read};
use crate::web::WebState;
use crate::web::access::{RepoForm, RepoPage};
use crate::web::error::WebError;
use crate::web::pages::{RepoHeader, render};
use crate::web::session::{Nav, RequireUser};
use crate::web::view::{age, date};

const PER_PAGE: i64 = 25;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    state: Option<String>,
    /// Comma-separated label names; issues carry all of them.
    label: Option<String>,
    author: Option<String>,
    q: Option<String>,
    page: Option<i64>,
}

pub(super) struct IssueRow {
    number: i64,
    title: String,
    is_open: bool,
    author: String,
    age: String,
    date: String,
    comments: i32,
    labels: Vec<LabelView>,
}

#[derive(Template)]
#[template(path = "repo/issues/list.html")]
struct ListPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    issues: Vec<IssueRow>,
    labels: Vec<LabelView>,
    state: &'static str,
    label: String,
    author: String,
    q: String,
    page: i64,
    has_more: bool,
    open_count: i64,
    closed_count: i64,
    can_participate: bool,
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl ListPage {
    /// The list's address with the current filters and another state or page.
    fn href(&self, state: &str, page: i64) -> String {
        let mut out = format!("?state={state}");
        for (k, v) in [
            ("label", &self.label),
            ("author", &self.author),
            ("q", &self.q),
        ] {
            if !v.is_empty() {
                out.push_str(&format!("&{k}={}", encode(v)));
            }
        }
        if page > 1 {
            out.push_str(&format!("&page={page}"));
        }
        out
    }

    /// The address filtered by one label, as chips link.
    fn label_href(&self, name: &str) -> String {
        format!("?state={}&label={}", self.state, encode(name))
    }
}

pub(super) async fn show_issues(
    State(st): State<WebState>,
    visit: RepoPage,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let who = &visit.grant;
    let state = IssueState::parse(q.state.as_deref());
    let label = q.label.unwrap_or_default();
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let query = IssueQuery {
        state,
        labels: label.split(',').map(str::to_owned).collect(),
        author: q.author.clone(),
        text: q.q.clone(),
        page,
        per_page: PER_PAGE,
    };
    let list = st.forge.list_issues(who, &query).await?;
    let labels = st.forge.labels(who).await?;
    render(ListPage {
        nav: visit.nav(),
        repo: RepoHeader::new(who.repo(), &who.repo().default_branch),
        tab: "issues",
        issues: list
            .issues
            .iter()
            .map(|(i, labels)| IssueRow {
                number: i.number,
                title: i.title.clone(),
                is_open: i.is_open(),
                author: i.author.clone(),
                age: age(i.created_at.unix_timestamp()),
                date: date(i.created_at.unix_timestamp()),
                comments: i.comment_count,
                labels: labels.iter().map(LabelView::from).collect(),
            })
            .collect(),
        labels: labels.iter().map(LabelView::from).collect(),
        state: state.as_str(),
        label,
        author: q.author.unwrap_or_default(),
        q: q.q.unwrap_or_default(),
        page,
        has_more: list.has_more,
        open_count: list.open_count,
        closed_count: list.closed_count,
        can_participate: who.can_participate(),
    })
}

#[derive(Template)]
#[template(path = "repo/issues/new.html")]
struct NewPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    title: String,
    body: String,
    preview: Option<String>,
    message: String,
}

/// The form to open an issue. A visitor who is not signed in is sent to sign in first, before
/// the repository is looked at (as for the form's POST).
pub(super) async fn new_issue(user: RequireUser, page: RepoPage) -> Result<Response, WebError> {
    let repo = page.repo();
    render(NewPage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "issues",
        title: String::new(),
        body: String::new(),
        preview: None,
        message: String::new(),
    })
}

#[derive(Deserialize)]
pub(super) struct NewForm {
    title: String,
    #[serde(default)]
    body: String,
    /// `preview` re-renders the form; anything else submits.
    #[serde(default)]
    action: String,
}

pub(super) async fn create_issue(
    State(st): State<WebState>,
    RepoForm {
        grant: who,
        user,
        form,
    }: RepoForm<Read, NewForm>,
) -> Result<Response, WebError> {
    let mut page = NewPage {
        nav: user.nav(),
        repo: RepoHeader::new(who.repo(), &who.repo().default_branch),
        tab: "issues",
        title: form.title.clone(),
        body: form.body.clone(),
        preview: None,
        message: String::new(),
    };
    if form.action == "preview" {
        page.preview = Some(preview(&st, &who, &form.body).await?);
        return render(page);
    }
    match st.forge.open_issue(&who, &form.title, &form.body).await {
        Ok(issue) => Ok(Redirect::to(&format!(
            "/{}/{}/issues/{}",
            who.repo().owner,
            who.repo().name,
            issue.number
        ))
        .into_response()),
        Err(e) => {
            page.message = form_message(e)?;
            render(page)
        }
    }
}
