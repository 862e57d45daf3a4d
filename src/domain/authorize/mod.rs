//! The one access decision, used by smart HTTP, SSH, the web UI and the API alike.

mod grant;
mod org_grant;

use super::{Error, Forge, Result};
use crate::model::{
    Actor, Org, OrgFacts, OrgRole, OrgVisibility, Repo, RepoAccess, RepoPath, SiteRole, Username,
};
use crate::storage::RepoRow;

pub use grant::{Admin, AtLeast, Grant, Level, Principal, Read, SystemKey, Write};
pub use org_grant::OrgGrant;

/// Everything besides the principal and the repository that the rule reads: the principal's
/// own row (a user's collaborator level; a deploy key's attachment to the repository, read or
/// write), and the organization's facts when an organization owns the repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessFacts {
    pub collaborator: Option<RepoAccess>,
    pub org: Option<OrgFacts>,
}

/// What `principal` may do with `repo`. Pure, so every rule is unit-tested. For a user the
/// level is the highest of: site admin and owner (admin), owner of the owning organization
/// (admin), the user's teams that cover the repository (their level), collaborator (their
/// level), and public read, which needs a public repository whose organization (if any) the
/// actor may see: a public one, a limited one when signed in, a private one only as a member.
/// A token's scope then caps the result. A deploy key has its attachment's level on its own
/// repositories and nothing anywhere else, public or not, and never admin; the server itself
/// and the operator have admin.
pub fn effective_access(principal: &Principal, repo: &Repo, facts: &AccessFacts) -> RepoAccess {
    let actor = match principal {
        Principal::System | Principal::Operator => return RepoAccess::Admin,
        Principal::DeployKey { .. } => {
            return facts
                .collaborator
                .unwrap_or(RepoAccess::None)
                .min(RepoAccess::Write);
        }
        Principal::Anonymous => None,
        Principal::User(actor) => Some(actor),
    };
    let owner_visible = match facts.org {
        None => true,
        Some(org) => match org.visibility {
            OrgVisibility::Public => true,
            OrgVisibility::Limited => actor.is_some(),
            OrgVisibility::Private => org.role.is_some(),
        },
    };
    let public_floor = if !repo.is_private && owner_visible {
        RepoAccess::Read
    } else {
        RepoAccess::None
    };
    let Some(actor) = actor else {
        return public_floor;
    };
    let site_or_owner = actor.user.id == repo.owner_id || actor.user.role == SiteRole::Admin;
    let org_owner = facts.org.is_some_and(|o| o.role == Some(OrgRole::Owner));
    let team = facts.org.and_then(|o| o.team).unwrap_or(RepoAccess::None);
    let granted = if site_or_owner || org_owner {
        RepoAccess::Admin
    } else {
        team.max(facts.collaborator.unwrap_or(RepoAccess::None))
    };
    let level = granted.max(public_floor);
    match actor.scope {
        Some(scope) => level.min(scope.cap()),
        None => level,
    }
}

/// What `actor` may do with an organization itself: admin (manage it) for its owners and site
/// admins, read (see its page, members and teams) for members and for whoever its visibility
/// admits (anyone if public, the signed-in if limited), nothing otherwise; a token's scope caps
/// it as it caps repository access.
pub fn org_access(
    actor: Option<&Actor>,
    visibility: OrgVisibility,
    role: Option<OrgRole>,
) -> RepoAccess {
    let seen = match visibility {
        OrgVisibility::Public => RepoAccess::Read,
        OrgVisibility::Limited if actor.is_some() => RepoAccess::Read,
        _ => RepoAccess::None,
    };
    let Some(actor) = actor else {
        return seen;
    };
    let level = if actor.user.role == SiteRole::Admin || role == Some(OrgRole::Owner) {
        RepoAccess::Admin
    } else if role.is_some() {
        RepoAccess::Read
    } else {
        seen
    };
    match actor.scope {
        Some(scope) => level.min(scope.cap()),
        None => level,
    }
}

/// An id no repository (nor user) has: identity columns start at 1.
const NO_REPO: i64 = -1;

pub(super) fn repo_from_row(row: RepoRow) -> Repo {
    Repo {
        id: row.id,
        owner_id: row.owner_id,
        owner: row.owner,
        name: row.name,
        description: row.description,
        is_private: row.is_private,
        default_branch: row.default_branch,
        is_archived: row.archived,
        open_issues: None,
    }
}

pub(super) fn org_from_row(row: crate::storage::OrgRow) -> Org {
    Org {
        id: row.id,
        name: row.name,
        description: row.description,
        visibility: row.visibility,
    }
}

impl Forge {
    /// The operator's and the system's way to a repository by name: a grant from the key
    /// only `app` hands out, no visitor's decision.
    pub async fn grant_for_operator<L: Level>(
        &self,
        key: &SystemKey,
        path: &RepoPath,
    ) -> Result<Grant<L>> {
        Ok(Grant::for_operator(key, self.repo_by_path(path).await?))
    }

    /// As `grant_for_operator`, for the server's own bookkeeping (workers, settling pushes).
    pub async fn grant_for_system<L: Level>(
        &self,
        key: &SystemKey,
        id: crate::model::RepoId,
    ) -> Result<Grant<L>> {
        let repo = self.repo_by_id(id).await?.ok_or(Error::NotFound)?;
        Ok(Grant::for_system(key, repo))
    }

