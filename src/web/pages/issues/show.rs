//! `/OWNER/REPO/issues/N`: the issue, its timeline, and the forms to comment, close, reopen,
//! edit and label it.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{LabelView, Number, NumberId, form_message, known_refs, markdown_of, preview, refused};
use crate::domain::{Grant, IssueRules, Level, Read};
use crate::git::read::CommitId;
use crate::model::{IssueStatus, Label, TimelineEvent, TimelineKind};
use crate::web::WebState;
use crate::web::access::{RepoForm, RepoPage};
use crate::web::error::WebError;
use crate::web::pages::{RepoHeader, render};
use crate::web::session::Nav;
use crate::web::view::{age, date};

struct CommentView {
    id: i64,
    author: String,
    html: String,
    body: String,
    can_edit: bool,
    edited: bool,
}

struct EventView {
    kind: String,
    actor: String,
    age: String,
    date: String,
    comment: Option<CommentView>,
    label: Option<LabelView>,
    commit: Option<String>,
    short: String,
    source_number: Option<i64>,
    old_title: String,
}

/// The commit whose push closed the issue, as its header names it: a short id and the subject,
/// which says what the fix was without a click.
struct ClosingCommit {
    id: String,
    short: String,
    /// Empty when the commit can no longer be read (the repository was rewritten).
    subject: String,
}

