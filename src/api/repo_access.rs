//! Who may do what to a repository, in Gitea's API: collaborators (`/collaborators`, a
//! user's `/permission`), branch protection (`/branch_protections`, Gitea's BranchProtection
//! mapped onto labforge's rules) and git hooks (`/hooks/git`: always empty, never writable;
//! server-side hooks are the operator's, in the configuration).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::access::ApiRepo;
use super::body::JsonBody;
use super::convert::repository::user_json;
use super::convert::user::ApiUser;
use super::paging::Paging;
use super::{ApiError, ApiState};
use crate::domain::push::BranchRule;
use crate::domain::{Admin, Error};
use crate::model::{CheckName, RepoAccess, Username};
use crate::routes::{Need, Routes};

pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    let c = "/repos/{owner}/{repo}/collaborators";
    let p = "/repos/{owner}/{repo}/branch_protections";
    let h = "/repos/{owner}/{repo}/hooks/git";
    Routes::new()
        .get(c, Need::READ, list_collaborators)
        .get(&format!("{c}/{{user}}"), Need::READ, check_collaborator)
        .put(&format!("{c}/{{user}}"), Need::ADMIN, add_collaborator)
        .delete(&format!("{c}/{{user}}"), Need::ADMIN, remove_collaborator)
        .get(
            &format!("{c}/{{user}}/permission"),
            Need::READ,
            show_permission,
        )
        .get(p, Need::ADMIN, list_protections)
        .post(p, Need::ADMIN, create_protection)
        .get(&format!("{p}/{{name}}"), Need::ADMIN, show_protection)
        .patch(&format!("{p}/{{name}}"), Need::ADMIN, edit_protection)
        .delete(&format!("{p}/{{name}}"), Need::ADMIN, delete_protection)
        .get(h, Need::ADMIN, list_git_hooks)
        .get(&format!("{h}/{{id}}"), Need::ADMIN, show_git_hook)
        .patch(&format!("{h}/{{id}}"), Need::ADMIN, refuse_git_hook)
        .delete(&format!("{h}/{{id}}"), Need::ADMIN, refuse_git_hook)
}

#[derive(Deserialize)]
struct UserParam {
    user: String,
}

/// Gitea answers 422 for a user that does not exist (the repository was found).
fn no_such_user(e: Error) -> ApiError {
    match e {
        Error::NotFound => ApiError::Invalid("user does not exist".into()),
        other => other.into(),
    }
}

async fn list_collaborators(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    paging: Paging,
) -> Result<Response, ApiError> {
    let (rows, total) = st
        .forge
        .collaborator_page(&grant, paging.offset(), paging.limit())
        .await?;
    let users: Vec<ApiUser> = rows
        .iter()
        .map(|(u, _)| user_json(&st.config, u, grant.actor()))
        .collect();
    Ok(paging.answer(users, total))
}

/// 204 when the user collaborates on the repository, 404 when not (Gitea's `IsCollaborator`).
async fn check_collaborator(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(UserParam { user }): Path<UserParam>,
) -> Result<StatusCode, ApiError> {
    let user = st.forge.user_view(&user).await.map_err(no_such_user)?;
    match st.forge.collaborator_level(&grant, user.id).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::NotFound),
    }
}

/// Gitea's AddCollaboratorOption; Gitea's default permission is write.
#[derive(Deserialize)]
struct AddCollaboratorOption {
    permission: Option<String>,
}

async fn add_collaborator(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    Path(UserParam { user }): Path<UserParam>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let opt: AddCollaboratorOption = if body.iter().all(u8::is_ascii_whitespace) {
        AddCollaboratorOption { permission: None }
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Invalid(e.to_string()))?
    };
    let access = match opt.permission.as_deref().map(str::trim) {
        None | Some("") | Some("write") => RepoAccess::Write,
        Some("read") => RepoAccess::Read,
        Some("admin") => RepoAccess::Admin,
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "permission must be read, write or admin, not \"{other}\""
            )));
        }
    };
    let name =
        Username::parse(&user).map_err(|_| ApiError::Invalid("user does not exist".into()))?;
    st.forge
        .add_collaborator(&grant, &name, access)
        .await
        .map_err(no_such_user)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_collaborator(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    Path(UserParam { user }): Path<UserParam>,
) -> Result<StatusCode, ApiError> {
    let found = st.forge.user_view(&user).await.map_err(no_such_user)?;
    let name = Username::parse(&found.name)
        .map_err(|_| ApiError::Invalid("user does not exist".into()))?;
    match st.forge.remove_collaborator(&grant, &name).await {
        // Gitea answers 204 for a user who was no collaborator: the state asked for holds.
        Ok(()) | Err(Error::NotFound) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(e.into()),
    }
}

