//! Files: `GET …/contents[/{path}]?ref=` (Gitea's ContentsResponse: a file with its bytes in
//! base64, a folder as a list, a symlink with its target, a submodule with its URL),
//! `GET …/raw/{path}?ref=` and `…/media/{path}` (the bytes, served as the web's raw files are:
//! never sniffed, under a CSP; large ones streamed) and `GET …/archive/{ref}.{tar.gz|zip}`
//! (the web's archive: its count of the tree and its slots).

use axum::Json;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::access::ApiRepo;
use super::{ApiError, ApiState, api_url, escape_path, escape_query, html_url, resolve_at};
use crate::child_body::{
    RAW_IN_MEMORY, archive_name, archive_prefix, archive_response, raw_response,
};
use crate::domain::{Grant, Read};
use crate::git::read::{ContentEntry, Contents, MAX_LISTED, Resolved};
use crate::model::Repo;
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/repos/{owner}/{repo}/contents", Need::READ, list_root)
        .get(
            // `filepath`, as Gitea names it and as the contents writes (`api::contents`) do: one
            // path takes one parameter name whatever the method.
            "/repos/{owner}/{repo}/contents/{*filepath}",
            Need::READ,
            show_contents,
        )
        .get("/repos/{owner}/{repo}/raw/{*path}", Need::READ, show_raw)
        .get("/repos/{owner}/{repo}/media/{*path}", Need::READ, show_raw)
        .get(
            "/repos/{owner}/{repo}/archive/{*archive}",
            Need::READ,
            download_archive,
        )
}

/// A file's bytes are in a contents answer up to this size; a larger file has `content` null
/// (as Gitea past its `DEFAULT_MAX_BLOB_SIZE`) and is read through `raw`.
pub const CONTENTS_MAX_BLOB: u64 = 1024 * 1024;

#[derive(Deserialize)]
struct RefQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

#[derive(Deserialize)]
struct FilePath {
    #[serde(alias = "filepath")]
    path: String,
}

/// Gitea's ContentsResponse for one entry, `reference` as the caller named it.
fn content_json(
    st: &ApiState,
    repo: &Repo,
    reference: &str,
    e: &ContentEntry,
    last_commit: &str,
) -> Value {
    let api = api_url(st, repo);
    let html = html_url(st, repo);
    let path = escape_path(&e.path);
    let at = escape_path(reference);
    let self_url = format!("{api}/contents/{path}?ref={}", escape_query(reference));
    let submodule = e.kind == "submodule";
    let html_url = (!submodule).then(|| match e.kind {
        "dir" => format!("{html}/tree/{at}/{path}"),
        _ => format!("{html}/blob/{at}/{path}"),
    });
    let git_url = (!submodule).then(|| format!("{api}/git/blobs/{}", e.id));
    let download_url =
        matches!(e.kind, "file" | "symlink").then(|| format!("{html}/raw/{at}/{path}"));
    let content = e
        .content
        .as_ref()
        .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes));
    json!({
        "name": e.name,
        "path": e.path,
        "sha": e.id,
        "last_commit_sha": last_commit,
        "type": e.kind,
        "size": e.size,
        "encoding": content.as_ref().map(|_| "base64"),
        "content": content,
        "target": e.target,
        "url": self_url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": download_url,
        "submodule_git_url": e.submodule_url,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    })
}

/// The contents at `at`, each entry with the last commit that changed it (a folder's entries
/// from the web's last-commit walk, within its budget; the revision's commit where it did not
/// find one).
async fn contents_at(
    st: &ApiState,
    grant: &Grant<Read>,
    at: Resolved,
    reference: String,
) -> Result<Response, ApiError> {
    let found = {
        let at = at.clone();
        st.forge
            .read_repo(grant, move |r| {
                let Some(contents) =
                    r.contents(&at.commit, &at.path, CONTENTS_MAX_BLOB, MAX_LISTED)?
                else {
                    return Ok(None);
                };
                let last: Vec<String> = match &contents {
                    Contents::Entry(_) => {
                        let (log, _) = r.log(&at.commit, &at.path, 0, 1)?;
                        log.into_iter().map(|c| c.id.0).collect()
                    }
                    Contents::Dir { entries, .. } => {
                        let folder = r.list_tree(&at.commit, &at.path)?;
                        let known: std::collections::HashMap<String, String> = folder
                            .map(|f| f.entries)
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|e| Some((e.name, e.last_commit?.id.0.clone())))
                            .collect();
                        entries
                            .iter()
                            .map(|e| known.get(&e.name).cloned().unwrap_or_default())
                            .collect()
                    }
                };
                Ok(Some((contents, last)))
            })
            .await?
            .ok_or(ApiError::NotFound)?
    };
    let (contents, last) = found;
    let last_of = |i: usize| {
        last.get(i)
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| at.commit.0.clone())
    };
    let repo = grant.repo();
    Ok(match contents {
        Contents::Entry(e) => {
            Json(content_json(st, repo, &reference, &e, &last_of(0))).into_response()
        }
        Contents::Dir { entries, .. } => Json(
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| content_json(st, repo, &reference, e, &last_of(i)))
                .collect::<Vec<_>>(),
        )
        .into_response(),
    })
}

