//! Gitea's Organization, Team and OrganizationPermissions objects (`modules/structs/org.go`,
//! `org_team.go`; filled as `services/convert/convert.go`'s `ToOrganization` and `ToTeam`).
//! labforge's organizations keep no e-mail, full name, website or location: those are empty,
//! as in a Gitea organization that never set them.

use serde::Serialize;

use crate::domain::org_api::OrgStanding;
use crate::model::{Org, RepoAccess, Team};

#[derive(Serialize, Debug, Clone)]
pub struct ApiOrganization {
    pub id: i64,
    pub name: String,
    pub full_name: String,
    pub email: String,
    pub avatar_url: String,
    pub description: String,
    pub website: String,
    pub location: String,
    pub visibility: &'static str,
    pub repo_admin_change_team_access: bool,
    /// Gitea keeps it, a copy of `name`, for older clients.
    pub username: String,
}

pub fn organization_json(org: &Org) -> ApiOrganization {
    ApiOrganization {
        id: org.id,
        name: org.name.clone(),
        full_name: String::new(),
        email: String::new(),
        avatar_url: String::new(),
        description: org.description.clone(),
        website: String::new(),
        location: String::new(),
        visibility: org.visibility.as_str(),
        repo_admin_change_team_access: false,
        username: org.name.clone(),
    }
}

/// The units labforge's repositories have: code and issues.
const UNITS: [&str; 2] = ["repo.code", "repo.issues"];

#[derive(Serialize, Debug, Clone)]
pub struct ApiTeam {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub organization: ApiOrganization,
    pub includes_all_repositories: bool,
    pub permission: &'static str,
    pub units: Vec<&'static str>,
    pub units_map: std::collections::BTreeMap<&'static str, &'static str>,
    pub can_create_org_repo: bool,
}

fn permission(access: RepoAccess) -> &'static str {
    match access {
        RepoAccess::None => "none",
        RepoAccess::Read => "read",
        RepoAccess::Write => "write",
        RepoAccess::Admin => "admin",
    }
}

pub fn team_json(org: &Org, team: &Team) -> ApiTeam {
    let level = permission(team.access);
    ApiTeam {
        id: team.id,
        name: team.name.clone(),
        description: String::new(),
        organization: organization_json(org),
        includes_all_repositories: team.all_repos,
        permission: level,
        units: UNITS.to_vec(),
        units_map: UNITS.iter().map(|u| (*u, level)).collect(),
        can_create_org_repo: team.can_create,
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct ApiOrganizationPermissions {
    pub can_create_repository: bool,
    pub can_read: bool,
    pub can_write: bool,
    pub is_admin: bool,
    pub is_owner: bool,
}

pub fn permissions_json(s: &OrgStanding) -> ApiOrganizationPermissions {
    ApiOrganizationPermissions {
        can_create_repository: s.can_create_repository,
        can_read: s.can_read,
        can_write: s.can_write,
        is_admin: s.is_admin,
        is_owner: s.is_owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_permission_names_are_giteas() {
        assert_eq!(permission(RepoAccess::Read), "read");
        assert_eq!(permission(RepoAccess::Admin), "admin");
        let org = Org {
            id: 1,
            name: "lab".into(),
            description: String::new(),
            visibility: crate::model::OrgVisibility::Public,
        };
        let team = Team {
            id: 2,
            org: "lab".into(),
            name: "ops".into(),
            access: RepoAccess::Write,
            all_repos: true,
            can_create: false,
            members: vec![],
            repos: vec![],
        };
        let json = team_json(&org, &team);
        assert_eq!(json.units_map["repo.code"], "write");
        assert_eq!(json.organization.username, "lab");
    }
}
