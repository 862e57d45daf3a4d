//! `GET …/commits` (Gitea's Commit list: `sha`, `path`, `stat`, `files`, `verification`,
//! paged, with `X-Total-Count` and `X-HasMore`), `GET …/git/commits/{sha}` and
//! `GET …/git/trees/{sha}` (GitTreeResponse). Histories are walked by `Reader::log`, the
//! web's walk; counts stop at `MAX_COMMITS_COUNTED` and pages past it are empty.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::access::ApiRepo;
use super::super::paging::Paging;
use super::{
    ApiError, ApiState, api_url, commit_user, form_bool, html_url, resolve_at, unverified, when,
};
use crate::domain::{Grant, Read};
use crate::git::diff::DiffLimits;
use crate::git::read::{CommitDetail, CommitId};
use crate::model::Repo;
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/repos/{owner}/{repo}/commits", Need::READ, list_commits)
        .get(
            "/repos/{owner}/{repo}/git/commits/{sha}",
            Need::READ,
            show_commit,
        )
        .get(
            "/repos/{owner}/{repo}/git/trees/{sha}",
            Need::READ,
            show_tree,
        )
}

/// Commits counted for `X-Total-Count` at most, and the furthest a page may start: a history
/// longer than this is counted as this long (and `X-HasMore` says more follow).
pub const MAX_COMMITS_COUNTED: usize = 10_000;
/// Tree entries listed by one `git/trees` walk at most; past it the answer is `truncated`.
pub const MAX_TREE_ENTRIES: usize = 50_000;
/// Gitea's `DEFAULT_GIT_TREES_PER_PAGE`: entries per `git/trees` page, at most.
pub const TREES_PER_PAGE: usize = 1_000;
/// Time for one commit's stats (a diff) or files, and for all of a list's: past it, `stats`
/// and `files` are null.
const STAT_TIME: Duration = Duration::from_millis(500);
const LIST_STAT_TIME: Duration = Duration::from_secs(10);
/// Gitea's zero `time.Time`, which it writes for a parent's `created`.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Gitea's `stat`, `files` and `verification` switches: on unless `false`.
#[derive(Deserialize, Default)]
struct CommitOptions {
    stat: Option<String>,
    files: Option<String>,
    verification: Option<String>,
}

impl CommitOptions {
    fn on(v: &Option<String>) -> bool {
        v.as_deref()
            .is_none_or(|v| v.is_empty() || v == "true" || v == "1")
    }
}

/// What a commit's answer adds to its object: changed files and line counts.
#[derive(Default)]
struct Extras {
    files: Option<Vec<Value>>,
    stats: Option<Value>,
}

/// Gitea's Commit. `author`/`committer` (accounts) are null: labforge does not match commit
/// e-mail addresses to accounts (Gitea's answer for an unknown address).
fn commit_json(
    st: &ApiState,
    repo: &Repo,
    c: &CommitDetail,
    extras: Extras,
    verify: bool,
) -> Value {
    let api = api_url(st, repo);
    let created = when(c.committer.seconds, c.committer.offset);
    json!({
        "url": format!("{api}/git/commits/{}", c.id),
        "sha": c.id,
        "created": created,
        "html_url": format!("{}/commit/{}", html_url(st, repo), c.id),
        "commit": {
            "url": format!("{api}/git/commits/{}", c.id),
            "author": commit_user(&c.author),
            "committer": commit_user(&c.committer),
            "message": c.message,
            "tree": {
                "url": format!("{api}/git/trees/{}", c.tree),
                "sha": c.tree,
                "created": created,
            },
            "verification": if verify { unverified() } else { Value::Null },
        },
        "author": null,
        "committer": null,
        "parents": c.parents.iter().map(|p| json!({
            "url": format!("{api}/git/commits/{p}"),
            "sha": p,
            "created": ZERO_TIME,
        })).collect::<Vec<_>>(),
        "files": extras.files,
        "stats": extras.stats,
    })
}

/// The commits' changed files and stats, as asked; once `budget` is spent, the remaining
/// commits have neither (null, as with `files=false` and `stat=false`).
async fn extras_of(
    st: &ApiState,
    grant: &Grant<Read>,
    ids: Vec<String>,
    opts: &CommitOptions,
    budget: Duration,
) -> Result<Vec<Extras>, ApiError> {
    let (files, stat) = (
        CommitOptions::on(&opts.files),
        CommitOptions::on(&opts.stat),
    );
    let found = st
        .forge
        .read_repo(grant, move |r| {
            let started = Instant::now();
            let mut out = Vec::new();
            for id in &ids {
                let id = CommitId(id.clone());
                let mut extras = (None, None);
                if files && started.elapsed() < budget {
                    let changed = r.changed_paths(&id, Instant::now() + STAT_TIME)?;
                    let mut list = Vec::new();
                    for (paths, status) in [
                        (&changed.added, "added"),
                        (&changed.removed, "removed"),
                        (&changed.modified, "modified"),
                    ] {
                        list.extend(paths.iter().map(|p| (p.clone(), status)));
                    }
                    extras.0 = Some(list);
                }
                if stat && started.elapsed() < budget {
                    let limits = DiffLimits {
                        time: STAT_TIME,
                        ..DiffLimits::PAGE
                    };
                    extras.1 = r.commit_diff(&id, limits)?.map(|d| {
                        let add: u64 = d.files.iter().map(|f| u64::from(f.additions)).sum();
                        let del: u64 = d.files.iter().map(|f| u64::from(f.deletions)).sum();
                        (add, del)
                    });
                }
                out.push(extras);
            }
            Ok(out)
        })
        .await?;
    Ok(found
        .into_iter()
        .map(|(files, stats)| Extras {
            files: files.map(|list| {
                list.into_iter()
                    .map(|(filename, status)| json!({"filename": filename, "status": status}))
                    .collect()
            }),
            stats: stats.map(|(a, d)| json!({"total": a + d, "additions": a, "deletions": d})),
        })
        .collect())
}