fn reference_or_default(grant: &Grant<Read>, q: &RefQuery) -> String {
    q.reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(&grant.repo().default_branch)
        .to_owned()
}

/// The root folder; an empty repository's is an empty list (as Gitea answers).
async fn list_root(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Query(q): Query<RefQuery>,
) -> Result<Response, ApiError> {
    let reference = reference_or_default(&grant, &q);
    match resolve_at(&st, &grant, q.reference.as_deref(), "").await {
        Ok(at) => contents_at(&st, &grant, at, reference).await,
        Err(ApiError::NotFound) if q.reference.is_none() => {
            let empty = st
                .forge
                .read_repo(&grant, |r| Ok(r.list_refs("refs/heads/", 1)?.0.is_empty()))
                .await?;
            if empty {
                Ok(Json(Vec::<Value>::new()).into_response())
            } else {
                Err(ApiError::NotFound)
            }
        }
        Err(e) => Err(e),
    }
}

async fn show_contents(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(FilePath { path }): Path<FilePath>,
    Query(q): Query<RefQuery>,
) -> Result<Response, ApiError> {
    let reference = reference_or_default(&grant, &q);
    let at = resolve_at(&st, &grant, q.reference.as_deref(), &path).await?;
    contents_at(&st, &grant, at, reference).await
}

/// What a raw path names: with `?ref=` the path under it; without, a leading ref in the path
/// (`raw/main/a.txt`, Gitea's older form) or else the path on the default branch.
async fn raw_target(
    st: &ApiState,
    grant: &Grant<Read>,
    reference: Option<&str>,
    path: &str,
) -> Result<Resolved, ApiError> {
    if reference.is_some_and(|r| !r.trim().is_empty()) {
        return resolve_at(st, grant, reference, path).await;
    }
    let rest = path.to_owned();
    let leading = st
        .forge
        .read_repo(grant, move |r| r.resolve(&rest))
        .await?
        .filter(|at| !at.path.is_root());
    match leading {
        Some(at) => Ok(at),
        None => resolve_at(st, grant, None, path).await,
    }
}

/// The exact bytes: text as `text/plain`, anything else as an attachment; never sniffed.
async fn show_raw(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(FilePath { path }): Path<FilePath>,
    Query(q): Query<RefQuery>,
) -> Result<Response, ApiError> {
    let at = raw_target(&st, &grant, q.reference.as_deref(), &path).await?;
    let file_name = at.path.file_name().replace(['"', '\\', '\r', '\n'], "_");
    let blob = st
        .forge
        .read_repo(&grant, move |r| {
            r.read_blob(&at.commit, &at.path, RAW_IN_MEMORY)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let (content_type, disposition) = if blob.is_binary {
        (
            "application/octet-stream",
            format!("attachment; filename=\"{file_name}\""),
        )
    } else {
        ("text/plain; charset=utf-8", "inline".to_owned())
    };
    Ok(raw_response(
        &st.forge,
        &grant,
        blob,
        content_type,
        &disposition,
        "default-src 'none'; sandbox",
    )
    .await?)
}

#[derive(Deserialize)]
struct ArchivePath {
    archive: String,
}

/// `archive/REF.tar.gz` or `.zip`: the web's archive (counted first, refused past its limits).
async fn download_archive(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(ArchivePath { archive }): Path<ArchivePath>,
) -> Result<Response, ApiError> {
    let (rev, format) = archive_name(&archive).ok_or(ApiError::NotFound)?;
    let at = resolve_at(&st, &grant, Some(&rev), "").await?;
    let prefix = archive_prefix(&grant.repo().name, &at.rev);
    let (child, slot) = st
        .forge
        .archive(&grant, format, &prefix, &at.commit)
        .await?;
    Ok(archive_response(child, slot, &prefix, format))
}
