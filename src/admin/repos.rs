//! `labforge admin repo|collaborator …`: repositories and who may use them.

use anyhow::bail;

use super::{CollaboratorCommand, RepoCommand};
use crate::domain::Forge;
use crate::model::{RepoAccess, RepoName, RepoPath, Username};

pub(super) async fn repo(forge: &Forge, command: RepoCommand) -> anyhow::Result<()> {
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
            let repo = find_repo(forge, &path).await?;
            if !yes {
                bail!(
                    "this deletes {}; run again with --yes to do it (its folder goes to the trash)",
                    repo.full_name()
                );
            }
            forge.delete_repo(&repo).await?;
            eprintln!(
                "deleted {}; its folder is in DATA_DIR/repos/.trash",
                repo.full_name()
            );
        }
        RepoCommand::Rename { path, new_name } => {
            let repo = find_repo(forge, &path).await?;
            let new_name = RepoName::parse(&new_name)?;
            let renamed = forge.rename_repo(&repo, &new_name).await?;
            eprintln!("renamed {} to {}", repo.full_name(), renamed.full_name());
        }
        RepoCommand::Purge { path } => {
            let repo = find_repo(forge, &path).await?;
            forge.purge_repo(&repo).await?;
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
    command: CollaboratorCommand,
) -> anyhow::Result<()> {
    match command {
        CollaboratorCommand::Add { path, user, access } => {
            let path = RepoPath::parse(&path)?;
            let user = Username::parse(&user)?;
            let access: RepoAccess = access.parse().map_err(anyhow::Error::msg)?;
            forge.set_collaborator(&path, &user, access).await?;
            eprintln!("{user} now has {access} access to {path}");
        }
        CollaboratorCommand::List { path } => {
            let repo = find_repo(forge, &path).await?;
            for c in forge.collaborators(&repo).await? {
                println!("{}\t{}", c.name, c.access);
            }
        }
        CollaboratorCommand::Remove { path, user } => {
            let repo = find_repo(forge, &path).await?;
            let user = Username::parse(&user)?;
            forge
                .remove_collaborator(&repo, &user)
                .await
                .map_err(|e| match e {
                    crate::domain::Error::NotFound => {
                        anyhow::anyhow!("{user} is not a collaborator on {}", repo.full_name())
                    }
                    other => other.into(),
                })?;
            eprintln!("{user} no longer has access to {}", repo.full_name());
        }
    }
    Ok(())
}

/// The repository at `path`, or an error that names it.
async fn find_repo(forge: &Forge, path: &str) -> anyhow::Result<crate::model::Repo> {
    let path = RepoPath::parse(path)?;
    match forge.repo_by_path(&path).await {
        Err(crate::domain::Error::NotFound) => bail!("there is no repository {path}"),
        other => Ok(other?),
    }
}