/// The closing commit's subject, read from git once per page (only for issues a push closed).
async fn closing_commit<L: Level>(
    st: &WebState,
    grant: &Grant<L>,
    id: Option<&str>,
) -> Option<ClosingCommit> {
    let id = CommitId(id?.to_owned());
    let wanted = id.clone();
    let subject = st
        .forge
        .read_repo(grant, move |r| {
            Ok(r.commit(&wanted).map(|c| c.subject).ok())
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    Some(ClosingCommit {
        short: id.short().to_owned(),
        id: id.0,
        subject,
    })
}

/// What a form that went back to the page carried (a preview, or a refusal to show).
#[derive(Default)]
struct Draft {
    message: String,
    comment: String,
    comment_preview: Option<String>,
    /// (title, body, preview) of the issue's edit form, open when set.
    edit: Option<(String, String, Option<String>)>,
    /// (comment id, body, preview) of a comment's edit form.
    comment_edit: Option<(i64, String, Option<String>)>,
}

#[derive(Template)]
#[template(path = "repo/issues/show.html")]
struct IssuePage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    number: i64,
    title: String,
    body: String,
    body_html: String,
    is_open: bool,
    author: String,
    age: String,
    date: String,
    closed_by: String,
    closed_by_commit: Option<ClosingCommit>,
    labels: Vec<LabelView>,
    /// Every label of the repository and whether the issue carries it (for writers' form).
    label_choices: Vec<(LabelView, bool)>,
    timeline: Vec<EventView>,
    signed_in: bool,
    can_participate: bool,
    can_edit: bool,
    can_triage: bool,
    draft: Draft,
}

impl IssuePage {
    fn edit_title(&self) -> &str {
        self.draft.edit.as_ref().map_or(&self.title, |e| &e.0)
    }
    fn edit_body(&self) -> &str {
        self.draft.edit.as_ref().map_or(&self.body, |e| &e.1)
    }
    fn edit_preview(&self) -> Option<&str> {
        self.draft.edit.as_ref().and_then(|e| e.2.as_deref())
    }
    /// The body a comment's edit form shows: the draft's for the comment being edited.
    fn comment_edit_body<'a>(&'a self, c: &'a CommentView) -> &'a str {
        match &self.draft.comment_edit {
            Some((id, body, _)) if *id == c.id => body,
            _ => &c.body,
        }
    }
    fn comment_edit_preview(&self, id: i64) -> Option<&str> {
        match &self.draft.comment_edit {
            Some((cid, _, preview)) if *cid == id => preview.as_deref(),
            _ => None,
        }
    }
    fn editing_comment(&self, id: i64) -> bool {
        matches!(&self.draft.comment_edit, Some((cid, _, _)) if *cid == id)
    }
}

fn label_of(e: &TimelineEvent) -> Option<LabelView> {
    let name = e.label_name.clone()?;
    Some(LabelView::from(&Label {
        id: 0,
        name,
        color: e.label_color.clone().unwrap_or_else(|| "#cccccc".into()),
        description: String::new(),
    }))
}

async fn issue_page<L: Level>(
    st: &WebState,
    nav: Nav,
    who: &Grant<L>,
    number: i64,
    draft: Draft,
) -> Result<Response, WebError> {
    let repo = who.repo();
    let (issue, labels) = st.forge.issue(who, number).await?;
    let closing = if issue.is_open() {
        None
    } else {
        issue.closed_by_commit.as_deref()
    };
    let (events, closed_by_commit) = tokio::join!(
        st.forge.timeline(who, &issue),
        closing_commit(st, who, closing)
    );
    let events = events?;
    let texts = std::iter::once(issue.body.as_str()).chain(
        events
            .iter()
            .filter_map(|e| e.comment.as_ref().map(|c| c.body.as_str())),
    );
    let known = known_refs(st, who, texts).await?;
    let all_labels = if who.can_triage() {
        st.forge.labels(who).await?
    } else {
        Vec::new()
    };
    // Every text of the page rendered in one blocking task (from the memo when seen before).
    let shown: Vec<_> = events
        .iter()
        .filter(|e| e.kind != TimelineKind::Opened)
        .collect();
    let mut docs = vec![markdown_of(repo, &issue.body, &known)];
    docs.extend(
        shown
            .iter()
            .filter_map(|e| e.comment.as_ref())
            .map(|c| markdown_of(repo, &c.body, &known)),
    );
    let mut html = crate::web::markdown::render_all(docs).await.into_iter();
    let body_html = html.next().map(|h| h.to_string()).unwrap_or_default();
    let timeline = shown
        .into_iter()
        .map(|e| EventView {
            kind: e.kind.to_string(),
            actor: e.actor.clone(),
            age: age(e.created_at.unix_timestamp()),
            date: date(e.created_at.unix_timestamp()),
            comment: e.comment.as_ref().map(|c| CommentView {
                id: c.id,
                author: c.author.clone(),
                html: html.next().map(|h| h.to_string()).unwrap_or_default(),
                body: c.body.clone(),
                can_edit: who.can_edit(c.author_id),
                edited: c.updated_at != c.created_at,
            }),
            label: label_of(e),
            short: e
                .commit_id
                .as_deref()
                .map_or("", |c| &c[..c.len().min(10)])
                .to_owned(),
            commit: e.commit_id.clone(),
            source_number: e.source_number,
            old_title: e.old_title.clone().unwrap_or_default(),
        })
        .collect();
    render(IssuePage {
        nav,
        repo: RepoHeader::new(repo, &repo.default_branch),
        tab: "issues",
        number: issue.number,
        title: issue.title.clone(),
        body_html,
        body: issue.body.clone(),
        is_open: issue.is_open(),
        author: issue.author.clone(),
        age: age(issue.created_at.unix_timestamp()),
        date: date(issue.created_at.unix_timestamp()),
        closed_by: issue.closed_by.clone().unwrap_or_default(),
        closed_by_commit,
        label_choices: all_labels
            .iter()
            .map(|l| (LabelView::from(l), labels.iter().any(|x| x.id == l.id)))
            .collect(),
        labels: labels.iter().map(LabelView::from).collect(),
        timeline,
        signed_in: who.actor().is_some(),
        can_participate: who.can_participate(),
        can_edit: who.can_edit(issue.author_id),
        can_triage: who.can_triage(),
        draft,
    })
}

pub(super) async fn show_issue(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Number { number }): Path<Number>,
) -> Result<Response, WebError> {
    issue_page(&st, page.nav(), &page.grant, number, Draft::default()).await
}

fn back_to<L: Level>(who: &Grant<L>, number: i64) -> Response {
    let repo = who.repo();
    Redirect::to(&format!("/{}/{}/issues/{number}", repo.owner, repo.name)).into_response()
}

#[derive(Deserialize)]
pub(super) struct TextForm {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    action: String,
}

