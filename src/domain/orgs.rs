//! Organizations and teams: creating them, their members, their teams, and who may create
//! repositories under which owner. Access to their repositories is decided in `authorize`
//! (the one rule); this module only changes what that rule reads.

use super::authorize::{OrgGrant, org_from_row};
use super::{Admin, Error, Forge, Read, Result};
use crate::model::{
    Actor, Org, OrgMember, OrgRole, OrgVisibility, RepoAccess, RepoName, SiteRole, Team, TeamName,
    Username, names::is_reserved_owner,
};
use crate::storage::{NewTeam, TeamRow};

/// Descriptions are shown on pages; a megabyte one is an attack, not a description.
const MAX_DESCRIPTION: usize = 1000;

/// A team's settings, as created or changed.
#[derive(Debug, Clone)]
pub struct TeamSettings {
    pub access: RepoAccess,
    /// Every repository of the organization; otherwise the chosen list.
    pub all_repos: bool,
    /// Members may create repositories under the organization.
    pub can_create: bool,
}

impl TeamSettings {
    /// A team grants something: read, write or admin.
    fn check(&self) -> Result<()> {
        if self.access == RepoAccess::None {
            return Err(Error::InvalidInput(
                "a team's access is read, write or admin".into(),
            ));
        }
        Ok(())
    }
}

fn check_description(text: &str) -> Result<&str> {
    let text = text.trim();
    if text.len() > MAX_DESCRIPTION || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::InvalidInput(
            "the description must be printable and at most 1000 bytes".into(),
        ));
    }
    Ok(text)
}

fn is_site_admin(actor: &Actor) -> bool {
    actor.user.role == SiteRole::Admin
}

impl Forge {
    /// Whether `name` is one the operator's `[[deploy]]` or `[[check]]` entries name as an
    /// owner (literally, or by a glob narrower than `*`): such a name may be taken only by a
    /// site admin, so nobody gets the operator's deploy scripts (and their secrets) run on
    /// their pushes by creating `lab`.
    pub fn owner_named_by_config(&self, name: &str) -> bool {
        let deploys = self.deploy_state().configs();
        if deploys
            .iter()
            .any(|d| d.repo.owner.as_str().eq_ignore_ascii_case(name))
        {
            return true;
        }
        let checks = self.check_state().configs();
        checks.iter().any(|c| {
            let owner = c.repo.as_str().split('/').next().unwrap_or("");
            if owner == "*" || owner == "**" {
                return false;
            }
            glob::Pattern::new(owner).is_ok_and(|p| {
                p.matches_with(
                    name,
                    glob::MatchOptions {
                        case_sensitive: false,
                        require_literal_separator: true,
                        require_literal_leading_dot: false,
                    },
                )
            })
        })
    }

    /// Creates an organization with `actor` as its first owner. Site admins may; other users
    /// only when `users_may_create_orgs` is on, and never under a reserved word or an owner
    /// name the operator's configuration refers to.
    pub async fn create_org(
        &self,
        actor: &Actor,
        name: &Username,
        description: &str,
        visibility: OrgVisibility,
    ) -> Result<Org> {
        let admin = is_site_admin(actor);
        if !admin && !self.users_may_create_orgs {
            return Err(Error::Forbidden(
                "only site administrators may create organizations here".into(),
            ));
        }
        if actor.scope.is_some_and(|s| s.cap() < RepoAccess::Admin) {
            return Err(Error::Forbidden(
                "a read token cannot create anything".into(),
            ));
        }
        if !admin && self.owner_named_by_config(name.as_str()) {
            return Err(Error::Forbidden(format!(
                "the server's configuration names '{name}'; only a site administrator may create it"
            )));
        }
        self.insert_org(name, description, visibility, Some(actor.user.id))
            .await
    }

    /// `labforge admin org create`: no first owner (add one with `org member add --owner`).
    pub async fn create_org_as_operator(
        &self,
        _key: &super::SystemKey,
        name: &Username,
        description: &str,
        visibility: OrgVisibility,
    ) -> Result<Org> {
        self.insert_org(name, description, visibility, None).await
    }