/// Gitea's RepoCollaboratorPermission.
#[derive(Serialize)]
struct RepoCollaboratorPermission {
    permission: &'static str,
    role_name: &'static str,
    user: ApiUser,
}

async fn show_permission(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo,
    Path(UserParam { user }): Path<UserParam>,
) -> Result<Json<RepoCollaboratorPermission>, ApiError> {
    let (user, level) = st
        .forge
        .user_level(&grant, &user)
        .await
        .map_err(no_such_user)?;
    // Gitea's AccessMode words: the owner is "owner", the rest their level.
    let word = if user.id == grant.repo().owner_id {
        "owner"
    } else {
        level.as_str()
    };
    Ok(Json(RepoCollaboratorPermission {
        permission: word,
        role_name: word,
        user: user_json(&st.config, &user, grant.actor()),
    }))
}

/// Gitea's BranchProtection. labforge's rule is a pattern, "admins only", and required checks,
/// and it always refuses force-pushes and deletion; the rest answers Gitea's defaults.
#[derive(Serialize)]
struct BranchProtection {
    branch_name: String,
    rule_name: String,
    enable_push: bool,
    enable_push_whitelist: bool,
    push_whitelist_usernames: Vec<String>,
    push_whitelist_teams: Vec<String>,
    push_whitelist_deploy_keys: bool,
    enable_merge_whitelist: bool,
    merge_whitelist_usernames: Vec<String>,
    merge_whitelist_teams: Vec<String>,
    enable_status_check: bool,
    status_check_contexts: Vec<String>,
    required_approvals: i64,
    enable_approvals_whitelist: bool,
    approvals_whitelist_username: Vec<String>,
    approvals_whitelist_teams: Vec<String>,
    block_on_rejected_reviews: bool,
    block_on_official_review_requests: bool,
    block_on_outdated_branch: bool,
    dismiss_stale_approvals: bool,
    ignore_stale_approvals: bool,
    require_signed_commits: bool,
    protected_file_patterns: String,
    unprotected_file_patterns: String,
    created_at: String,
    updated_at: String,
}

impl BranchProtection {
    fn of(rule: &BranchRule) -> Self {
        BranchProtection {
            branch_name: rule.pattern.clone(),
            rule_name: rule.pattern.clone(),
            enable_push: true,
            enable_push_whitelist: rule.admins_only,
            push_whitelist_usernames: Vec::new(),
            push_whitelist_teams: Vec::new(),
            push_whitelist_deploy_keys: false,
            enable_merge_whitelist: false,
            merge_whitelist_usernames: Vec::new(),
            merge_whitelist_teams: Vec::new(),
            enable_status_check: !rule.required_checks.is_empty(),
            status_check_contexts: rule.required_checks.clone(),
            required_approvals: 0,
            enable_approvals_whitelist: false,
            approvals_whitelist_username: Vec::new(),
            approvals_whitelist_teams: Vec::new(),
            block_on_rejected_reviews: false,
            block_on_official_review_requests: false,
            block_on_outdated_branch: false,
            dismiss_stale_approvals: false,
            ignore_stale_approvals: false,
            require_signed_commits: false,
            protected_file_patterns: String::new(),
            unprotected_file_patterns: String::new(),
            created_at: crate::domain::rfc3339(rule.created_at),
            updated_at: crate::domain::rfc3339(rule.updated_at),
        }
    }
}

