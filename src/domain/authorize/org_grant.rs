//! The proof of an organization-level decision, as `Grant` is for a repository: an
//! `OrgGrant<Read>` lets its holder see the organization's page, members and teams; an
//! `OrgGrant<Admin>` lets them manage it (profile, members, teams, deletion). Made only by
//! `Forge::authorize_org` and, for the operator's commands, `for_operator` with the `SystemKey`:
//!
//! ```compile_fail
//! # use labforge::domain::{OrgGrant, Admin, Principal};
//! fn forge(org: labforge::model::Org) -> OrgGrant<Admin> {
//!     OrgGrant { org, principal: Principal::Anonymous, level: labforge::model::RepoAccess::Admin, need: std::marker::PhantomData }
//! }
//! ```
//! ```compile_fail
//! # use labforge::domain::{Forge, OrgGrant, Read};
//! // Seeing an organization does not let one delete it.
//! async fn delete(forge: &Forge, grant: &OrgGrant<Read>) {
//!     let _ = forge.delete_org(grant).await;
//! }
//! ```

use std::marker::PhantomData;

use super::{AtLeast, Level, Principal, SystemKey};
use crate::model::{Org, RepoAccess};

pub struct OrgGrant<L: Level> {
    org: Org,
    principal: Principal,
    level: RepoAccess,
    need: PhantomData<fn() -> L>,
}

impl<L: Level> std::fmt::Debug for OrgGrant<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgGrant")
            .field("org", &self.org.name)
            .field("principal", &self.principal)
            .field("level", &self.level)
            .finish()
    }
}

impl<L: Level> OrgGrant<L> {
    /// The decision, for `authorize_org` alone: a grant when `level` covers `L`.
    pub(super) fn proven(org: Org, principal: Principal, level: RepoAccess) -> Option<Self> {
        (level >= L::ACCESS).then_some(OrgGrant {
            org,
            principal,
            level,
            need: PhantomData,
        })
    }

    /// For the operator's commands (`labforge admin org …`), who may do anything.
    pub fn for_operator(_key: &SystemKey, org: Org) -> Self {
        OrgGrant {
            org,
            principal: Principal::Operator,
            level: RepoAccess::Admin,
            need: PhantomData,
        }
    }

    pub fn org(&self) -> &Org {
        &self.org
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The level proven: admin for the organization's owners and site admins, read otherwise.
    pub fn level(&self) -> RepoAccess {
        self.level
    }

    /// The grant at level `M` if the level proven covers it (a page offering the owners' links).
    pub fn at_least<M: Level>(&self) -> Option<OrgGrant<M>> {
        OrgGrant::proven(self.org.clone(), self.principal.clone(), self.level)
    }

    pub fn lower<M: Level>(&self) -> OrgGrant<M>
    where
        L: AtLeast<M>,
    {
        OrgGrant {
            org: self.org.clone(),
            principal: self.principal.clone(),
            level: self.level,
            need: PhantomData,
        }
    }
}