    async fn insert_org(
        &self,
        name: &Username,
        description: &str,
        visibility: OrgVisibility,
        owner: Option<i64>,
    ) -> Result<Org> {
        if is_reserved_owner(name.as_str()) {
            return Err(Error::InvalidInput(format!(
                "'{name}' is a word the site's own addresses use; choose another name"
            )));
        }
        let description = check_description(description)?;
        let row = self
            .db
            .insert_org(name.as_str(), description, visibility, owner)
            .await?;
        tracing::info!(org = %row.name, %visibility, "organization created");
        Ok(org_from_row(row))
    }

    /// Every organization (the operator's listing).
    pub async fn list_orgs(&self, _key: &super::SystemKey) -> Result<Vec<Org>> {
        Ok(self
            .db
            .list_orgs()
            .await?
            .into_iter()
            .map(org_from_row)
            .collect())
    }

    /// The organizations `actor` belongs to, and their role in each.
    pub async fn orgs_of(&self, actor: &Actor) -> Result<Vec<(Org, OrgRole)>> {
        Ok(self
            .db
            .orgs_of_user(actor.user.id)
            .await?
            .into_iter()
            .map(|(row, owner)| {
                let role = if owner {
                    OrgRole::Owner
                } else {
                    OrgRole::Member
                };
                (org_from_row(row), role)
            })
            .collect())
    }

    /// The organization's repositories `actor` may read, with their level (the one rule
    /// decides each, as for every listing).
    pub async fn org_repos(
        &self,
        grant: &OrgGrant<Read>,
        actor: Option<&Actor>,
    ) -> Result<Vec<(crate::model::Repo, RepoAccess)>> {
        let name = &grant.org().name;
        let repos = match actor {
            Some(a) => self.visible_repos(a).await?,
            None => self
                .listed_repos(None, Some(name))
                .await?
                .into_iter()
                .map(|r| (r, RepoAccess::Read))
                .collect(),
        };
        let mut repos: Vec<_> = repos
            .into_iter()
            .filter(|(r, _)| r.owner.eq_ignore_ascii_case(name))
            .collect();
        repos.sort_by_key(|(r, _)| r.name.to_lowercase());
        Ok(repos)
    }

    /// Whether the name belongs to an organization (the owner page shows one or a user).
    pub async fn is_org(&self, name: &Username) -> Result<bool> {
        Ok(self.db.org_by_name(name.as_str()).await?.is_some())
    }

    pub async fn update_org(
        &self,
        grant: &OrgGrant<Admin>,
        description: &str,
        visibility: OrgVisibility,
    ) -> Result<()> {
        let description = check_description(description)?;
        self.db
            .update_org(grant.org().id, description, visibility)
            .await?;
        Ok(())
    }

    /// Deletes the organization with its members and teams, refused (naming them) while it
    /// owns a repository.
    pub async fn delete_org(&self, grant: &OrgGrant<Admin>) -> Result<()> {
        let org = grant.org();
        if self.db.delete_org_owning_nothing(org.id).await? {
            tracing::info!(org = %org.name, "organization deleted");
            return Ok(());
        }
        let owned = self.db.repos_owned_by(org.id).await?;
        Err(Error::Conflict(format!(
            "{} still owns {}; delete or move them first",
            org.name,
            owned.join(", ")
        )))
    }

    pub async fn org_members(&self, grant: &OrgGrant<Read>) -> Result<Vec<OrgMember>> {
        Ok(self.db.org_members(grant.org().id).await?)
    }

    /// A user's id by name, refusing organizations (which cannot be members of anything).
    async fn member_id(&self, user: &Username) -> Result<i64> {
        Ok(self.user(user).await?.id)
    }

    /// Adds `user` to the organization, or changes whether they own it.
    pub async fn set_org_member(
        &self,
        grant: &OrgGrant<Admin>,
        user: &Username,
        is_owner: bool,
    ) -> Result<()> {
        let id = self.member_id(user).await?;
        if !self.db.set_org_member(grant.org().id, id, is_owner).await? {
            return Err(Error::Conflict(format!(
                "{user} is the last owner of {}; make someone else an owner first",
                grant.org().name
            )));
        }
        Ok(())
    }

