//! The proof of an access decision. A `Grant<L>` holds a repository, who acts on it and the
//! level `authorize` proved; its fields are private and its only constructors are `authorize`
//! (in the parent module) and the two named ones below, which need a `SystemKey` that only
//! `app` mints. Every repository-scoped domain function takes a grant of the level it needs,
//! so a call that skipped the check, or checked too low a level, does not compile:
//!
//! ```compile_fail
//! # use labforge::domain::{Forge, Grant, Read};
//! # use labforge::model::RepoAccess;
//! // A read grant cannot add a collaborator (this needs admin).
//! async fn add(forge: &Forge, grant: &Grant<Read>, user: &labforge::model::Username) {
//!     let _ = forge.add_collaborator(grant, user, RepoAccess::Write).await;
//! }
//! ```
//! Its twin, which differs only in the grant it passes, compiles:
//! ```
//! # use labforge::domain::{Forge, Grant, Admin};
//! # use labforge::model::RepoAccess;
//! async fn add(forge: &Forge, grant: &Grant<Admin>, user: &labforge::model::Username) {
//!     let _ = forge.add_collaborator(grant, user, RepoAccess::Write).await;
//! }
//! ```
//! Nor can code outside `authorize` make one, with or without a struct literal:
//! ```compile_fail
//! # use labforge::domain::{Grant, Admin, Principal};
//! fn forge_a_grant(repo: labforge::model::Repo) -> Grant<Admin> {
//!     Grant { repo, principal: Principal::Anonymous, level: labforge::model::RepoAccess::Admin, need: std::marker::PhantomData }
//! }
//! ```
//! ```compile_fail
//! # use labforge::domain::{Grant, Admin, SystemKey};
//! fn forge_a_grant(repo: labforge::model::Repo) -> Grant<Admin> {
//!     Grant::for_system(&SystemKey::mint_for_app(), repo)
//! }
//! ```
//! The twin: with a key handed down from `app`, the named constructor compiles.
//! ```
//! # use labforge::domain::{Grant, Admin, SystemKey};
//! fn bookkeeping(key: &SystemKey, repo: labforge::model::Repo) -> Grant<Admin> {
//!     Grant::for_system(key, repo)
//! }
//! ```

use std::fmt;
use std::marker::PhantomData;

use crate::model::{Actor, Repo, RepoAccess, SiteRole};

mod sealed {
    pub trait Sealed {}
}

/// A level a route or a domain function needs, as a type. Sealed: the three below are all.
pub trait Level: sealed::Sealed + Send + Sync + 'static {
    const ACCESS: RepoAccess;
}

/// Reads the repository (pages, clones, listing issues).
pub enum Read {}
/// Pushes, triages issues, posts statuses, re-runs deploys.
pub enum Write {}
/// Changes the repository's settings: collaborators, hooks, mirrors, protection, delete.
pub enum Admin {}

impl sealed::Sealed for Read {}
impl sealed::Sealed for Write {}
impl sealed::Sealed for Admin {}
impl Level for Read {
    const ACCESS: RepoAccess = RepoAccess::Read;
}
impl Level for Write {
    const ACCESS: RepoAccess = RepoAccess::Write;
}
impl Level for Admin {
    const ACCESS: RepoAccess = RepoAccess::Admin;
}

/// `Self` includes `M`: an admin grant serves where write or read is needed, never the reverse.
pub trait AtLeast<M: Level>: Level {}
impl AtLeast<Read> for Read {}
impl AtLeast<Read> for Write {}
impl AtLeast<Read> for Admin {}
impl AtLeast<Write> for Write {}
impl AtLeast<Write> for Admin {}
impl AtLeast<Admin> for Admin {}

/// Who acts. The one access rule (`effective_access`) matches on this. Organizations and teams
/// are not actors: they are facts the rule reads (`AccessFacts`) about the user who acts.
#[derive(Debug, Clone)]
pub enum Principal {
    /// Nobody signed in.
    Anonymous,
    /// A user, through a session, a password, a token or an SSH key.
    User(Actor),
    /// The server's own bookkeeping: settling pushes, workers, scheduled jobs.
    System,
    /// The operator at the command line (`labforge admin …`).
    Operator,
    /// An SSH deploy key, by its fingerprint: reaches only the repositories it is attached to,
    /// with git alone (never the SSH commands, the web or the API).
    DeployKey { fingerprint: String },
}

impl Principal {
    pub fn from_actor(actor: Option<&Actor>) -> Self {
        actor.map_or(Principal::Anonymous, |a| Principal::User(a.clone()))
    }

    /// The user acting, if a user acts.
    pub fn actor(&self) -> Option<&Actor> {
        match self {
            Principal::User(a) => Some(a),
            _ => None,
        }
    }
}

