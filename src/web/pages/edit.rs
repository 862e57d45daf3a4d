//! "Edit" on a blob page and "New file" on a tree page: `/_edit/BRANCH/PATH` and
//! `/_new/BRANCH[/FOLDER]`, a textarea, a commit message, and the branch or a new branch to
//! commit to. The commit is pushed by the signed-in user (`Forge::commit_as_push`), so branch
//! protection and the `[[check]]`s decide it as they decide a push; a refusal shows the hooks'
//! output (a failing check's log) on the form, which keeps the user's text.

use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{RepoHeader, read_at, render};
use crate::domain::Write;
use crate::domain::edits::{EditError, EditRequest, ExpectedTip, FileChange, MAX_EDIT_FILE_BYTES};
use crate::model::{BranchName, EditPath};
use crate::routes::{Need, Routes};
use crate::web::WebState;
use crate::web::access::{RepoForm, RepoPage, Rest};
use crate::web::error::WebError;
use crate::web::session::Nav;

/// A form body holds the file once, url-encoded (up to three bytes per byte), and the rest.
const MAX_FORM: usize = MAX_EDIT_FILE_BYTES * 3 + (64 << 10);

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    let limit = || DefaultBodyLimit::max(MAX_FORM);
    Routes::new()
        .get("/{owner}/{repo}/_edit/{*rest}", Need::WRITE, show_edit)
        .post(
            "/{owner}/{repo}/_edit/{*rest}",
            Need::WRITE,
            save_edit.layer(limit()),
        )
        .get("/{owner}/{repo}/_new/{*rest}", Need::WRITE, show_new)
        .post(
            "/{owner}/{repo}/_new/{*rest}",
            Need::WRITE,
            save_new.layer(limit()),
        )
}

#[derive(askama::Template)]
#[template(path = "repo/edit.html")]
struct EditPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    /// "New file" rather than "Edit".
    creating: bool,
    branch: String,
    /// The file's path (editable for a new file).
    path: String,
    /// The blob the editor started from (Gitea's `sha`), empty for a new file.
    sha: String,
    content: String,
    message: String,
    new_branch: String,
    /// Why the last attempt did not land, and what the hooks said then.
    error: String,
    said: Vec<String>,
}

#[derive(Deserialize)]
struct EditForm {
    #[serde(default)]
    path: String,
    #[serde(default)]
    sha: String,
    content: String,
    #[serde(default)]
    message: String,
    /// `new` commits to `new_branch`; anything else to the page's branch.
    #[serde(default)]
    target: String,
    #[serde(default)]
    new_branch: String,
}

/// The branch and path of `rest`: edits go to branches only, never to a tag or a commit id.
async fn branch_at<L: crate::domain::Level>(
    st: &WebState,
    grant: &crate::domain::Grant<L>,
    rest: String,
) -> Result<(String, String, Option<(String, Vec<u8>, bool)>), WebError> {
    let (at, (is_branch, blob)) = read_at(st, grant, rest, |r, at| {
        let is_branch = r.branch_head(&at.rev)?.is_some();
        let blob = if at.path.is_root() {
            None
        } else {
            r.read_blob(&at.commit, &at.path, MAX_EDIT_FILE_BYTES as u64)?
                .map(|b| {
                    (
                        b.id,
                        b.data,
                        b.is_binary || b.size > MAX_EDIT_FILE_BYTES as u64,
                    )
                })
        };
        Ok(Some((is_branch, blob)))
    })
    .await?;
    if !is_branch {
        return Err(WebError::NotFound);
    }
    Ok((at.rev, at.path.as_str().to_owned(), blob))
}

fn page(nav: Nav, grant: &crate::domain::Grant<Write>, branch: &str) -> EditPage {
    EditPage {
        nav,
        repo: RepoHeader::new(grant.repo(), branch),
        tab: "code",
        creating: false,
        branch: branch.to_owned(),
        path: String::new(),
        sha: String::new(),
        content: String::new(),
        message: String::new(),
        new_branch: String::new(),
        error: String::new(),
        said: Vec::new(),
    }
}

async fn show_edit(
    State(st): State<WebState>,
    Path(Rest { rest }): Path<Rest>,
    page_for: RepoPage<Write>,
) -> Result<Response, WebError> {
    let (branch, path, blob) = branch_at(&st, &page_for.grant, rest).await?;
    let Some((sha, data, unfit)) = blob else {
        return Err(WebError::NotFound);
    };
    if unfit {
        return Err(WebError::BadRequest(
            "This file is binary or too large to edit in the browser; push a change instead."
                .into(),
        ));
    }
    let mut p = page(page_for.nav(), &page_for.grant, &branch);
    p.path = path;
    p.sha = sha;
    p.content = String::from_utf8_lossy(&data).into_owned();
    render(p)
}