    /// Removes `user` from the organization and all its teams: their access through it ends
    /// with this statement (every request decides afresh).
    pub async fn remove_org_member(&self, grant: &OrgGrant<Admin>, user: &Username) -> Result<()> {
        let id = self.member_id(user).await?;
        let org = &grant.org().name;
        match self.db.remove_org_member(grant.org().id, id).await? {
            Some(true) => Ok(()),
            Some(false) => Err(Error::Conflict(format!(
                "{user} is the last owner of {org}; make someone else an owner first"
            ))),
            None => Err(Error::InvalidInput(format!(
                "{user} is not a member of {org}"
            ))),
        }
    }

    /// The organization's teams with their members and chosen repositories.
    pub async fn teams(&self, grant: &OrgGrant<Read>) -> Result<Vec<Team>> {
        let org = grant.org();
        let rows = self.db.teams_of_org(org.id).await?;
        let members = self.db.team_member_names(org.id).await?;
        let repos = self.db.team_repo_names(org.id).await?;
        Ok(rows
            .into_iter()
            .map(|t| Team {
                id: t.id,
                org: org.name.clone(),
                members: members
                    .iter()
                    .filter(|(id, _)| *id == t.id)
                    .map(|(_, n)| n.clone())
                    .collect(),
                repos: repos
                    .iter()
                    .filter(|(id, _)| *id == t.id)
                    .map(|(_, n)| n.clone())
                    .collect(),
                name: t.name,
                access: t.access,
                all_repos: t.all_repos,
                can_create: t.can_create,
            })
            .collect())
    }

