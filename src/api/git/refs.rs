//! Tags and refs: `GET …/tags[/{tag}]` (Gitea's Tag), `GET …/git/tags/{sha}` (AnnotatedTag),
//! `GET …/git/refs[/{ref}]` (a list of Reference). Tags are listed newest first as Gitea lists
//! them (of the first `MAX_REFS`); a tag object is served only when a tag ref names it.

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::access::ApiRepo;
use super::super::paging::Paging;
use super::{
    ApiError, ApiState, MAX_REFS, api_url, commit_user, escape_path, html_url, unverified, when,
};
use crate::git::read::{CommitDetail, RefTarget, TagDetail};
use crate::model::Repo;
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/repos/{owner}/{repo}/tags", Need::READ, list_tags)
        .get("/repos/{owner}/{repo}/tags/{tag}", Need::READ, show_tag)
        .get(
            "/repos/{owner}/{repo}/git/tags/{sha}",
            Need::READ,
            show_annotated_tag,
        )
        .get("/repos/{owner}/{repo}/git/refs", Need::READ, list_all_refs)
        .get(
            "/repos/{owner}/{repo}/git/refs/{*ref}",
            Need::READ,
            list_refs,
        )
}

/// Gitea's Tag: an annotated tag's own id, message and date; a lightweight tag's commit's.
fn tag_json(
    st: &ApiState,
    repo: &Repo,
    name: &str,
    target: &RefTarget,
    tag: Option<&TagDetail>,
    commit: &CommitDetail,
) -> Value {
    let (message, created) = match tag {
        Some(t) => (
            t.message.trim().to_owned(),
            t.tagger
                .as_ref()
                .map(|s| when(s.seconds, s.offset))
                .unwrap_or_else(|| when(commit.committer.seconds, commit.committer.offset)),
        ),
        None => (
            commit.message.trim().to_owned(),
            when(commit.committer.seconds, commit.committer.offset),
        ),
    };
    let archive = format!("{}/archive/{}", html_url(st, repo), escape_path(name));
    json!({
        "name": name,
        "message": message,
        "id": target.id,
        "commit": {
            "sha": commit.id,
            "url": format!("{}/git/commits/{}", api_url(st, repo), commit.id),
            "created": created,
        },
        "zipball_url": format!("{archive}.zip"),
        "tarball_url": format!("{archive}.tar.gz"),
    })
}

type Shown = Vec<(RefTarget, Option<TagDetail>, CommitDetail)>;

/// Each ref's tag object and commit (refs naming no commit are left out).
async fn objects_of(
    st: &ApiState,
    grant: &crate::domain::Grant<crate::domain::Read>,
    targets: Vec<RefTarget>,
) -> Result<Shown, ApiError> {
    Ok(st
        .forge
        .read_repo(grant, move |r| {
            let mut out = Vec::new();
            for target in &targets {
                if let (tag, Some(commit)) = r.ref_objects(target)? {
                    out.push((target.clone(), tag, commit));
                }
            }
            Ok(out)
        })
        .await?)
}

async fn list_tags(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    paging: Paging,
) -> Result<Response, ApiError> {
    let (refs, _) = st
        .forge
        .read_repo(&grant, |r| r.tags_by_date(MAX_REFS))
        .await?;
    let (page, total) = paging.slice(refs);
    let shown = objects_of(&st, &grant, page).await?;
    let items = shown
        .iter()
        .map(|(t, tag, c)| {
            let name = t.name.trim_start_matches("refs/tags/");
            tag_json(&st, grant.repo(), name, t, tag.as_ref(), c)
        })
        .collect();
    Ok(paging.answer(items, total))
}

#[derive(Deserialize)]
struct TagPath {
    tag: String,
}

async fn show_tag(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(TagPath { tag }): Path<TagPath>,
) -> Result<Json<Value>, ApiError> {
    let full = format!("refs/tags/{tag}");
    let (refs, _) = {
        let full = full.clone();
        st.forge
            .read_repo(&grant, move |r| r.list_refs(&full, MAX_REFS))
            .await?
    };
    let exact: Vec<RefTarget> = refs.into_iter().filter(|t| t.name == full).collect();
    let shown = objects_of(&st, &grant, exact).await?;
    let (target, object, commit) = shown.first().ok_or(ApiError::NotFound)?;
    Ok(Json(tag_json(
        &st,
        grant.repo(),
        &tag,
        target,
        object.as_ref(),
        commit,
    )))
}

#[derive(Deserialize)]
struct ShaPath {
    sha: String,
}

/// Gitea's AnnotatedTag.
async fn show_annotated_tag(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(ShaPath { sha }): Path<ShaPath>,
) -> Result<Json<Value>, ApiError> {
    let id = sha.to_ascii_lowercase();
    let tag = st
        .forge
        .read_repo(&grant, move |r| r.annotated_tag(&id, MAX_REFS))
        .await?
        .ok_or(ApiError::NotFound)?;
    let api = api_url(&st, grant.repo());
    let object_url = match tag.target_kind {
        "commit" => format!("{api}/git/commits/{}", tag.target),
        "tag" => format!("{api}/git/tags/{}", tag.target),
        "tree" => format!("{api}/git/trees/{}", tag.target),
        _ => format!("{api}/git/blobs/{}", tag.target),
    };
    let tagger = tag.tagger.as_ref().map(commit_user);
    Ok(Json(json!({
        "tag": tag.name,
        "sha": tag.id,
        "url": format!("{api}/git/tags/{}", tag.id),
        "message": tag.message,
        "tagger": tagger,
        "object": {"type": tag.target_kind, "sha": tag.target, "url": object_url},
        "verification": unverified(),
    })))
}

/// Gitea's Reference.
fn reference_json(api: &str, t: &RefTarget) -> Value {
    let object_url = match t.kind {
        "tag" => format!("{api}/git/tags/{}", t.id),
        "commit" => format!("{api}/git/commits/{}", t.id),
        "tree" => format!("{api}/git/trees/{}", t.id),
        _ => format!("{api}/git/blobs/{}", t.id),
    };
    json!({
        "ref": t.name,
        "url": format!("{api}/git/{}", escape_path(&t.name)),
        "object": {"type": t.kind, "sha": t.id, "url": object_url},
    })
}

/// Every ref (the first `MAX_REFS`), in name order, as one list (Gitea does not page it).
async fn list_all_refs(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (refs, _) = st
        .forge
        .read_repo(&grant, |r| r.list_refs("refs/", MAX_REFS))
        .await?;
    let api = api_url(&st, grant.repo());
    Ok(Json(refs.iter().map(|t| reference_json(&api, t)).collect()))
}

#[derive(Deserialize)]
struct RefPath {
    #[serde(rename = "ref")]
    reference: String,
}

/// The refs named `refs/{ref}` or under it (whole components, as `git for-each-ref` matches);
/// 404 when none.
async fn list_refs(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(RefPath { reference }): Path<RefPath>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let full = format!("refs/{}", reference.trim_matches('/'));
    let under = format!("{full}/");
    let (refs, _) = {
        let full = full.clone();
        st.forge
            .read_repo(&grant, move |r| r.list_refs(&full, MAX_REFS))
            .await?
    };
    let api = api_url(&st, grant.repo());
    let found: Vec<Value> = refs
        .iter()
        .filter(|t| t.name == full || t.name.starts_with(&under))
        .map(|t| reference_json(&api, t))
        .collect();
    if found.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(found))
}
