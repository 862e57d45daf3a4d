//! Git data in Gitea's shapes: branches, tags, refs, commits, trees, contents, raw files and
//! archives (`/repos/{owner}/{repo}/…`). Reads go through the repository's reader (`git::read`)
//! with a read grant; every list is capped before it is paged, and only objects the refs reach
//! are served. Branch creation and deletion are refs moved by a push (see `branches`).

mod branches;
mod commits;
mod files;
mod refs;

use axum::extract::FromRef;
use serde_json::{Value, json};

use super::{ApiError, ApiState};
use crate::domain::{Grant, Level};
use crate::git::read::{Resolved, Signature};
use crate::model::Repo;
use crate::routes::Routes;

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .merge(branches::router())
        .merge(refs::router())
        .merge(commits::router())
        .merge(files::router())
}

/// Refs listed at most for one answer (branches, tags, `git/refs`): the list is paged after
/// the cap, and `X-Total-Count` counts what was listed.
pub const MAX_REFS: usize = 5_000;

/// `{base}/api/v1/repos/OWNER/REPO`.
fn api_url(st: &ApiState, repo: &Repo) -> String {
    format!(
        "{}/api/v1/repos/{}",
        st.config.base_url.trim_end_matches('/'),
        repo.full_name()
    )
}

/// `{base}/OWNER/REPO`: the repository's web pages.
fn html_url(st: &ApiState, repo: &Repo) -> String {
    format!(
        "{}/{}",
        st.config.base_url.trim_end_matches('/'),
        repo.full_name()
    )
}

/// A path's segments percent-encoded for a URL (the `/` between them kept).
fn escape_path(path: &str) -> String {
    path.split('/')
        .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>())
        .map(|s| s.replace('+', "%20"))
        .collect::<Vec<_>>()
        .join("/")
}

/// A query value percent-encoded.
fn escape_query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Go's `strconv.ParseBool` truth, which Gitea's `ctx.FormBool` reads (clients send `True`).
fn form_bool(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

/// A moment in its recorded time zone, RFC 3339 (as Go writes a `time.Time`).
fn when(seconds: i64, offset: i32) -> String {
    let utc = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let zone = time::UtcOffset::from_whole_seconds(offset).unwrap_or(time::UtcOffset::UTC);
    crate::domain::rfc3339(utc.to_offset(zone))
}

/// Gitea's CommitUser: `{name, email, date}`.
fn commit_user(sig: &Signature) -> Value {
    json!({"name": sig.name, "email": sig.email, "date": when(sig.seconds, sig.offset)})
}

/// Gitea's PayloadUser. `username` is the account with that e-mail address in Gitea; labforge
/// does not match addresses to accounts here, so it is empty (as Gitea's for an unknown one).
fn payload_user(sig: &Signature) -> Value {
    json!({"name": sig.name, "email": sig.email, "username": ""})
}

/// Gitea's PayloadCommitVerification for a commit it did not verify: labforge checks no
/// signatures (Gitea's reason for an unsigned commit).
fn unverified() -> Value {
    json!({
        "verified": false,
        "reason": "gpg.error.not_signed_commit",
        "signature": "",
        "signer": null,
        "payload": "",
    })
}

/// What `?ref=` (or its absence: the default branch) names, with `path` under it; None when
/// either does not exist.
async fn resolve_at<L: Level>(
    st: &ApiState,
    grant: &Grant<L>,
    reference: Option<&str>,
    path: &str,
) -> Result<Resolved, ApiError> {
    let reference = match reference.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => r.to_owned(),
        None => grant.repo().default_branch.clone(),
    };
    let path = crate::model::TreePath::parse(path).map_err(|_| ApiError::NotFound)?;
    let at = st
        .forge
        .read_repo(grant, move |r| r.resolve(&reference))
        .await?
        .filter(|at| at.path.is_root())
        .ok_or(ApiError::NotFound)?;
    Ok(Resolved { path, ..at })
}