    pub async fn team(&self, grant: &OrgGrant<Read>, name: &TeamName) -> Result<Team> {
        self.teams(grant)
            .await?
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(name.as_str()))
            .ok_or(Error::NotFound)
    }

    async fn team_row(&self, grant: &OrgGrant<Admin>, name: &TeamName) -> Result<TeamRow> {
        self.db
            .team_by_name(grant.org().id, name.as_str())
            .await?
            .ok_or_else(|| {
                Error::InvalidInput(format!("{} has no team '{name}'", grant.org().name))
            })
    }

    /// A repository of the organization by name, for a team's list.
    async fn org_repo_id(&self, grant: &OrgGrant<Admin>, repo: &RepoName) -> Result<i64> {
        let org = &grant.org().name;
        match self.db.repo_by_path(org, repo.as_str()).await? {
            Some(r) => Ok(r.id),
            None => Err(Error::InvalidInput(format!(
                "{org} has no repository '{repo}'"
            ))),
        }
    }

    pub async fn create_team(
        &self,
        grant: &OrgGrant<Admin>,
        name: &TeamName,
        settings: &TeamSettings,
        repos: &[RepoName],
    ) -> Result<()> {
        settings.check()?;
        let mut ids = Vec::with_capacity(repos.len());
        for repo in repos {
            ids.push(self.org_repo_id(grant, repo).await?);
        }
        let team = self
            .db
            .insert_team(NewTeam {
                org_id: grant.org().id,
                name: name.as_str(),
                access: settings.access,
                all_repos: settings.all_repos,
                can_create: settings.can_create,
            })
            .await?;
        for id in ids {
            self.db.add_team_repo(&team, id).await?;
        }
        Ok(())
    }

    pub async fn update_team(
        &self,
        grant: &OrgGrant<Admin>,
        name: &TeamName,
        settings: &TeamSettings,
    ) -> Result<()> {
        settings.check()?;
        let team = self.team_row(grant, name).await?;
        self.db
            .update_team(
                team.id,
                settings.access,
                settings.all_repos,
                settings.can_create,
            )
            .await?;
        Ok(())
    }

    pub async fn delete_team(&self, grant: &OrgGrant<Admin>, name: &TeamName) -> Result<()> {
        let team = self.team_row(grant, name).await?;
        self.db.delete_team(team.id).await?;
        Ok(())
    }

    /// Adds `user` to the team (and so to the organization).
    pub async fn add_team_member(
        &self,
        grant: &OrgGrant<Admin>,
        name: &TeamName,
        user: &Username,
    ) -> Result<()> {
        let team = self.team_row(grant, name).await?;
        let id = self.member_id(user).await?;
        self.db.add_team_member(&team, id).await?;
        Ok(())
    }

    pub async fn remove_team_member(
        &self,
        grant: &OrgGrant<Admin>,
        name: &TeamName,
        user: &Username,
    ) -> Result<()> {
        let team = self.team_row(grant, name).await?;
        let id = self.member_id(user).await?;
        if !self.db.remove_team_member(team.id, id).await? {
            return Err(Error::InvalidInput(format!("{user} is not in {name}")));
        }
        Ok(())
    }

    pub async fn add_team_repo(
        &self,
        grant: &OrgGrant<Admin>,
        name: &TeamName,
        repo: &RepoName,
    ) -> Result<()> {
        let team = self.team_row(grant, name).await?;
        let id = self.org_repo_id(grant, repo).await?;
        self.db.add_team_repo(&team, id).await?;
        Ok(())
    }

    pub async fn remove_team_repo(
        &self,
        grant: &OrgGrant<Admin>,
        name: &TeamName,
        repo: &RepoName,
    ) -> Result<()> {
        let team = self.team_row(grant, name).await?;
        let id = self.org_repo_id(grant, repo).await?;
        if !self.db.remove_team_repo(team.id, id).await? {
            return Err(Error::InvalidInput(format!(
                "{repo} is not in {name}'s list"
            )));
        }
        Ok(())
    }

    /// Whether `actor` may create repositories under `owner`: their own name; an organization
    /// they own or whose team lets its members create; any owner for a site admin. A read
    /// token may create nothing.
    pub async fn may_create_under(&self, actor: &Actor, owner: &Username) -> Result<bool> {
        if actor.scope.is_some_and(|s| s.cap() < RepoAccess::Write) {
            return Ok(false);
        }
        if actor.user.name.eq_ignore_ascii_case(owner.as_str()) {
            return Ok(true);
        }
        let Some(org) = self.db.org_by_name(owner.as_str()).await? else {
            return Ok(false);
        };
        Ok(is_site_admin(actor) || self.db.may_create_in_org(org.id, actor.user.id).await?)
    }

    /// The owners `actor` may create repositories under, their own name first (`/new`).
    pub async fn creatable_owners(&self, actor: &Actor) -> Result<Vec<String>> {
        let mut owners = vec![actor.user.name.clone()];
        let orgs = if is_site_admin(actor) {
            self.db.list_orgs().await?
        } else {
            let mut mine = Vec::new();
            for (org, owner) in self.db.orgs_of_user(actor.user.id).await? {
                if owner || self.db.may_create_in_org(org.id, actor.user.id).await? {
                    mine.push(org);
                }
            }
            mine
        };
        owners.extend(orgs.into_iter().map(|o| o.name));
        Ok(owners)
    }

    /// Creates a repository under `owner` for `actor`, who must be allowed to
    /// (`may_create_under`); a refusal names no repository and no organization's secrets.
    pub async fn create_repo_as(
        &self,
        actor: &Actor,
        owner: &Username,
        name: &RepoName,
        is_private: bool,
        description: &str,
    ) -> Result<crate::model::Repo> {
        if !self.may_create_under(actor, owner).await? {
            return Err(Error::Forbidden(format!(
                "you may not create repositories under {owner}"
            )));
        }
        let repo = self
            .create_repo(owner, name, is_private, description)
            .await?;
        self.after_create_in_org(actor, &repo).await?;
        Ok(repo)
    }

    /// A repository a team member created under their organization joins the lists of their
    /// teams that may create, so they reach what they made.
    pub(super) async fn after_create_in_org(
        &self,
        actor: &Actor,
        repo: &crate::model::Repo,
    ) -> Result<()> {
        if repo.owner_id != actor.user.id {
            self.db
                .add_repo_to_creating_teams(repo.owner_id, actor.user.id, repo.id)
                .await?;
        }
        Ok(())
    }
}
