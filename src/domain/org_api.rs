//! What the API asks of organizations beyond the pages' needs: lists of organizations as a
//! caller may see them, a team by its id (Gitea names teams by id), and one user's standing in
//! an organization (Gitea's OrganizationPermissions). Every decision is `org_access`'s.

use std::collections::HashMap;

use super::authorize::{org_access, org_from_row};
use super::{Error, Forge, Level, OrgGrant, Read, Result};
use crate::model::{Actor, Org, OrgRole, RepoAccess, SiteRole, Team, TeamName, Username};

/// One user's standing in an organization, as Gitea's OrganizationPermissions reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgStanding {
    pub is_owner: bool,
    /// Owner, or member of a team with admin access.
    pub is_admin: bool,
    /// Owner, or member of a team with write access or more.
    pub can_write: bool,
    pub can_read: bool,
    pub can_create_repository: bool,
}

impl Forge {
    /// Every organization `actor` may see (`org_access` at read or more), by name.
    pub async fn visible_orgs(&self, actor: Option<&Actor>) -> Result<Vec<Org>> {
        let roles: HashMap<i64, OrgRole> = match actor {
            Some(a) => self
                .db
                .orgs_of_user(a.user.id)
                .await?
                .into_iter()
                .map(|(row, owner)| {
                    let role = if owner {
                        OrgRole::Owner
                    } else {
                        OrgRole::Member
                    };
                    (row.id, role)
                })
                .collect(),
            None => HashMap::new(),
        };
        Ok(self
            .db
            .list_orgs()
            .await?
            .into_iter()
            .map(org_from_row)
            .filter(|o| {
                org_access(actor, o.visibility, roles.get(&o.id).copied()) >= RepoAccess::Read
            })
            .collect())
    }

    /// The organizations `user` belongs to that `viewer` may see (Gitea's `ListUserOrgs`). A
    /// missing user is `NotFound`.
    pub async fn user_orgs_visible_to(
        &self,
        user: &Username,
        viewer: Option<&Actor>,
    ) -> Result<Vec<Org>> {
        let member = self.user(user).await?;
        let mut seen = Vec::new();
        for (row, _) in self.db.orgs_of_user(member.id).await? {
            let name = Username::parse(&row.name)?;
            if self.authorize_org::<Read>(viewer, &name).await.is_ok() {
                seen.push(org_from_row(row));
            }
        }
        Ok(seen)
    }

    /// A team by id and the caller's grant on its organization at level `L`. A team whose
    /// organization the caller may not see is `NotFound`, as a missing one.
    pub async fn team_by_id<L: Level>(
        &self,
        actor: Option<&Actor>,
        id: i64,
    ) -> Result<(OrgGrant<L>, Team)> {
        let org_name = match self.db.team_by_id(id).await? {
            Some((_, org)) => org,
            None => return Err(Error::NotFound),
        };
        let org_name = Username::parse(&org_name)?;
        let grant = match self.authorize_org::<Read>(actor, &org_name).await {
            Ok(g) => g,
            Err(_) => return Err(Error::NotFound),
        };
        let team = self
            .teams(&grant)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(Error::NotFound)?;
        let grant = self.authorize_org::<L>(actor, &org_name).await?;
        Ok((grant, team))
    }

    /// A team's name as the domain's team functions take it.
    pub fn team_name(team: &Team) -> Result<TeamName> {
        Ok(TeamName::parse(&team.name)?)
    }

    /// `user`'s standing in the organization (Gitea's `GetUserOrgsPermissions`): the caller
    /// holds a read grant; the answer is computed from the user's role and teams.
    pub async fn org_standing(
        &self,
        grant: &OrgGrant<Read>,
        user: &Username,
    ) -> Result<OrgStanding> {
        let member = self.user(user).await?;
        let org = grant.org();
        let role = self.db.org_role(org.id, member.id).await?;
        let site_admin = member.role == SiteRole::Admin;
        let is_owner = role == Some(OrgRole::Owner);
        let team_level = self
            .teams(grant)
            .await?
            .into_iter()
            .filter(|t| {
                t.members
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&member.name))
            })
            .map(|t| t.access)
            .max()
            .unwrap_or(RepoAccess::None);
        let level = if is_owner || site_admin {
            RepoAccess::Admin
        } else {
            team_level
        };
        let can_read =
            role.is_some() || site_admin || org.visibility != crate::model::OrgVisibility::Private;
        Ok(OrgStanding {
            is_owner,
            is_admin: level >= RepoAccess::Admin,
            can_write: level >= RepoAccess::Write,
            can_read,
            can_create_repository: is_owner
                || site_admin
                || self.db.may_create_in_org(org.id, member.id).await?,
        })
    }
}