/// Gitea's Create/EditBranchProtectionOption: the fields labforge enforces, and the others
/// read only to refuse a value other than Gitea's default (a rule must not seem to hold
/// what labforge does not enforce).
#[derive(Deserialize, Default)]
struct ProtectionOption {
    branch_name: Option<String>,
    rule_name: Option<String>,
    enable_push: Option<bool>,
    enable_push_whitelist: Option<bool>,
    push_whitelist_usernames: Option<Vec<String>>,
    push_whitelist_teams: Option<Vec<String>>,
    push_whitelist_deploy_keys: Option<bool>,
    enable_merge_whitelist: Option<bool>,
    merge_whitelist_usernames: Option<Vec<String>>,
    merge_whitelist_teams: Option<Vec<String>>,
    enable_status_check: Option<bool>,
    status_check_contexts: Option<Vec<String>>,
    required_approvals: Option<i64>,
    enable_approvals_whitelist: Option<bool>,
    approvals_whitelist_username: Option<Vec<String>>,
    approvals_whitelist_teams: Option<Vec<String>>,
    block_on_rejected_reviews: Option<bool>,
    block_on_official_review_requests: Option<bool>,
    block_on_outdated_branch: Option<bool>,
    dismiss_stale_approvals: Option<bool>,
    ignore_stale_approvals: Option<bool>,
    require_signed_commits: Option<bool>,
    protected_file_patterns: Option<String>,
    unprotected_file_patterns: Option<String>,
}

/// Most status check contexts one rule takes.
const MAX_CONTEXTS: usize = 50;

impl ProtectionOption {
    /// Refuses a field labforge does not enforce when it asks for more than Gitea's default.
    fn refuse_unenforced(&self) -> Result<(), ApiError> {
        let set = |b: Option<bool>| b == Some(true);
        let listed = |l: &Option<Vec<String>>| l.as_ref().is_some_and(|l| !l.is_empty());
        let text = |t: &Option<String>| t.as_ref().is_some_and(|t| !t.trim().is_empty());
        let unenforced = [
            (
                "push_whitelist_usernames",
                listed(&self.push_whitelist_usernames),
            ),
            ("push_whitelist_teams", listed(&self.push_whitelist_teams)),
            (
                "push_whitelist_deploy_keys",
                set(self.push_whitelist_deploy_keys),
            ),
            ("enable_merge_whitelist", set(self.enable_merge_whitelist)),
            (
                "merge_whitelist_usernames",
                listed(&self.merge_whitelist_usernames),
            ),
            ("merge_whitelist_teams", listed(&self.merge_whitelist_teams)),
            (
                "required_approvals",
                self.required_approvals.is_some_and(|n| n != 0),
            ),
            (
                "enable_approvals_whitelist",
                set(self.enable_approvals_whitelist),
            ),
            (
                "approvals_whitelist_username",
                listed(&self.approvals_whitelist_username),
            ),
            (
                "approvals_whitelist_teams",
                listed(&self.approvals_whitelist_teams),
            ),
            (
                "block_on_rejected_reviews",
                set(self.block_on_rejected_reviews),
            ),
            (
                "block_on_official_review_requests",
                set(self.block_on_official_review_requests),
            ),
            (
                "block_on_outdated_branch",
                set(self.block_on_outdated_branch),
            ),
            ("dismiss_stale_approvals", set(self.dismiss_stale_approvals)),
            ("ignore_stale_approvals", set(self.ignore_stale_approvals)),
            ("require_signed_commits", set(self.require_signed_commits)),
            (
                "protected_file_patterns",
                text(&self.protected_file_patterns),
            ),
            (
                "unprotected_file_patterns",
                text(&self.unprotected_file_patterns),
            ),
        ];
        match unenforced.iter().find(|(_, asked)| *asked) {
            Some((field, _)) => Err(ApiError::Invalid(format!(
                "labforge does not enforce {field}; a rule can make a branch admins-only \
                 (enable_push_whitelist, or enable_push false) and require checks \
                 (status_check_contexts), and always refuses force-pushes and deletion"
            ))),
            None => Ok(()),
        }
    }

