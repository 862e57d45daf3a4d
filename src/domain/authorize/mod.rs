//! The one access decision, used by smart HTTP, SSH, the web UI and the API alike.

mod grant;

use super::{Error, Forge, Result};
use crate::model::{Actor, Repo, RepoAccess, RepoPath, SiteRole};
use crate::storage::RepoRow;

pub use grant::{Admin, AtLeast, Grant, Level, Principal, Read, SystemKey, Write};

/// What `principal` may do with `repo`, given their collaborator row if any (for a deploy key:
/// its attachment to `repo`, read or write). Pure, so every rule is unit-tested: owners and
/// site admins have admin, collaborators their level, everyone reads public repositories, and
/// a token's scope caps the result. A deploy key has its attachment's level on its own
/// repositories and nothing anywhere else, public or not, and never admin.
pub fn effective_access(
    principal: &Principal,
    repo: &Repo,
    collaborator: Option<RepoAccess>,
) -> RepoAccess {
    let public_floor = if repo.is_private {
        RepoAccess::None
    } else {
        RepoAccess::Read
    };
    let actor = match principal {
        Principal::Anonymous => return public_floor,
        Principal::System | Principal::Operator => return RepoAccess::Admin,
        Principal::DeployKey { .. } => {
            return collaborator
                .unwrap_or(RepoAccess::None)
                .min(RepoAccess::Write);
        }
        Principal::User(actor) => actor,
    };
    let granted = if actor.user.id == repo.owner_id || actor.user.role == SiteRole::Admin {
        RepoAccess::Admin
    } else {
        collaborator.unwrap_or(RepoAccess::None)
    };
    let level = granted.max(public_floor);
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
        let (row, open_issues) = found.ok_or(Error::NotFound)?;
        let mut repo = repo_from_row(row);
        repo.open_issues = Some(open_issues);
        let level = effective_access(principal, &repo, collaborator);
        Ok((repo, level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TokenScope, User};

    fn repo(private: bool) -> Repo {
        Repo {
            id: 1,
            owner_id: 10,
            owner: "lab".into(),
            name: "dns".into(),
            description: String::new(),
            is_private: private,
            default_branch: "main".into(),
            is_archived: false,
            open_issues: None,
        }
    }

    fn actor(id: i64, role: SiteRole, scope: Option<TokenScope>) -> Principal {
        Principal::User(Actor {
            user: User {
                id,
                name: format!("u{id}"),
                email: String::new(),
                role,
            },
            scope,
        })
    }

    #[test]
    fn anonymous_reads_public_only() {
        assert_eq!(
            effective_access(&Principal::Anonymous, &repo(false), None),
            RepoAccess::Read
        );
        assert_eq!(
            effective_access(&Principal::Anonymous, &repo(true), None),
            RepoAccess::None
        );
    }

    #[test]
    fn owner_and_site_admin_have_admin() {
        let owner = actor(10, SiteRole::User, None);
        let admin = actor(99, SiteRole::Admin, None);
        assert_eq!(
            effective_access(&owner, &repo(true), None),
            RepoAccess::Admin
        );
        assert_eq!(
            effective_access(&admin, &repo(true), None),
            RepoAccess::Admin
        );
    }

    #[test]
    fn outsider_sees_nothing_private() {
        let outsider = actor(11, SiteRole::User, None);
        assert_eq!(
            effective_access(&outsider, &repo(true), None),
            RepoAccess::None
        );
        assert_eq!(
            effective_access(&outsider, &repo(false), None),
            RepoAccess::Read
        );
    }

    #[test]
    fn collaborator_gets_their_level() {
        let c = actor(12, SiteRole::User, None);
        assert_eq!(
            effective_access(&c, &repo(true), Some(RepoAccess::Write)),
            RepoAccess::Write
        );
        assert_eq!(
            effective_access(&c, &repo(true), Some(RepoAccess::Read)),
            RepoAccess::Read
        );
    }

    #[test]
    fn read_token_caps_even_the_owner() {
        let owner = actor(10, SiteRole::User, Some(TokenScope::Read));
        assert_eq!(
            effective_access(&owner, &repo(true), None),
            RepoAccess::Read
        );
        let writer = actor(10, SiteRole::User, Some(TokenScope::Write));
        assert_eq!(
            effective_access(&writer, &repo(true), None),
            RepoAccess::Admin
        );
    }

    /// Soft Serve's escalation: a repository named like an admin command must not make anyone a
    /// site admin. Repository access can never yield a `SiteRole`; the types keep them apart and
    /// this test pins that the repository's name plays no part in the decision.
    #[test]
    fn repo_names_never_grant_rights() {
        let outsider = actor(11, SiteRole::User, None);
        for name in ["admin", "user", "settings", "repo"] {
            let mut r = repo(true);
            r.name = name.into();
            assert_eq!(effective_access(&outsider, &r, None), RepoAccess::None);
        }
        assert_eq!(outsider.actor().map(|a| a.user.role), Some(SiteRole::User));
    }

    fn deploy_key() -> Principal {
        Principal::DeployKey {
            fingerprint: "SHA256:deploy".into(),
        }
    }

    #[test]
    fn deploy_key_has_its_level_on_its_repository() {
        for private in [true, false] {
            assert_eq!(
                effective_access(&deploy_key(), &repo(private), Some(RepoAccess::Read)),
                RepoAccess::Read
            );
            assert_eq!(
                effective_access(&deploy_key(), &repo(private), Some(RepoAccess::Write)),
                RepoAccess::Write
            );
        }
    }

    /// Anywhere it is not attached, a deploy key has nothing, even on a public repository
    /// (which anonymous visitors read): so its answer there is a missing repository's.
    #[test]
    fn deploy_key_reaches_nothing_else_even_public() {
        assert_eq!(
            effective_access(&deploy_key(), &repo(false), None),
            RepoAccess::None
        );
        assert_eq!(
            effective_access(&deploy_key(), &repo(true), None),
            RepoAccess::None
        );
    }

    /// A deploy key is never a repository admin, whatever its input says: admin-only pushes
    /// (`-o skip-checks`, admins-only branches) and settings stay out of its reach.
    #[test]
    fn deploy_key_is_never_admin() {
        assert_eq!(
            effective_access(&deploy_key(), &repo(true), Some(RepoAccess::Admin)),
            RepoAccess::Write
        );
    }

    /// The repository's owner being the key's owner gives nothing either: a deploy key is no user.
    #[test]
    fn deploy_key_is_not_its_repositorys_owner() {
        let key = deploy_key();
        assert!(key.actor().is_none());
        let mut r = repo(true);
        r.owner_id = 10;
        assert_eq!(effective_access(&key, &r, None), RepoAccess::None);
    }

    #[test]
    fn system_and_operator_have_admin() {
        for p in [Principal::System, Principal::Operator] {
            assert_eq!(effective_access(&p, &repo(true), None), RepoAccess::Admin);
        }
    }
}