async fn show_new(
    State(st): State<WebState>,
    Path(Rest { rest }): Path<Rest>,
    page_for: RepoPage<Write>,
) -> Result<Response, WebError> {
    let (branch, folder, _) = branch_at(&st, &page_for.grant, rest).await?;
    let mut p = page(page_for.nav(), &page_for.grant, &branch);
    p.creating = true;
    p.path = if folder.is_empty() {
        String::new()
    } else {
        format!("{folder}/")
    };
    render(p)
}

/// A textarea sends CRLF line ends; the file keeps the ends it had (LF for a new file).
fn line_ends(content: &str, had_crlf: bool) -> Vec<u8> {
    if had_crlf {
        content.as_bytes().to_vec()
    } else {
        content.replace("\r\n", "\n").into_bytes()
    }
}

async fn save_edit(
    State(st): State<WebState>,
    Path(Rest { rest }): Path<Rest>,
    form: RepoForm<Write, EditForm>,
) -> Result<Response, WebError> {
    let (branch, path, blob) = branch_at(&st, &form.grant, rest).await?;
    let had_crlf = blob
        .as_ref()
        .is_some_and(|(_, data, _)| data.windows(2).any(|w| w == b"\r\n"));
    save(st, form, branch, path, false, had_crlf).await
}

async fn save_new(
    State(st): State<WebState>,
    Path(Rest { rest }): Path<Rest>,
    form: RepoForm<Write, EditForm>,
) -> Result<Response, WebError> {
    let (branch, _, _) = branch_at(&st, &form.grant, rest).await?;
    let path = form.form.path.trim().to_owned();
    save(st, form, branch, path, true, false).await
}

/// Commits the form as a push; on a refusal, the form again with the user's text and why.
async fn save(
    st: WebState,
    RepoForm { grant, user, form }: RepoForm<Write, EditForm>,
    branch: String,
    path: String,
    creating: bool,
    had_crlf: bool,
) -> Result<Response, WebError> {
    let mut p = page(user.nav(), &grant, &branch);
    p.creating = creating;
    p.path = path.clone();
    p.sha = form.sha.clone();
    p.content = form.content.clone();
    p.message = form.message.clone();
    p.new_branch = form.new_branch.clone();
    let attempt = async {
        let target = BranchName::parse(&branch)?;
        let new_branch = if form.target == "new" {
            Some(BranchName::parse(form.new_branch.trim())?)
        } else {
            None
        };
        let path = EditPath::parse(&path)?;
        let content = line_ends(&form.content, had_crlf);
        let change = if creating {
            FileChange::Create { path, content }
        } else {
            FileChange::Update {
                path,
                from: None,
                sha: Some(form.sha.clone()).filter(|s| !s.is_empty()),
                content,
            }
        };
        let req = EditRequest {
            branch: target,
            new_branch,
            base: ExpectedTip::Current,
            changes: vec![change],
            message: form.message.clone(),
            author: None,
            committer: None,
            author_date: None,
            committer_date: None,
            signoff: false,
        };
        st.forge.commit_as_push(&grant, req).await
    };
    match attempt.await {
        Ok(done) => Ok(Redirect::to(&format!(
            "/{}/{}/blob/{}/{}",
            grant.repo().owner,
            grant.repo().name,
            done.branch,
            done.named[0]
        ))
        .into_response()),
        Err(EditError::Forge(e)) => Err(e.into()),
        Err(e) => {
            let status = match &e {
                EditError::Refused { .. } => StatusCode::FORBIDDEN,
                EditError::Conflict { .. } | EditError::ShaMismatch { .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            if let EditError::Refused { said } = e {
                p.error = "The edit was refused as a push would be, and nothing was changed. \
                           What the checks said:"
                    .into();
                p.said = said;
            } else if let EditError::ShaMismatch { .. } = e {
                p.error = "This file changed since you opened it, so nothing was changed. Your \
                           text is below: open the file again and bring your change over."
                    .into();
            } else {
                p.error = e.to_string();
            }
            let mut res = render(p)?;
            *res.status_mut() = status;
            Ok(res)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::line_ends;

    #[test]
    fn a_textarea_keeps_the_files_line_ends() {
        assert_eq!(line_ends("a\r\nb\r\n", false), b"a\nb\n");
        assert_eq!(line_ends("a\r\nb\r\n", true), b"a\r\nb\r\n");
        assert_eq!(line_ends("a\nb", false), b"a\nb");
    }
}
