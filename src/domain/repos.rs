use super::authorize::{AccessFacts, effective_access, repo_from_row};
use super::{Error, Forge, Result, blocking};
use crate::git::RepoDir;
use crate::model::{Actor, Repo, RepoAccess, RepoName, Username};
use crate::storage::NewRepo;

const DEFAULT_BRANCH: &str = "main";

impl Forge {
    /// Creates the row and the bare repository together: the row's transaction commits only
    /// after the folder is in place, so a failure (or crash) never leaves a row without a folder.
    pub async fn create_repo(
        &self,
        owner: &Username,
        name: &RepoName,
        is_private: bool,
        description: &str,
    ) -> Result<Repo> {
        let owner_id = self
            .db
            .owner_id_by_name(owner.as_str())
            .await?
            .ok_or_else(|| {
                Error::InvalidInput(format!("there is no user or organization '{owner}'"))
            })?;
        if description.len() > 1000 || description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::InvalidInput(
                "the description must be printable and at most 1000 bytes".into(),
            ));
        }
        let pending = self
            .db
            .begin_insert_repo(NewRepo {
                owner_id,
                name: name.as_str(),
                description,
                is_private,
                default_branch: DEFAULT_BRANCH,
            })
            .await?;
        let dir = self
            .repos
            .dir_for_stored(&pending.row.owner, &pending.row.name)?;
        let store = self.repos.clone();
        blocking(move || store.create(&dir, DEFAULT_BRANCH)).await??;
        let row = pending.commit().await?;
        tracing::info!(repo = %format!("{}/{}", row.owner, row.name), is_private, "repository created");
        Ok(repo_from_row(row))
    }

    pub async fn list_repos(&self) -> Result<Vec<Repo>> {
        Ok(self
            .db
            .list_repos()
            .await?
            .into_iter()
            .map(repo_from_row)
            .collect())
    }

    /// Repositories `actor` can read, each with the access they have, most recently pushed first.
    pub async fn visible_repos(&self, actor: &Actor) -> Result<Vec<(Repo, RepoAccess)>> {
        let is_admin = actor.user.role == crate::model::SiteRole::Admin;
        let rows = self.db.repos_visible_to(actor.user.id, is_admin).await?;
        let principal = super::Principal::User(actor.clone());
        Ok(rows
            .into_iter()
            .map(|(row, access)| {
                let repo = repo_from_row(row);
                let facts = AccessFacts {
                    collaborator: access.collaborator,
                    org: access.org,
                };
                let level = effective_access(&principal, &repo, &facts);
                (repo, level)
            })
            .filter(|(_, level)| *level >= RepoAccess::Read)
            .collect())
    }

    pub fn repo_dir(&self, repo: &Repo) -> Result<RepoDir> {
        Ok(self.repos.dir_for_stored(&repo.owner, &repo.name)?)
    }

    /// `admin repo purge`: deletes every object no ref reaches now, not after upkeep's grace
    /// period (a secret was pushed and its branch deleted), and forgets the repository's
    /// handles so no page reads through one that still has the old packs open.
    pub async fn purge_repo<L: super::AtLeast<super::Admin>>(
        &self,
        grant: &super::Grant<L>,
    ) -> Result<()> {
        let dir = self.repo_dir(grant.repo())?;
        self.upkeep.purge(&dir).await?;
        self.reads.forget(&dir);
        Ok(())
    }

    /// Bookkeeping after a push that git accepted: when it happened, and upkeep later.
    pub async fn after_push(&self, repo: &Repo) -> Result<()> {
        self.db.mark_pushed(repo.id).await?;
        self.upkeep.schedule(self.repo_dir(repo)?);
        self.warm_pages(repo);
        Ok(())
    }

    /// Precomputes the summary's last-commit column for the default branch in the background,
    /// so the first visit after a push (or a restart) does not wait for the history pass.
    pub fn warm_pages(&self, repo: &Repo) -> Option<tokio::task::JoinHandle<()>> {
        let dir = self.repo_dir(repo).ok()?;
        let reads = std::sync::Arc::clone(&self.reads);
        let branch = repo.default_branch.clone();
        Some(tokio::task::spawn_blocking(move || {
            if let Err(e) = reads.open(&dir).and_then(|r| r.warm(&branch)) {
                tracing::debug!(error = %e, "warming the tree cache failed");
            }
        }))
    }
}