/// A value only `app` makes (`mint_for_app`, called from `app` alone: a unit test there
/// checks the whole source for other callers), handed to the workers and the operator's
/// commands so they can act without a visitor's decision. The web and API rooms never hold one.
pub struct SystemKey(());

impl SystemKey {
    /// For `app` only (see the type's comment).
    #[doc(hidden)]
    pub(crate) fn mint_for_app() -> Self {
        SystemKey(())
    }
}

/// A repository together with who acts on it and the level `authorize` proved, at least `L`.
pub struct Grant<L: Level> {
    repo: Repo,
    principal: Principal,
    level: RepoAccess,
    need: PhantomData<fn() -> L>,
}

impl<L: Level> Clone for Grant<L> {
    fn clone(&self) -> Self {
        Grant {
            repo: self.repo.clone(),
            principal: self.principal.clone(),
            level: self.level,
            need: PhantomData,
        }
    }
}

impl<L: Level> fmt::Debug for Grant<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("repo", &self.repo.full_name())
            .field("principal", &self.principal)
            .field("level", &self.level)
            .field("need", &L::ACCESS)
            .finish()
    }
}

impl<L: Level> Grant<L> {
    /// The decision, for `authorize` alone: a grant when `level` covers `L`.
    pub(super) fn proven(repo: Repo, principal: Principal, level: RepoAccess) -> Option<Self> {
        (level >= L::ACCESS).then_some(Grant {
            repo,
            principal,
            level,
            need: PhantomData,
        })
    }

    /// For the server's own bookkeeping (settling a push, the workers).
    pub fn for_system(_key: &SystemKey, repo: Repo) -> Self {
        Grant {
            repo,
            principal: Principal::System,
            level: RepoAccess::Admin,
            need: PhantomData,
        }
    }

    /// For the operator's commands (`labforge admin …`), who may do anything.
    pub fn for_operator(_key: &SystemKey, repo: Repo) -> Self {
        Grant {
            repo,
            principal: Principal::Operator,
            level: RepoAccess::Admin,
            need: PhantomData,
        }
    }

    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The user acting, if a user acts (not the system, the operator or a visitor).
    pub fn actor(&self) -> Option<&Actor> {
        self.principal.actor()
    }

    /// The level proven, at least `L` (pages use it to show the buttons the visitor may use).
    pub fn level(&self) -> RepoAccess {
        self.level
    }

    /// Whether the actor is a site admin (for pages that show the operator's details).
    pub fn is_site_admin(&self) -> bool {
        matches!(self.principal, Principal::Operator)
            || self.actor().is_some_and(|a| a.user.role == SiteRole::Admin)
    }

    /// The same decision at a lower level: an admin grant serves a write action.
    pub fn lower<M: Level>(&self) -> Grant<M>
    where
        L: AtLeast<M>,
    {
        Grant {
            repo: self.repo.clone(),
            principal: self.principal.clone(),
            level: self.level,
            need: PhantomData,
        }
    }

    /// The grant at level `M` if the level already proven covers it: a reader's page may offer
    /// a writer's button. Never more than `authorize` proved.
    pub fn at_least<M: Level>(&self) -> Option<Grant<M>> {
        Grant::proven(self.repo.clone(), self.principal.clone(), self.level)
    }

    /// Keeps the decision but refreshes the repository's row (after a rename).
    pub(in crate::domain) fn with_repo(self, repo: Repo) -> Self {
        debug_assert_eq!(repo.id, self.repo.id, "a grant stays with its repository");
        Grant { repo, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TokenScope, User};

    fn repo() -> Repo {
        Repo {
            id: 1,
            owner_id: 10,
            owner: "lab".into(),
            name: "dns".into(),
            description: String::new(),
            is_private: true,
            default_branch: "main".into(),
            is_archived: false,
            open_issues: None,
        }
    }

    fn reader() -> Principal {
        Principal::User(Actor {
            user: User {
                id: 11,
                name: "bob".into(),
                email: String::new(),
                role: SiteRole::User,
            },
            scope: Some(TokenScope::Read),
        })
    }

    #[test]
    fn a_grant_needs_the_level_it_names() {
        assert!(Grant::<Read>::proven(repo(), reader(), RepoAccess::Read).is_some());
        assert!(Grant::<Write>::proven(repo(), reader(), RepoAccess::Read).is_none());
        assert!(Grant::<Admin>::proven(repo(), reader(), RepoAccess::Write).is_none());
        assert!(Grant::<Read>::proven(repo(), Principal::Anonymous, RepoAccess::None).is_none());
    }

    #[test]
    fn lowering_keeps_the_proven_level_and_raising_stops_there() {
        let write = Grant::<Write>::proven(repo(), reader(), RepoAccess::Write).unwrap();
        let read: Grant<Read> = write.lower();
        assert_eq!(read.level(), RepoAccess::Write);
        assert!(read.at_least::<Write>().is_some());
        assert!(read.at_least::<Admin>().is_none());
    }
}
