//! `GET /repos/{o}/{r}/branches[/{branch}]` as Gitea's Branch (its commit a PayloadCommit, its
//! protection from labforge's branch rules), and `POST …/branches` / `DELETE …/branches/{branch}`,
//! which move a ref the way a push does (see `Forge::push_ref`): branch protection refuses, and
//! a change that lands has a push's effects (webhooks, deploys, mirrors).

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::access::ApiRepo;
use super::super::body::JsonBody;
use super::super::paging::Paging;
use super::{ApiError, ApiState, MAX_REFS, html_url, payload_user, unverified, when};
use crate::domain::push::BranchRule;
use crate::domain::{Grant, Level, Write};
use crate::git::read::CommitDetail;
use crate::model::{Repo, RepoAccess};
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Routes::new()
        .get("/repos/{owner}/{repo}/branches", Need::READ, list_branches)
        .post("/repos/{owner}/{repo}/branches", Need::WRITE, create_branch)
        .get(
            "/repos/{owner}/{repo}/branches/{*branch}",
            Need::READ,
            show_branch,
        )
        .delete(
            "/repos/{owner}/{repo}/branches/{*branch}",
            Need::WRITE,
            delete_branch,
        )
}

/// Gitea's PayloadCommit. `added`/`removed`/`modified` are null, as Gitea's `ToPayloadCommit`
/// leaves them.
pub(super) fn payload_commit(st: &ApiState, repo: &Repo, c: &CommitDetail) -> Value {
    json!({
        "id": c.id,
        "message": c.message,
        "url": format!("{}/commit/{}", html_url(st, repo), c.id),
        "author": payload_user(&c.author),
        "committer": payload_user(&c.committer),
        "verification": unverified(),
        "timestamp": when(c.author.seconds, c.author.offset),
        "added": null,
        "removed": null,
        "modified": null,
    })
}

/// Gitea's Branch: protected when a rule matches (the first matching rule names it, shown to
/// admins only, as Gitea does); the caller may push when its level is write, or admin for an
/// admins-only rule.
fn branch_json<L: Level>(
    st: &ApiState,
    grant: &Grant<L>,
    rules: &[BranchRule],
    name: &str,
    commit: &CommitDetail,
) -> Value {
    let level = grant.level();
    let matching: Vec<&BranchRule> = rules.iter().filter(|r| r.matches(name)).collect();
    let writer = level >= RepoAccess::Write;
    let can_push = if matching.iter().any(|r| r.admins_only) {
        level >= RepoAccess::Admin
    } else {
        writer
    };
    let checks: Vec<String> = matching
        .iter()
        .flat_map(|r| r.required_checks.iter().map(|c| format!("check/{c}")))
        .collect();
    json!({
        "name": name,
        "commit": payload_commit(st, grant.repo(), commit),
        "protected": !matching.is_empty(),
        "required_approvals": 0,
        "enable_status_check": !checks.is_empty(),
        "status_check_contexts": checks,
        "user_can_push": can_push,
        "user_can_merge": can_push,
        "effective_branch_protection_name": match matching.first() {
            Some(rule) if level >= RepoAccess::Admin => rule.pattern.clone(),
            _ => String::new(),
        },
    })
}

/// Branches newest commit first (then by name, as Gitea), the first `MAX_REFS` of them paged.
async fn list_branches(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    paging: Paging,
) -> Result<Response, ApiError> {
    let (page, total) = {
        let (refs, _) = st
            .forge
            .read_repo(&grant, |r| r.branches_by_date(MAX_REFS))
            .await?;
        paging.slice(refs)
    };
    let rules = st.forge.branch_rules(&grant).await?;
    let shown = st
        .forge
        .read_repo(&grant, move |r| {
            let mut out = Vec::new();
            for target in &page {
                if let Some(commit) = target.commit.as_deref()
                    && let Some(detail) = r.commit_detail(commit)?
                {
                    let name = target.name.trim_start_matches("refs/heads/").to_owned();
                    out.push((name, detail));
                }
            }
            Ok(out)
        })
        .await?;
    let items = shown
        .iter()
        .map(|(name, c)| branch_json(&st, &grant, &rules, name, c))
        .collect();
    Ok(paging.answer(items, total))
}

#[derive(Deserialize)]
struct BranchPath {
    branch: String,
}

async fn show_branch(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(BranchPath { branch }): Path<BranchPath>,
) -> Result<Json<Value>, ApiError> {
    let name = branch.clone();
    let detail = st
        .forge
        .read_repo(&grant, move |r| match r.branch_head(&name)? {
            Some(head) => r.commit_detail(&head.id.0),
            None => Ok(None),
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let rules = st.forge.branch_rules(&grant).await?;
    Ok(Json(branch_json(&st, &grant, &rules, &branch, &detail)))
}

/// Gitea's CreateBranchRepoOption: the new branch starts at `old_ref_name` (a branch, tag or
/// commit id), or at `old_branch_name` (deprecated), or at the default branch.
#[derive(Deserialize)]
struct CreateBranch {
    new_branch_name: String,
    #[serde(default)]
    old_branch_name: String,
    #[serde(default)]
    old_ref_name: String,
}

async fn create_branch(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Write>,
    JsonBody(body): JsonBody<CreateBranch>,
) -> Result<Response, ApiError> {
    let name = crate::domain::push::parse_branch_name(&body.new_branch_name).map_err(|_| {
        ApiError::Invalid("the new branch's name is not a valid branch name".into())
    })?;
    let from = [body.old_ref_name.trim(), body.old_branch_name.trim()]
        .into_iter()
        .find(|r| !r.is_empty())
        .unwrap_or(grant.repo().default_branch.as_str())
        .to_owned();
    let (exists, start) = {
        let (name, from) = (name.clone(), from.clone());
        st.forge
            .read_repo(&grant, move |r| {
                let exists = r.branch_head(&name)?.is_some();
                let start = r.resolve(&from)?.filter(|at| at.path.is_root());
                Ok((exists, start))
            })
            .await?
    };
    if exists {
        return Err(ApiError::Conflict(format!(
            "The branch {name} already exists."
        )));
    }
    let start = start.ok_or(ApiError::NotFound)?;
    st.forge
        .push_ref(
            &grant,
            &format!("refs/heads/{name}"),
            None,
            Some(&start.commit.0),
        )
        .await?;
    let detail = st
        .forge
        .read_repo(&grant, move |r| r.commit_detail(&start.commit.0))
        .await?
        .ok_or(ApiError::NotFound)?;
    let rules = st.forge.branch_rules(&grant).await?;
    Ok((
        StatusCode::CREATED,
        Json(branch_json(&st, &grant, &rules, &name, &detail)),
    )
        .into_response())
}

/// Deletes a branch as `git push origin :BRANCH` would; a protected branch is refused with the
/// rule's words (403), the default branch too (Gitea refuses it).
async fn delete_branch(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Write>,
    Path(BranchPath { branch }): Path<BranchPath>,
) -> Result<StatusCode, ApiError> {
    let name = branch.clone();
    let head = st
        .forge
        .read_repo(&grant, move |r| r.branch_head(&name))
        .await?
        .ok_or(ApiError::NotFound)?;
    if branch == grant.repo().default_branch {
        return Err(ApiError::Forbidden(
            "the default branch cannot be deleted".into(),
        ));
    }
    st.forge
        .push_ref(
            &grant,
            &format!("refs/heads/{branch}"),
            Some(&head.id.0),
            None,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
