//! `/OWNER/REPO` (summary), `/tree/REF/PATH`, `/blob/REF/PATH`, `/raw/REF/PATH`.

use crate::routes::{Need, Routes};
use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;

use super::{RefMenu, RepoHeader, read_at, render, with_menu};
use crate::child_body::{
    RAW_IN_MEMORY, archive_name, archive_prefix, archive_response, raw_response,
};
use crate::git::read::{CommitInfo, EntryKind, TreeEntry};
use crate::model::TreePath;
use crate::web::WebState;
use crate::web::access::{RepoPage, Rest};
use crate::web::error::WebError;
use crate::web::highlight::{self, Line};
use crate::web::markdown;
use crate::web::session::Nav;
use crate::web::view::{CommitRow, age, breadcrumbs, date, plural};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Routes::new()
        .get("/{owner}/{repo}", Need::READ, show_summary)
        .get("/{owner}/{repo}/tree/{*rest}", Need::READ, show_tree)
        .get("/{owner}/{repo}/blob/{*rest}", Need::READ, show_blob)
        .get("/{owner}/{repo}/raw/{*rest}", Need::READ, show_raw)
        .get(
            "/{owner}/{repo}/archive/{*rest}",
            Need::READ,
            download_archive,
        )
}

/// Files larger than this are offered for download instead of shown.
const SHOW_LIMIT: u64 = 1024 * 1024;

struct EntryRow {
    name: String,
    /// `tree` or `blob`: the URL segment for the entry's page.
    kind: &'static str,
    path: String,
    /// The commit that last changed the entry (shared with the cache, not copied).
    last: Option<Arc<CommitInfo>>,
    /// When that commit was made, worded.
    when: Option<Arc<When>>,
}

/// "3 days ago", with the exact time for the `title`.
struct When {
    age: String,
    date: String,
}

fn entry_rows(dir: &TreePath, entries: Vec<TreeEntry>) -> Vec<EntryRow> {
    // Rows of one folder share a few commits: each commit's time is worded once.
    let mut worded: HashMap<i64, Arc<When>> = HashMap::new();
    entries
        .into_iter()
        .map(|e| {
            let when = e.last_commit.as_deref().map(|c| {
                let when = worded.entry(c.time).or_insert_with(|| {
                    Arc::new(When {
                        age: age(c.time),
                        date: date(c.time),
                    })
                });
                Arc::clone(when)
            });
            EntryRow {
                kind: if e.kind == EntryKind::Dir {
                    "tree"
                } else {
                    "blob"
                },
                path: dir.join(&e.name),
                name: e.name,
                last: e.last_commit,
                when,
            }
        })
        .collect()
}

/// A README as the summary shows it: sanitized markdown, or plain text the template escapes.
enum Readme {
    Html(String),
    Text(String),
}

#[derive(Template)]
#[template(path = "repo/summary.html")]
struct SummaryPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    http_url: String,
    ssh_url: String,
    head: Option<CommitRow>,
    /// "2 branches · 1 tag".
    counts: String,
    entries: Vec<EntryRow>,
    readme: Option<Readme>,
    deploys: Vec<super::lab::DeployBadge>,
}

async fn show_summary(State(st): State<WebState>, page: RepoPage) -> Result<Response, WebError> {
    let (repo, user) = (page.repo(), &page.visitor);
    let branch = repo.default_branch.clone();
    let (head, entries, readme, branches, tags) = st
        .forge
        .read_repo(&page.grant, move |r| {
            let Some(head) = r.branch_head(&branch)? else {
                return Ok((None, Vec::new(), None, 0, 0));
            };
            let root = TreePath::default();
            let entries = r
                .list_tree(&head.id, &root)?
                .map(|f| f.entries)
                .unwrap_or_default();
            let readme = r.readme(&head.id)?;
            Ok((
                Some(head),
                entries,
                readme,
                r.branches()?.len(),
                r.tags()?.len(),
            ))
        })
        .await?;
    let mut head = head.as_ref().map(CommitRow::from);
    super::checks::mark_rows(&st, &page.grant, head.iter_mut()).await?;
    let readme = match readme {
        Some((file, text)) => {
            let lower = file.to_ascii_lowercase();
            if lower.ends_with(".md") || lower.ends_with(".markdown") {
                let html = markdown::render_one(markdown::Markdown::plain(text)).await;
                Some(Readme::Html(html.to_string()))
            } else {
                Some(Readme::Text(text))
            }
        }
        None => None,
    };
    render(SummaryPage {
        nav: user.nav(),
        tab: "code",
        http_url: st.config.http_clone_url(&repo.owner, &repo.name),
        ssh_url: st.config.ssh_clone_url(&repo.owner, &repo.name),
        head,
        counts: format!(
            "{} · {}",
            plural(branches, "branch", "branches"),
            plural(tags, "tag", "tags")
        ),
        entries: entry_rows(&TreePath::default(), entries),
        readme,
        deploys: st
            .forge
            .deploy_lines_of(&page.grant)
            .await?
            .iter()
            .map(super::lab::DeployBadge::from)
            .collect(),
        repo: RepoHeader::new(repo, &repo.default_branch),
    })
}

#[derive(Template)]
#[template(path = "repo/tree.html")]
struct TreePage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    crumbs: Vec<(String, String)>,
    entries: Vec<EntryRow>,
    /// Some last commits are still being looked for (long history); a reload will have them.
    pending: bool,
    /// The commit shown, and its combined status.
    commit: String,
    mark: Option<crate::web::view::StatusMark>,
    /// The folder has more entries than a page lists.
    cut: bool,
    menu: RefMenu,
    /// The visitor may write here: "New file" is offered.
    can_edit: bool,
}