    /// A repository's row by name, no access check: private to the domain.
    /// Whether a repository of that name exists, for the operator's start-up report (the key
    /// keeps this answer, which no visitor may have, out of the web's and the API's reach).
    pub async fn repo_exists(&self, _key: &SystemKey, path: &RepoPath) -> Result<bool> {
        match self.repo_by_path(path).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A repository's row by name, no decision taken: for the domain's own use.
    pub(in crate::domain) async fn repo_by_path(&self, path: &RepoPath) -> Result<Repo> {
        let row = self
            .db
            .repo_by_path(path.owner.as_str(), path.name.as_str())
            .await?;
        Ok(repo_from_row(row.ok_or(Error::NotFound)?))
    }

    /// For the server's own bookkeeping (settling pushes, workers): no access check.
    pub async fn repo_by_id(&self, id: i64) -> Result<Option<Repo>> {
        Ok(self.db.repo_by_id(id).await?.map(repo_from_row))
    }

    /// Loads the repository and checks that `actor` has at least `L`; the grant it returns is
    /// what every repository-scoped domain function takes. A repository the actor may not read
    /// is `NotFound`, exactly like one that does not exist, so existence never leaks.
    pub async fn authorize<L: Level>(
        &self,
        actor: Option<&Actor>,
        path: &RepoPath,
    ) -> Result<Grant<L>> {
        self.authorize_as(&Principal::from_actor(actor), path).await
    }

    /// As `authorize`, for any principal (a deploy key over SSH).
    pub async fn authorize_as<L: Level>(
        &self,
        principal: &Principal,
        path: &RepoPath,
    ) -> Result<Grant<L>> {
        let (repo, level) = self.access(principal, path).await?;
        let name = repo.full_name();
        match Grant::proven(repo, principal.clone(), level) {
            Some(grant) => Ok(grant),
            None if level == RepoAccess::None => Err(Error::NotFound),
            None => Err(Error::Forbidden(format!(
                "you have {level} access to {name}; this needs {}",
                L::ACCESS
            ))),
        }
    }

    /// As `authorize`, with the level chosen at run time (git's services: a push needs write,
    /// a clone read), answered as the read grant it at least is plus the level proven.
    pub async fn authorize_level(
        &self,
        actor: Option<&Actor>,
        path: &RepoPath,
        need: RepoAccess,
    ) -> Result<Grant<Read>> {
        let grant = self.authorize::<Read>(actor, path).await?;
        if grant.level() >= need {
            Ok(grant)
        } else {
            Err(Error::Forbidden(format!(
                "you have {} access to {}; this needs {need}",
                grant.level(),
                grant.repo().full_name()
            )))
        }
    }

    /// Loads the organization and checks that `actor` has at least `L` on it (`org_access`).
    /// An organization the actor may not see is `NotFound`, exactly like a missing one; so is
    /// a name that belongs to a user.
    pub async fn authorize_org<L: Level>(
        &self,
        actor: Option<&Actor>,
        name: &Username,
    ) -> Result<OrgGrant<L>> {
        let row = self.db.org_by_name(name.as_str()).await?;
        let user_id = actor.map_or(NO_REPO, |a| a.user.id);
        let org_id = row.as_ref().map_or(NO_REPO, |r| r.id);
        let role = self.db.org_role(org_id, user_id).await?;
        let org = org_from_row(row.ok_or(Error::NotFound)?);
        let level = org_access(actor, org.visibility, role);
        let label = org.name.clone();
        match OrgGrant::proven(org, Principal::from_actor(actor), level) {
            Some(grant) => Ok(grant),
            None if level == RepoAccess::None => Err(Error::NotFound),
            None => Err(Error::Forbidden(format!(
                "only the owners of {label} may do this"
            ))),
        }
    }

    /// The operator's way to an organization by name (`labforge admin org …`).
    pub async fn grant_org_for_operator<L: Level>(
        &self,
        key: &SystemKey,
        name: &Username,
    ) -> Result<OrgGrant<L>> {
        let row = self.db.org_by_name(name.as_str()).await?;
        let row =
            row.ok_or_else(|| Error::InvalidInput(format!("there is no organization '{name}'")))?;
        Ok(OrgGrant::for_operator(key, org_from_row(row)))
    }

    /// The repository and what `actor` may do with it (`NotFound` only if it does not exist);
    /// private: everything outside goes through `authorize`. A missing repository costs the
    /// same queries as a private one the actor cannot see (the collaborator lookup runs for an
    /// id no row has), so the answer's timing does not tell them apart.
    pub(in crate::domain) async fn access(
        &self,
        principal: &Principal,
        path: &RepoPath,
    ) -> Result<(Repo, RepoAccess)> {
        let found = self
            .db
            .repo_by_path_with_open_issues(path.owner.as_str(), path.name.as_str())
            .await?;
        let (repo_id, owner_id) = found
            .as_ref()
            .map_or((NO_REPO, NO_REPO), |(r, _)| (r.id, r.owner_id));
        let user_id = principal.actor().map_or(NO_REPO, |a| a.user.id);
        let collaborator = match principal {
            Principal::User(a) if a.user.id != owner_id => {
                self.db.collaborator_access(repo_id, a.user.id).await?
            }
            Principal::DeployKey { fingerprint } => self
                .db
                .deploy_key_read_only(fingerprint, repo_id)
                .await?
                .map(|read_only| {
                    if read_only {
                        RepoAccess::Read
                    } else {
                        RepoAccess::Write
                    }
                }),
            _ => None,
        };
        let org = self.db.org_facts(owner_id, repo_id, user_id).await?;
        let (row, open_issues) = found.ok_or(Error::NotFound)?;
        let mut repo = repo_from_row(row);
        repo.open_issues = Some(open_issues);
        let level = effective_access(principal, &repo, &AccessFacts { collaborator, org });
        Ok((repo, level))
    }
}

#[cfg(test)]
mod tests;
