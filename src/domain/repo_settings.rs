//! What a repository's admins may change: description, visibility, default branch,
//! collaborators, and deleting it. Each takes an admin grant, so the check cannot be skipped:
//!
//! ```compile_fail
//! # use labforge::domain::{Forge, Grant, Read};
//! # use labforge::model::{RepoAccess, Username};
//! // A reader cannot make someone a collaborator.
//! async fn add(forge: &Forge, grant: &Grant<Read>, user: &Username) {
//!     let _ = forge.add_collaborator(grant, user, RepoAccess::Read).await;
//! }
//! ```
//! The twin, differing only in the grant, compiles:
//! ```
//! # use labforge::domain::{Forge, Grant, Admin};
//! # use labforge::model::{RepoAccess, Username};
//! async fn add(forge: &Forge, grant: &Grant<Admin>, user: &Username) {
//!     let _ = forge.add_collaborator(grant, user, RepoAccess::Read).await;
//! }
//! ```

use super::{Admin, Error, Forge, Grant, Result, blocking};
use crate::model::{Repo, RepoAccess, RepoName, Username};

pub struct Collaborator {
    pub name: String,
    pub access: RepoAccess,
}

impl Forge {
    pub async fn update_repo(
        &self,
        grant: &Grant<Admin>,
        description: &str,
        is_private: bool,
        default_branch: &str,
    ) -> Result<()> {
        self.update_repo_row(grant.repo(), description, is_private, default_branch)
            .await
    }

    /// `update_repo` for the domain's own use (an import choosing its default branch).
    pub(in crate::domain) async fn update_repo_row(
        &self,
        repo: &Repo,
        description: &str,
        is_private: bool,
        default_branch: &str,
    ) -> Result<()> {
        if description.len() > 1000 || description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::InvalidInput(
                "the description must be printable and at most 1000 bytes".into(),
            ));
        }
        let branch = default_branch.trim();
        let valid_branch = !branch.is_empty()
            && branch.len() <= 200
            && !branch.starts_with(['-', '/'])
            && !branch.contains("..")
            && !branch.ends_with(['/', '.'])
            && branch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        if !valid_branch {
            return Err(Error::InvalidInput(format!(
                "'{branch}' is not a valid branch name"
            )));
        }
        if branch != repo.default_branch {
            let dir = self.repo_dir(repo)?;
            let store = self.repos.clone();
            let b = branch.to_owned();
            blocking(move || store.set_head(&dir, &b)).await??;
        }
        self.db
            .update_repo(repo.id, description.trim(), is_private, branch)
            .await?;
        Ok(())
    }

    pub async fn collaborators(&self, grant: &Grant<Admin>) -> Result<Vec<Collaborator>> {
        let rows = self.db.collaborators(grant.repo().id).await?;
        Ok(rows
            .into_iter()
            .map(|r| Collaborator {
                name: r.name,
                access: r.access,
            })
            .collect())
    }

    /// Adds a collaborator or changes their access; the owner already has it all.
    pub async fn add_collaborator(
        &self,
        grant: &Grant<Admin>,
        user: &Username,
        access: RepoAccess,
    ) -> Result<()> {
        let repo = grant.repo();
        let user = self.user(user).await?;
        if user.id == repo.owner_id {
            return Err(Error::InvalidInput(format!(
                "{} owns {} already",
                user.name,
                repo.full_name()
            )));
        }
        self.db.set_collaborator(repo.id, user.id, access).await?;
        Ok(())
    }

    pub async fn remove_collaborator(&self, grant: &Grant<Admin>, user: &Username) -> Result<()> {
        let user = self.user(user).await?;
        if self
            .db
            .remove_collaborator(grant.repo().id, user.id)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Deletes the row and moves the folder to the trash; the row goes only if the move worked.
    /// The grant is spent: nothing is left to act on.
    pub async fn delete_repo(&self, grant: Grant<Admin>) -> Result<()> {
        self.discard_repo(grant.repo()).await
    }

    /// `delete_repo` for the domain's own use (removing a failed import).
    pub(in crate::domain) async fn discard_repo(&self, repo: &Repo) -> Result<()> {
        let tx = self.db.begin_delete_repo(repo.id).await?;
        let dir = self.repo_dir(repo)?;
        let _upkeep = self.upkeep.hold(&dir).await;
        self.reads.forget(&dir);
        let store = self.repos.clone();
        blocking(move || store.discard(&dir)).await??;
        tx.commit().await.map_err(|e| Error::Internal(e.into()))?;
        tracing::info!(repo = %repo.full_name(), "repository deleted (folder moved to the trash)");
        Ok(())
    }
}

impl Forge {
    /// `labforge admin repo rename`: the row and the folder move together (the row's transaction
    /// commits only after the folder moved, and the folder moves back if the commit fails).
    /// Issues, deploy runs, webhooks and collaborators follow, since they hang on the id; the
    /// old path redirects (web 301, git with a warning) until it is taken again (`renames`),
    /// and a `[[deploy]]` naming the old path must be edited.
    /// The grant comes back with the renamed row.
    pub async fn rename_repo(
        &self,
        grant: Grant<Admin>,
        new_name: &RepoName,
    ) -> Result<Grant<Admin>> {
        let repo = grant.repo();
        if repo.name == new_name.as_str() {
            return Err(Error::InvalidInput(format!(
                "{} already has that name",
                repo.full_name()
            )));
        }
        let from = self.repo_dir(repo)?;
        let to = self.repos.dir_for_stored(&repo.owner, new_name.as_str())?;
        let tx = self
            .db
            .begin_rename_repo(repo.id, new_name.as_str())
            .await?;
        let _upkeep = self.upkeep.hold(&from).await;
        self.reads.forget(&from);
        let store = self.repos.clone();
        let (f, t) = (from.clone(), to.clone());
        blocking(move || store.move_dir(&f, &t)).await??;
        if let Err(e) = tx.commit().await {
            let store = self.repos.clone();
            let _ = blocking(move || store.move_dir(&to, &from)).await;
            return Err(Error::Internal(e.into()));
        }
        tracing::info!(from = %repo.full_name(), to = %new_name, "repository renamed");
        let path = crate::model::RepoPath {
            owner: Username::parse(&repo.owner)?,
            name: new_name.clone(),
        };
        let renamed = self.repo_by_path(&path).await?;
        Ok(grant.with_repo(renamed))
    }
}