    /// The rule's "admins only" and required checks, over what `current` had.
    fn apply(&self, current: Option<&BranchRule>) -> Result<(bool, Vec<CheckName>), ApiError> {
        self.refuse_unenforced()?;
        // Gitea's `enable_push: false` lets nobody push directly; labforge's nearest rule,
        // and the stricter one, is admins only.
        let admins_only = match (self.enable_push, self.enable_push_whitelist) {
            (Some(false), _) | (_, Some(true)) => true,
            (Some(true), None) | (_, Some(false)) => false,
            (None, None) => current.is_none_or(|r| r.admins_only),
        };
        let contexts = match (&self.status_check_contexts, self.enable_status_check) {
            (_, Some(false)) => Vec::new(),
            (Some(list), _) => list.clone(),
            (None, _) => current
                .map(|r| r.required_checks.clone())
                .unwrap_or_default(),
        };
        if contexts.len() > MAX_CONTEXTS {
            return Err(ApiError::Invalid(format!(
                "at most {MAX_CONTEXTS} status check contexts"
            )));
        }
        let checks = contexts
            .iter()
            .map(|c| {
                CheckName::parse(c)
                    .map_err(|e| ApiError::Invalid(format!("status check context \"{c}\": {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((admins_only, checks))
    }
}

async fn find_rule(
    st: &ApiState,
    grant: &crate::domain::Grant<Admin>,
    name: &str,
) -> Result<Option<BranchRule>, ApiError> {
    Ok(st
        .forge
        .branch_rules(grant)
        .await?
        .into_iter()
        .find(|r| r.pattern == name.trim()))
}

async fn list_protections(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    paging: Paging,
) -> Result<Response, ApiError> {
    let rules = st.forge.branch_rules(&grant).await?;
    let (page, total) = paging.slice(rules);
    Ok(paging.answer(page.iter().map(BranchProtection::of).collect(), total))
}

async fn create_protection(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    JsonBody(opt): JsonBody<ProtectionOption>,
) -> Result<Response, ApiError> {
    let name = opt
        .rule_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .or(opt.branch_name.as_deref())
        .unwrap_or("")
        .trim()
        .to_owned();
    if find_rule(&st, &grant, &name).await?.is_some() {
        return Err(ApiError::Forbidden(
            "Branch protection already exist".into(),
        ));
    }
    let (admins_only, checks) = opt.apply(None)?;
    st.forge
        .protect_branch_requiring(&grant, &name, admins_only, &checks)
        .await?;
    let rule = find_rule(&st, &grant, &name)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the rule just stored is missing")))?;
    Ok((StatusCode::CREATED, Json(BranchProtection::of(&rule))).into_response())
}

#[derive(Deserialize)]
struct NameParam {
    name: String,
}

async fn show_protection(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    Path(NameParam { name }): Path<NameParam>,
) -> Result<Json<BranchProtection>, ApiError> {
    let rule = find_rule(&st, &grant, &name)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(BranchProtection::of(&rule)))
}

async fn edit_protection(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    Path(NameParam { name }): Path<NameParam>,
    JsonBody(opt): JsonBody<ProtectionOption>,
) -> Result<Json<BranchProtection>, ApiError> {
    let rule = find_rule(&st, &grant, &name)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (admins_only, checks) = opt.apply(Some(&rule))?;
    st.forge
        .protect_branch_requiring(&grant, &rule.pattern, admins_only, &checks)
        .await?;
    let rule = find_rule(&st, &grant, &rule.pattern)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(BranchProtection::of(&rule)))
}

async fn delete_protection(
    State(st): State<ApiState>,
    ApiRepo { grant }: ApiRepo<Admin>,
    Path(NameParam { name }): Path<NameParam>,
) -> Result<StatusCode, ApiError> {
    let rule = find_rule(&st, &grant, &name)
        .await?
        .ok_or(ApiError::NotFound)?;
    st.forge.unprotect_branch(&grant, rule.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Server-side git hooks are the operator's (labforge's own shims plus `[[check]]`s and
/// `[[deploy]]`s in the configuration): there are none to list.
async fn list_git_hooks(ApiRepo { grant: _ }: ApiRepo<Admin>) -> Json<Vec<()>> {
    Json(Vec::new())
}

async fn show_git_hook(ApiRepo { grant: _ }: ApiRepo<Admin>) -> ApiError {
    ApiError::NotFound
}

/// Editable git hooks are how Gitea and Gogs servers were taken over (a repository admin
/// writing a shell script the server runs): refused for everyone, admins included.
async fn refuse_git_hook(ApiRepo { grant: _ }: ApiRepo<Admin>) -> ApiError {
    ApiError::Forbidden(
        "server-side git hooks are the operator's, set in labforge's configuration \
         ([[check]] and [[deploy]]); they are never editable over the API"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(admins_only: bool, checks: &[&str]) -> BranchRule {
        BranchRule {
            id: 1,
            pattern: "main".into(),
            admins_only,
            required_checks: checks.iter().map(|c| (*c).to_owned()).collect(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn names(checks: &[CheckName]) -> Vec<&str> {
        checks.iter().map(CheckName::as_str).collect()
    }

    #[test]
    fn push_fields_map_onto_admins_only() {
        let opt = |push: Option<bool>, whitelist: Option<bool>| ProtectionOption {
            enable_push: push,
            enable_push_whitelist: whitelist,
            ..ProtectionOption::default()
        };
        // Gitea's "nobody pushes" and "only the listed" both become admins only.
        assert!(opt(Some(false), None).apply(None).unwrap().0);
        assert!(opt(Some(true), Some(true)).apply(None).unwrap().0);
        assert!(!opt(Some(true), None).apply(None).unwrap().0);
        assert!(!opt(None, Some(false)).apply(None).unwrap().0);
        // An edit that names neither keeps the rule's.
        assert!(!opt(None, None).apply(Some(&rule(false, &[]))).unwrap().0);
        assert!(opt(None, None).apply(Some(&rule(true, &[]))).unwrap().0);
        // A new rule without either is Gitea's default, `enable_push: false`.
        assert!(opt(None, None).apply(None).unwrap().0);
    }

    #[test]
    fn status_checks_follow_enable_status_check() {
        let with = |enable: Option<bool>, list: Option<&[&str]>| ProtectionOption {
            enable_push: Some(true),
            enable_status_check: enable,
            status_check_contexts: list.map(|l| l.iter().map(|c| (*c).to_owned()).collect()),
            ..ProtectionOption::default()
        };
        let kept = rule(false, &["zones"]);
        let (_, checks) = with(None, None).apply(Some(&kept)).unwrap();
        assert_eq!(names(&checks), ["zones"]);
        let (_, checks) = with(Some(false), Some(&["yaml"]))
            .apply(Some(&kept))
            .unwrap();
        assert!(checks.is_empty());
        let (_, checks) = with(Some(true), Some(&["yaml"]))
            .apply(Some(&kept))
            .unwrap();
        assert_eq!(names(&checks), ["yaml"]);
        assert!(with(Some(true), Some(&["no spaces"])).apply(None).is_err());
        let many: Vec<String> = (0..=MAX_CONTEXTS).map(|i| format!("c{i}")).collect();
        let flood = ProtectionOption {
            status_check_contexts: Some(many),
            ..ProtectionOption::default()
        };
        assert!(flood.apply(None).is_err());
    }

    #[test]
    fn unenforced_fields_are_refused_unless_default() {
        let defaults = ProtectionOption {
            require_signed_commits: Some(false),
            required_approvals: Some(0),
            push_whitelist_usernames: Some(Vec::new()),
            protected_file_patterns: Some(String::new()),
            ..ProtectionOption::default()
        };
        assert!(defaults.refuse_unenforced().is_ok());
        for opt in [
            ProtectionOption {
                require_signed_commits: Some(true),
                ..ProtectionOption::default()
            },
            ProtectionOption {
                required_approvals: Some(1),
                ..ProtectionOption::default()
            },
            ProtectionOption {
                push_whitelist_usernames: Some(vec!["bob".into()]),
                ..ProtectionOption::default()
            },
            ProtectionOption {
                protected_file_patterns: Some("*.key".into()),
                ..ProtectionOption::default()
            },
        ] {
            assert!(opt.refuse_unenforced().is_err());
        }
    }
}