pub(super) async fn add_comment(
    State(st): State<WebState>,
    Path(Number { number }): Path<Number>,
    RepoForm {
        grant: who,
        user,
        form,
    }: RepoForm<Read, TextForm>,
) -> Result<Response, WebError> {
    let mut draft = Draft {
        comment: form.body.clone(),
        ..Draft::default()
    };
    if form.action == "preview" {
        draft.comment_preview = Some(preview(&st, &who, &form.body).await?);
        return issue_page(&st, user.nav(), &who, number, draft).await;
    }
    match st.forge.comment_on_issue(&who, number, &form.body).await {
        Ok(c) => Ok(Redirect::to(&format!(
            "/{}/{}/issues/{number}#comment-{}",
            who.repo().owner,
            who.repo().name,
            c.id
        ))
        .into_response()),
        Err(e) => {
            draft.message = form_message(e)?;
            issue_page(&st, user.nav(), &who, number, draft).await
        }
    }
}

pub(super) async fn edit_issue(
    State(st): State<WebState>,
    Path(Number { number }): Path<Number>,
    RepoForm {
        grant: who,
        user,
        form,
    }: RepoForm<Read, TextForm>,
) -> Result<Response, WebError> {
    let title = form.title.unwrap_or_default();
    let mut draft = Draft::default();
    if form.action == "preview" {
        let html = preview(&st, &who, &form.body).await?;
        draft.edit = Some((title, form.body, Some(html)));
        return issue_page(&st, user.nav(), &who, number, draft).await;
    }
    match st
        .forge
        .edit_issue(&who, number, Some(&title), Some(&form.body))
        .await
    {
        Ok(_) => Ok(back_to(&who, number)),
        Err(e) => {
            draft.message = form_message(e)?;
            draft.edit = Some((title, form.body, None));
            issue_page(&st, user.nav(), &who, number, draft).await
        }
    }
}

pub(super) async fn edit_comment(
    State(st): State<WebState>,
    Path(NumberId { number, id }): Path<NumberId>,
    RepoForm {
        grant: who,
        user,
        form,
    }: RepoForm<Read, TextForm>,
) -> Result<Response, WebError> {
    let mut draft = Draft::default();
    if form.action == "preview" {
        let html = preview(&st, &who, &form.body).await?;
        draft.comment_edit = Some((id, form.body, Some(html)));
        return issue_page(&st, user.nav(), &who, number, draft).await;
    }
    match st.forge.edit_comment(&who, number, id, &form.body).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/{}/{}/issues/{number}#comment-{id}",
            who.repo().owner,
            who.repo().name
        ))
        .into_response()),
        Err(e) => {
            draft.message = form_message(e)?;
            draft.comment_edit = Some((id, form.body, None));
            issue_page(&st, user.nav(), &who, number, draft).await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct StateForm {
    /// `open` or `closed`.
    state: String,
}

pub(super) async fn change_state(
    State(st): State<WebState>,
    Path(Number { number }): Path<Number>,
    RepoForm {
        grant: who, form, ..
    }: RepoForm<Read, StateForm>,
) -> Result<Response, WebError> {
    let open = match form.state.parse::<IssueStatus>() {
        Ok(state) => state == IssueStatus::Open,
        Err(_) => return Err(WebError::BadRequest("state must be open or closed".into())),
    };
    st.forge
        .set_issue_state(&who, number, open)
        .await
        .map_err(refused)?;
    Ok(back_to(&who, number))
}

/// The labels form: `csrf` and one `label` field per checked label. Triage: a visitor's read
/// grant becomes the write grant `set_issue_labels` takes, or the 403 that says why not.
pub(super) async fn set_labels(
    State(st): State<WebState>,
    Path(Number { number }): Path<Number>,
    RepoForm {
        grant: who,
        form: fields,
        ..
    }: RepoForm<Read, Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let writer = who.for_triage("set labels").map_err(refused)?;
    let names: Vec<String> = fields
        .into_iter()
        .filter(|(k, _)| k == "label")
        .map(|(_, v)| v)
        .collect();
    st.forge
        .set_issue_labels(&writer, number, &names)
        .await
        .map_err(refused)?;
    Ok(back_to(&who, number))
}
