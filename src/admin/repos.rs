//! `labforge admin repo|collaborator …`: repositories and who may use them.

use anyhow::bail;

use super::{CollaboratorCommand, DeployKeyCommand, RepoCommand, read_stdin};
use crate::domain::{Admin, Forge, Grant, SystemKey};
use crate::model::{RepoAccess, RepoName, RepoPath, Username};

pub(super) async fn repo(
    forge: &Forge,
    key: &SystemKey,
    command: RepoCommand,
) -> anyhow::Result<()> {
    match command {
        RepoCommand::Create {
            path,
            public,
            private: _,
            description,
        } => {
            let path = RepoPath::parse(&path)?;
            let repo = forge
                .create_repo(&path.owner, &path.name, !public, &description)
                .await?;
            let visibility = if repo.is_private { "private" } else { "public" };
            eprintln!("created repository {} ({visibility})", repo.full_name());
        }
        RepoCommand::List => {
            for r in forge.list_repos().await? {
                let visibility = if r.is_private { "private" } else { "public" };
                println!("{}\t{visibility}\t{}", r.full_name(), r.description);
            }
        }
        RepoCommand::Delete { path, yes } => {
            let grant = find_repo(forge, key, &path).await?;
            let name = grant.repo().full_name();
            if !yes {
                bail!(
                    "this deletes {name}; run again with --yes to do it (its folder goes to the trash)"
                );
            }
            forge.delete_repo(grant).await?;
            eprintln!("deleted {name}; its folder is in DATA_DIR/repos/.trash");
        }
        RepoCommand::Rename { path, new_name } => {
            let grant = find_repo(forge, key, &path).await?;
            let old = grant.repo().full_name();
            let new_name = RepoName::parse(&new_name)?;
            let renamed = forge.rename_repo(grant, &new_name).await?;
            eprintln!("renamed {old} to {}", renamed.repo().full_name());
        }
        RepoCommand::Transfer { path, new_owner } => {
            let grant = find_repo(forge, key, &path).await?;
            let old = grant.repo().full_name();
            let new_owner = Username::parse(&new_owner)?;
            let moved = forge.transfer_repo(grant, &new_owner).await?;
            eprintln!("transferred {old} to {}", moved.repo().full_name());
        }
        RepoCommand::Purge { path } => {
            let grant = find_repo(forge, key, &path).await?;
            forge.purge_repo(&grant).await?;
            let repo = grant.repo();
            eprintln!(
                "purged {}: objects no ref reaches are deleted",
                repo.full_name()
            );
        }
    }
    Ok(())
}

pub(super) async fn collaborator(
    forge: &Forge,
    key: &SystemKey,
    command: CollaboratorCommand,
) -> anyhow::Result<()> {
    match command {
        CollaboratorCommand::Add { path, user, access } => {
            let grant = find_repo(forge, key, &path).await?;
            let user = Username::parse(&user)?;
            let access: RepoAccess = access.parse().map_err(anyhow::Error::msg)?;
            forge.add_collaborator(&grant, &user, access).await?;
            eprintln!(
                "{user} now has {access} access to {}",
                grant.repo().full_name()
            );
        }
        CollaboratorCommand::List { path } => {
            let grant = find_repo(forge, key, &path).await?;
            for c in forge.collaborators(&grant).await? {
                println!("{}\t{}", c.name, c.access);
            }
        }
        CollaboratorCommand::Remove { path, user } => {
            let grant = find_repo(forge, key, &path).await?;
            let name = grant.repo().full_name();
            let user = Username::parse(&user)?;
            forge
                .remove_collaborator(&grant, &user)
                .await
                .map_err(|e| match e {
                    crate::domain::Error::NotFound => {
                        anyhow::anyhow!("{user} is not a collaborator on {name}")
                    }
                    other => other.into(),
                })?;
            eprintln!("{user} no longer has access to {name}");
        }
    }
    Ok(())
}

pub(super) async fn deploy_key(
    forge: &Forge,
    key: &SystemKey,
    command: DeployKeyCommand,
) -> anyhow::Result<()> {
    match command {
        DeployKeyCommand::Add { path, title, write } => {
            let grant = find_repo(forge, key, &path).await?;
            let line = read_stdin()?;
            let added = forge.add_deploy_key(&grant, &title, &line, !write).await?;
            println!("{}\t{}", added.id, added.fingerprint);
            let access = if write { "read-write" } else { "read-only" };
            eprintln!(
                "deploy key {} ({access}) added to {}",
                added.title,
                grant.repo().full_name()
            );
        }
        DeployKeyCommand::List { path } => {
            let grant = find_repo(forge, key, &path).await?;
            for k in forge.deploy_keys(&grant).await? {
                let access = if k.read_only { "read" } else { "write" };
                let used = k
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), crate::domain::rfc3339);
                println!(
                    "{}\t{}\t{access}\t{}\t{}\t{used}",
                    k.id,
                    k.fingerprint,
                    k.title,
                    crate::domain::rfc3339(k.created_at),
                );
            }
        }
        DeployKeyCommand::Remove { path, key: which } => {
            let grant = find_repo(forge, key, &path).await?;
            let name = grant.repo().full_name();
            let found = forge
                .deploy_keys(&grant)
                .await?
                .into_iter()
                .find(|k| k.fingerprint == which || k.id.to_string() == which);
            let Some(found) = found else {
                bail!("{name} has no deploy key {which}");
            };
            forge.remove_deploy_key(&grant, found.id).await?;
            eprintln!(
                "removed deploy key {} ({}) from {name}",
                found.fingerprint, found.title
            );
        }
    }
    Ok(())
}

/// The operator's grant on the repository at `path`, or an error that names it.
pub(super) async fn find_repo(
    forge: &Forge,
    key: &SystemKey,
    path: &str,
) -> anyhow::Result<Grant<Admin>> {
    let path = RepoPath::parse(path)?;
    match forge.grant_for_operator(key, &path).await {
        Err(crate::domain::Error::NotFound) => bail!("there is no repository {path}"),
        other => Ok(other?),
    }
}