async fn show_tree(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Rest { rest }): Path<Rest>,
) -> Result<Response, WebError> {
    let (repo, user) = (page.repo(), &page.visitor);
    let (at, (folder, menu)) = read_at(&st, &page.grant, rest, |r, at| {
        with_menu(r, r.list_tree(&at.commit, &at.path)?)
    })
    .await?;
    let mut marks =
        super::checks::marks(&st, &page.grant, std::slice::from_ref(&at.commit.0)).await?;
    render(TreePage {
        mark: marks.remove(&at.commit.0),
        commit: at.commit.0.clone(),
        nav: user.nav(),
        repo: RepoHeader::new(repo, &at.rev),
        tab: "code",
        crumbs: breadcrumbs(at.path.as_str()),
        entries: entry_rows(&at.path, folder.entries),
        pending: !folder.complete,
        cut: folder.cut,
        menu: menu.at("tree", &at),
        can_edit: can_edit(&page),
    })
}

#[derive(Template)]
#[template(path = "repo/blob.html")]
struct BlobPage {
    nav: Nav,
    repo: RepoHeader,
    tab: &'static str,
    crumbs: Vec<(String, String)>,
    path: String,
    size: u64,
    is_image: bool,
    /// Each line's (class, text) spans; plain text is one span with no class.
    lines: Arc<Vec<Line>>,
    notice: &'static str,
    menu: RefMenu,
    /// The visitor may write here and the file is text: "Edit" is offered.
    can_edit: bool,
}

/// Whether the visitor is signed in with write access (the edit pages' level).
fn can_edit(page: &RepoPage) -> bool {
    page.visitor.0.is_some() && page.grant.level() >= crate::model::RepoAccess::Write
}

fn image_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None, // SVG can carry script: never served as an image
    })
}

async fn show_blob(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Rest { rest }): Path<Rest>,
) -> Result<Response, WebError> {
    let (repo, user) = (page.repo(), &page.visitor);
    let (at, ((blob, lines), menu)) = read_at(&st, &page.grant, rest, |r, at| {
        let Some(blob) = r.read_blob(&at.commit, &at.path, SHOW_LIMIT)? else {
            return Ok(None);
        };
        let shown_as_text =
            image_type(at.path.as_str()).is_none() && blob.size <= SHOW_LIMIT && !blob.is_binary;
        // Highlighting is CPU work: done here, on the blocking pool with the read.
        let lines = if shown_as_text {
            // By content (the path picks the grammar): a push leaves unchanged files cached.
            let key = format!("{}\0{}", blob.id, at.path.as_str());
            highlight::file(&key, at.path.as_str(), &String::from_utf8_lossy(&blob.data))
        } else {
            Arc::default()
        };
        with_menu(r, Some((blob, lines)))
    })
    .await?;
    let is_image = image_type(at.path.as_str()).is_some();
    let notice = if is_image {
        ""
    } else if blob.size > SHOW_LIMIT {
        "This file is too large to show."
    } else if blob.is_binary {
        "This is a binary file."
    } else {
        "This file is empty."
    };
    render(BlobPage {
        nav: user.nav(),
        repo: RepoHeader::new(repo, &at.rev),
        tab: "code",
        crumbs: breadcrumbs(at.path.as_str()),
        path: at.path.as_str().to_owned(),
        size: blob.size,
        is_image,
        lines,
        notice,
        menu: menu.at("blob", &at),
        can_edit: can_edit(&page) && !is_image && !blob.is_binary,
    })
}

/// The exact bytes, served so a browser cannot run them: text as `text/plain`, known image types
/// as themselves, anything else as an attachment; never sniffed, under a CSP that allows nothing.
async fn show_raw(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Rest { rest }): Path<Rest>,
) -> Result<Response, WebError> {
    let (at, blob) = read_at(&st, &page.grant, rest, |r, at| {
        r.read_blob(&at.commit, &at.path, RAW_IN_MEMORY)
    })
    .await?;
    let file_name = at.path.file_name().replace(['"', '\\', '\r', '\n'], "_");
    let (content_type, disposition) = match (image_type(at.path.as_str()), blob.is_binary) {
        (Some(image), _) => (image, "inline".to_owned()),
        (None, false) => ("text/plain; charset=utf-8", "inline".to_owned()),
        (None, true) => (
            "application/octet-stream",
            format!("attachment; filename=\"{file_name}\""),
        ),
    };
    // A large blob (not read above, so judged binary) is streamed from git, a buffer at a time.
    Ok(raw_response(
        &st.forge,
        &page.grant,
        blob,
        content_type,
        &disposition,
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    )
    .await?)
}

/// `/archive/REF.tar.gz` and `.zip`: git's own archive of the commit, streamed.
async fn download_archive(
    State(st): State<WebState>,
    page: RepoPage,
    Path(Rest { rest }): Path<Rest>,
) -> Result<Response, WebError> {
    let repo = page.repo();
    let (rev, format) = archive_name(&rest).ok_or(WebError::NotFound)?;
    let at = st
        .forge
        .read_repo(&page.grant, move |r| r.resolve(&rev))
        .await?;
    let at = at.filter(|a| a.path.is_root()).ok_or(WebError::NotFound)?;
    let prefix = archive_prefix(&repo.name, &at.rev);
    let (child, slot) = st
        .forge
        .archive(&page.grant, format, &prefix, &at.commit)
        .await?;
    Ok(archive_response(child, slot, &prefix, format))
}
