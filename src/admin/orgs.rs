//! `labforge admin org|team …`: organizations, their members and teams, for the operator.

use anyhow::bail;
use clap::Subcommand;

use crate::domain::orgs::TeamSettings;
use crate::domain::{Admin, Forge, OrgGrant, Read, SystemKey};
use crate::model::{OrgVisibility, RepoAccess, RepoName, RepoPath, TeamPath, Username};

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization (no members yet: add an owner with `org member add ORG USER --owner`).
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// public (anyone), limited (signed-in users) or private (members only).
        #[arg(long, default_value = "public", value_parser = ["public", "limited", "private"])]
        visibility: String,
    },
    /// List organizations: name, visibility, description.
    List,
    /// Delete an organization that owns no repositories (refused otherwise, naming them).
    Delete { name: String },
    /// An organization's members.
    #[command(subcommand)]
    Member(MemberCommand),
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add USER to ORG (or change whether they own it).
    Add {
        org: String,
        user: String,
        /// Owners manage the organization, its repositories and teams.
        #[arg(long)]
        owner: bool,
    },
    /// List ORG's members: user, role (owner or member).
    List { org: String },
    /// Remove USER from ORG and all its teams; their access through it ends at once.
    Remove { org: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create the team ORG/TEAM with a level on all of ORG's repositories or on those named.
    Create {
        /// ORG/TEAM
        team: String,
        #[arg(long, value_parser = ["read", "write", "admin"])]
        access: String,
        /// A repository of ORG (ORG/REPO or REPO) the team covers (repeat for several).
        #[arg(long = "repo", value_name = "REPO", conflicts_with = "all")]
        repos: Vec<String>,
        /// Every repository of ORG, present and future.
        #[arg(long)]
        all: bool,
        /// Members may create repositories under ORG.
        #[arg(long)]
        can_create: bool,
    },
    /// List ORG's teams: name, access, repositories (all or the list), may create, members.
    List { org: String },
    /// Delete the team ORG/TEAM (its members stay in the organization).
    Delete { team: String },
    /// A team's members.
    #[command(subcommand)]
    Member(TeamMemberCommand),
    /// A team's chosen repositories.
    #[command(subcommand)]
    Repo(TeamRepoCommand),
}