#[derive(Deserialize)]
struct ListQuery {
    sha: Option<String>,
    path: Option<String>,
    #[serde(flatten)]
    options: CommitOptions,
}

async fn list_commits(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    paging: Paging,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let at = resolve_at(
        &st,
        &grant,
        q.sha.as_deref(),
        q.path.as_deref().unwrap_or(""),
    )
    .await?;
    let offset = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(paging.limit()).unwrap_or(0);
    let (commits, total, more) = {
        let at = at.clone();
        st.forge
            .read_repo(&grant, move |r| {
                if r.is_dir(&at.commit, &at.path)?.is_none() {
                    return Ok(None);
                }
                let (total, cut) = r.log_count(&at.commit, &at.path, MAX_COMMITS_COUNTED)?;
                if offset >= MAX_COMMITS_COUNTED {
                    return Ok(Some((Vec::new(), total, cut)));
                }
                let (page, more) = r.log(&at.commit, &at.path, offset, limit)?;
                let mut details = Vec::new();
                for c in &page {
                    details.extend(r.commit_detail(&c.id.0)?);
                }
                Ok(Some((details, total, more)))
            })
            .await?
            .ok_or(ApiError::NotFound)?
    };
    let ids = commits.iter().map(|c| c.id.clone()).collect();
    let extras = extras_of(&st, &grant, ids, &q.options, LIST_STAT_TIME).await?;
    let verify = CommitOptions::on(&q.options.verification);
    let items: Vec<Value> = commits
        .iter()
        .zip(extras)
        .map(|(c, e)| commit_json(&st, grant.repo(), c, e, verify))
        .collect();
    let mut res = paging.answer(items, total as u64);
    let pages = (total as u64).div_ceil(u64::from(paging.limit)).max(1);
    let h = res.headers_mut();
    for (name, value) in [
        ("x-hasmore", more.to_string()),
        ("x-page", paging.page.to_string()),
        ("x-perpage", paging.limit.to_string()),
        ("x-total", total.to_string()),
        ("x-pagecount", pages.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    Ok(res)
}

#[derive(Deserialize)]
struct ShaPath {
    sha: String,
}

/// One commit by its id (full or abbreviated): 422 for what is not an id, 404 for a commit the
/// refs do not reach.
async fn show_commit(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(ShaPath { sha }): Path<ShaPath>,
    Query(options): Query<CommitOptions>,
) -> Result<Json<Value>, ApiError> {
    let id = sha.to_ascii_lowercase();
    if id.len() < crate::git::read::MIN_ID_LEN
        || id.len() > 40
        || !id.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(ApiError::Invalid(format!("no valid ref or sha: {sha}")));
    }
    let commit = st
        .forge
        .read_repo(&grant, move |r| r.commit_detail(&id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut extras = extras_of(&st, &grant, vec![commit.id.clone()], &options, STAT_TIME).await?;
    let verify = CommitOptions::on(&options.verification);
    Ok(Json(commit_json(
        &st,
        grant.repo(),
        &commit,
        extras.pop().unwrap_or_default(),
        verify,
    )))
}

#[derive(Deserialize)]
struct TreeQuery {
    recursive: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

/// Gitea's GitTreeResponse for the tree of the commit `{sha}` names (a commit id the refs
/// reach, a branch or a tag; a tree's own id is not served, see `git::reach`). `truncated`
/// says the listing has more than one page (or was cut at `MAX_TREE_ENTRIES`).
async fn show_tree(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(ShaPath { sha }): Path<ShaPath>,
    Query(q): Query<TreeQuery>,
) -> Result<Json<Value>, ApiError> {
    let number = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
    let recursive = q.recursive.as_deref().is_some_and(form_bool);
    let page = number(&q.page).unwrap_or(1).clamp(1, 1_000_000) as usize;
    let per_page = match number(&q.per_page) {
        Some(n) if n > 0 => (n as usize).min(TREES_PER_PAGE),
        _ => TREES_PER_PAGE,
    };
    let listing = st
        .forge
        .read_repo(&grant, move |r| {
            r.git_tree(&sha, recursive, MAX_TREE_ENTRIES)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let api = api_url(&st, grant.repo());
    let total = listing.entries.len();
    let start = per_page.saturating_mul(page - 1).min(total);
    let end = start.saturating_add(per_page).min(total);
    let tree: Vec<Value> = listing.entries[start..end]
        .iter()
        .map(|e| {
            let url = match e.kind {
                "tree" => format!("{api}/git/trees/{}", e.id),
                "blob" => format!("{api}/git/blobs/{}", e.id),
                _ => String::new(),
            };
            json!({
                "path": e.path,
                "mode": e.mode,
                "type": e.kind,
                "size": e.size,
                "sha": e.id,
                "url": url,
            })
        })
        .collect();
    Ok(Json(json!({
        "sha": listing.id,
        "url": format!("{api}/git/trees/{}", listing.id),
        "tree": tree,
        "truncated": listing.cut || total > per_page,
        "page": page,
        "total_count": total,
    })))
}
