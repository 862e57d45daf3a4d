//! The issue tracker's pages: `/OWNER/REPO/issues` (list, new), `/issues/N` (the issue with its
//! timeline and forms) and `/labels`. Forms post back with the session's CSRF token; a
//! "Preview" button re-renders the form with the rendered markdown, so no JavaScript is needed.

mod labels;
mod list;
mod show;

use crate::routes::{Need, Routes};
use std::collections::HashSet;

use axum::extract::FromRef;
use serde::Deserialize;

use crate::domain::issues::refs::ref_spans;
use crate::domain::{Grant, Level};
use crate::model::{Label, Repo};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::markdown;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/{owner}/{repo}/issues", Need::READ, list::show_issues)
        .get("/{owner}/{repo}/issues/new", Need::READ, list::new_issue)
        .post("/{owner}/{repo}/issues/new", Need::READ, list::create_issue)
        .get(
            "/{owner}/{repo}/issues/{number}",
            Need::READ,
            show::show_issue,
        )
        .post(
            "/{owner}/{repo}/issues/{number}/comment",
            Need::READ,
            show::add_comment,
        )
        .post(
            "/{owner}/{repo}/issues/{number}/state",
            Need::READ,
            show::change_state,
        )
        .post(
            "/{owner}/{repo}/issues/{number}/edit",
            Need::READ,
            show::edit_issue,
        )
        .post(
            "/{owner}/{repo}/issues/{number}/comments/{id}/edit",
            Need::READ,
            show::edit_comment,
        )
        .post(
            "/{owner}/{repo}/issues/{number}/labels",
            Need::READ,
            show::set_labels,
        )
        .get("/{owner}/{repo}/labels", Need::READ, labels::show_labels)
        .post("/{owner}/{repo}/labels", Need::READ, labels::create_label)
        .post(
            "/{owner}/{repo}/labels/{id}/edit",
            Need::READ,
            labels::update_label,
        )
        .post(
            "/{owner}/{repo}/labels/{id}/delete",
            Need::READ,
            labels::delete_label,
        )
}

/// `{number}` of an issue's address.
#[derive(Deserialize)]
struct Number {
    number: i64,
}

/// `{number}` and `{id}` of a comment's address.
#[derive(Deserialize)]
struct NumberId {
    number: i64,
    id: i64,
}

/// For actions on a repository the visitor can see: a refusal is a 403 that says why (the
/// repository's existence is no secret to them), anything else as usual.
fn refused(e: crate::domain::Error) -> WebError {
    match e {
        crate::domain::Error::Forbidden(why) => WebError::Forbidden(why),
        other => other.into(),
    }
}

/// The message a form shows again for bad input or a conflict; any other error (a refusal
/// among them, see `refused`) is the response.
fn form_message(e: crate::domain::Error) -> Result<String, WebError> {
    match e {
        crate::domain::Error::InvalidInput(m) | crate::domain::Error::Conflict(m) => Ok(m),
        other => Err(refused(other)),
    }
}

/// `body` rendered as its page will show it, for a form's Preview.
async fn preview<L: Level>(
    st: &WebState,
    grant: &Grant<L>,
    body: &str,
) -> Result<String, WebError> {
    let known = known_refs(st, grant, std::iter::once(body)).await?;
    Ok(render_text(grant.repo(), body, &known).await)
}

/// A label as chips show it: its colour and a text colour that stays readable on it.
pub struct LabelView {
    pub id: i64,
    pub name: String,
    pub color: String,
    pub text: &'static str,
    pub description: String,
}

impl From<&Label> for LabelView {
    fn from(l: &Label) -> Self {
        let channel =
            |i: usize| u32::from_str_radix(l.color.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
        // Perceived brightness (ITU-R BT.601 weights).
        let brightness = channel(1) * 299 + channel(3) * 587 + channel(5) * 114;
        Self {
            id: l.id,
            name: l.name.clone(),
            color: l.color.clone(),
            text: if brightness > 150_000 {
                "#000000"
            } else {
                "#ffffff"
            },
            description: l.description.clone(),
        }
    }
}

/// `text` for the renderer, with a link for each `#N` it mentions that is in `known`.
fn markdown_of(repo: &Repo, text: &str, known: &HashSet<i64>) -> markdown::Markdown {
    let mut numbers: Vec<i64> = ref_spans(text)
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| known.contains(n))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    markdown::Markdown {
        text: text.to_owned(),
        links: numbers
            .into_iter()
            .map(|n| (n, format!("/{}/{}/issues/{n}", repo.owner, repo.name)))
            .collect(),
    }
}

/// Renders markdown (off the async threads, memoised) with `#N` linked for every number in
/// `known`.
async fn render_text(repo: &Repo, text: &str, known: &HashSet<i64>) -> String {
    markdown::render_one(markdown_of(repo, text, known))
        .await
        .to_string()
}

/// The issue numbers that `texts` mention and that exist, for `render_text`.
async fn known_refs<'a, L: Level>(
    st: &WebState,
    grant: &Grant<L>,
    texts: impl Iterator<Item = &'a str>,
) -> Result<HashSet<i64>, WebError> {
    let mut numbers: Vec<i64> = texts
        .flat_map(|t| ref_spans(t).into_iter().map(|(_, n)| n))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers.truncate(500);
    Ok(st
        .forge
        .existing_issues(grant, &numbers)
        .await?
        .into_iter()
        .collect())
}