#[derive(Debug, Subcommand)]
pub enum TeamMemberCommand {
    /// Add USER to ORG/TEAM (and so to ORG).
    Add { team: String, user: String },
    /// List ORG/TEAM's members.
    List { team: String },
    /// Remove USER from ORG/TEAM.
    Remove { team: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum TeamRepoCommand {
    /// Add a repository of ORG to ORG/TEAM's list.
    Add { team: String, repo: String },
    /// Remove a repository from ORG/TEAM's list.
    Remove { team: String, repo: String },
}

/// A repository of `org` named as `ORG/REPO` or `REPO`.
fn org_repo(org: &Username, text: &str) -> anyhow::Result<RepoName> {
    if !text.contains('/') {
        return Ok(RepoName::parse(text)?);
    }
    let path = RepoPath::parse(text)?;
    if !path.owner.as_str().eq_ignore_ascii_case(org.as_str()) {
        bail!("{text} is not a repository of {org}");
    }
    Ok(path.name)
}

async fn grant(forge: &Forge, key: &SystemKey, org: &Username) -> anyhow::Result<OrgGrant<Admin>> {
    Ok(forge.grant_org_for_operator(key, org).await?)
}

pub(super) async fn org(forge: &Forge, key: &SystemKey, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create {
            name,
            description,
            visibility,
        } => {
            let name = Username::parse_new(&name)?;
            let visibility: OrgVisibility = visibility.parse()?;
            let org = forge
                .create_org_as_operator(key, &name, &description, visibility)
                .await?;
            eprintln!("created organization {} ({})", org.name, org.visibility);
        }
        OrgCommand::List => {
            for o in forge.list_orgs(key).await? {
                println!("{}\t{}\t{}", o.name, o.visibility, o.description);
            }
        }
        OrgCommand::Delete { name } => {
            let grant = grant(forge, key, &Username::parse(&name)?).await?;
            forge.delete_org(&grant).await?;
            eprintln!("deleted organization {}", grant.org().name);
        }
        OrgCommand::Member(MemberCommand::Add { org, user, owner }) => {
            let grant = grant(forge, key, &Username::parse(&org)?).await?;
            let user = Username::parse(&user)?;
            forge.set_org_member(&grant, &user, owner).await?;
            let role = if owner { "an owner" } else { "a member" };
            eprintln!("{user} is {role} of {}", grant.org().name);
        }
        OrgCommand::Member(MemberCommand::List { org }) => {
            let grant: OrgGrant<Read> = forge
                .grant_org_for_operator(key, &Username::parse(&org)?)
                .await?;
            for m in forge.org_members(&grant).await? {
                let role = if m.is_owner { "owner" } else { "member" };
                println!("{}\t{role}", m.name);
            }
        }
        OrgCommand::Member(MemberCommand::Remove { org, user }) => {
            let grant = grant(forge, key, &Username::parse(&org)?).await?;
            let user = Username::parse(&user)?;
            forge.remove_org_member(&grant, &user).await?;
            eprintln!("removed {user} from {} and its teams", grant.org().name);
        }
    }
    Ok(())
}

pub(super) async fn team(
    forge: &Forge,
    key: &SystemKey,
    command: TeamCommand,
) -> anyhow::Result<()> {
    match command {
        TeamCommand::Create {
            team,
            access,
            repos,
            all,
            can_create,
        } => {
            let path = TeamPath::parse(&team)?;
            let grant = grant(forge, key, &path.org).await?;
            let repos = repos
                .iter()
                .map(|r| org_repo(&path.org, r))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let access: RepoAccess = access.parse().map_err(anyhow::Error::msg)?;
            let settings = TeamSettings {
                access,
                all_repos: all,
                can_create,
            };
            forge
                .create_team(&grant, &path.team, &settings, &repos)
                .await?;
            let scope = if all {
                "every repository".to_owned()
            } else if repos.is_empty() {
                "no repositories yet (add some with `team repo add`)".to_owned()
            } else {
                let names: Vec<&str> = repos.iter().map(|r| r.as_str()).collect();
                names.join(", ")
            };
            eprintln!("created team {path} with {access} access to {scope}");
        }
        TeamCommand::List { org } => {
            let grant: OrgGrant<Read> = forge
                .grant_org_for_operator(key, &Username::parse(&org)?)
                .await?;
            for t in forge.teams(&grant).await? {
                let repos = if t.all_repos {
                    "*".to_owned()
                } else {
                    t.repos.join(",")
                };
                let create = if t.can_create { "create" } else { "-" };
                println!(
                    "{}\t{}\t{repos}\t{create}\t{}",
                    t.name,
                    t.access,
                    t.members.join(",")
                );
            }
        }
        TeamCommand::Delete { team } => {
            let path = TeamPath::parse(&team)?;
            let grant = grant(forge, key, &path.org).await?;
            forge.delete_team(&grant, &path.team).await?;
            eprintln!("deleted team {path}");
        }
        TeamCommand::Member(TeamMemberCommand::Add { team, user }) => {
            let path = TeamPath::parse(&team)?;
            let grant = grant(forge, key, &path.org).await?;
            let user = Username::parse(&user)?;
            forge.add_team_member(&grant, &path.team, &user).await?;
            eprintln!("{user} is in {path}");
        }
        TeamCommand::Member(TeamMemberCommand::List { team }) => {
            let path = TeamPath::parse(&team)?;
            let grant: OrgGrant<Read> = forge.grant_org_for_operator(key, &path.org).await?;
            for m in forge.team(&grant, &path.team).await?.members {
                println!("{m}");
            }
        }
        TeamCommand::Member(TeamMemberCommand::Remove { team, user }) => {
            let path = TeamPath::parse(&team)?;
            let grant = grant(forge, key, &path.org).await?;
            let user = Username::parse(&user)?;
            forge.remove_team_member(&grant, &path.team, &user).await?;
            eprintln!("removed {user} from {path}");
        }
        TeamCommand::Repo(TeamRepoCommand::Add { team, repo }) => {
            let path = TeamPath::parse(&team)?;
            let grant = grant(forge, key, &path.org).await?;
            let repo = org_repo(&path.org, &repo)?;
            forge.add_team_repo(&grant, &path.team, &repo).await?;
            eprintln!("{path} now covers {}/{repo}", grant.org().name);
        }
        TeamCommand::Repo(TeamRepoCommand::Remove { team, repo }) => {
            let path = TeamPath::parse(&team)?;
            let grant = grant(forge, key, &path.org).await?;
            let repo = org_repo(&path.org, &repo)?;
            forge.remove_team_repo(&grant, &path.team, &repo).await?;
            eprintln!("{path} no longer covers {}/{repo}", grant.org().name);
        }
    }
    Ok(())
}
