//! Transfers, owner renames and the redirects they leave (repository renames are in
//! `repo_settings`). A freed path keeps leading to the repository, by id, for whoever may read
//! it there, until the name is taken again (the database drops the redirect then); to anyone
//! else an old path answers exactly like a missing repository.

use super::{Admin, Error, Forge, Grant, Principal, Read, Result, SiteAdmin, SystemKey, blocking};
use crate::model::{OrgRole, RepoName, RepoPath, Username};

impl Forge {
    /// Where the repository once at `path` is now, when no repository is at `path` any more
    /// and `principal` may read the one it leads to; `None` otherwise, so a redirect never
    /// tells an outsider that a private repository exists.
    pub async fn moved_to(
        &self,
        principal: &Principal,
        path: &RepoPath,
    ) -> Result<Option<RepoPath>> {
        let Some(id) = self
            .db
            .repo_redirect(path.owner.as_str(), path.name.as_str())
            .await?
        else {
            return Ok(None);
        };
        let Some(row) = self.db.repo_by_id(id).await? else {
            return Ok(None);
        };
        let now = RepoPath {
            owner: Username::parse(&row.owner)?,
            name: RepoName::parse(&row.name)?,
        };
        if now.owner.as_str().eq_ignore_ascii_case(path.owner.as_str())
            && now.name.as_str().eq_ignore_ascii_case(path.name.as_str())
        {
            return Ok(None);
        }
        match self.authorize_as::<Read>(principal, &now).await {
            Ok(_) => Ok(Some(now)),
            Err(Error::NotFound | Error::Forbidden(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Where the repository once at `path` is now, as the operator sees it (no reader check):
    /// for the start-up warning about `[[deploy]]` and `[[check]]` entries naming an old path.
    pub async fn moved_for_operator(
        &self,
        key: &SystemKey,
        path: &RepoPath,
    ) -> Result<Option<RepoPath>> {
        if self.repo_exists(key, path).await? {
            return Ok(None);
        }
        let Some(id) = self
            .db
            .repo_redirect(path.owner.as_str(), path.name.as_str())
            .await?
        else {
            return Ok(None);
        };
        let Some(row) = self.db.repo_by_id(id).await? else {
            return Ok(None);
        };
        Ok(Some(RepoPath {
            owner: Username::parse(&row.owner)?,
            name: RepoName::parse(&row.name)?,
        }))
    }

    /// The current name of the user or organization once called `old`.
    pub async fn owner_moved_to(&self, old: &Username) -> Result<Option<String>> {
        Ok(self.db.owner_redirect(old.as_str()).await?)
    }

    /// Gives the repository to `new_owner`; its issues, pull requests, deploy history,
    /// webhooks, mirrors, statuses and collaborators follow (they hang on the id), the old
    /// organization's teams lose it, and the old path redirects. The operator and site admins
    /// may give it to any owner; others to themselves or to an organization they own.
    /// Giving it to another user would need that user's acceptance (as Gitea asks), which
    /// labforge does not have yet: such a transfer is refused and says so.
    pub async fn transfer_repo(
        &self,
        grant: Grant<Admin>,
        new_owner: &Username,
    ) -> Result<Grant<Admin>> {
        let repo = grant.repo().clone();
        if repo.owner.eq_ignore_ascii_case(new_owner.as_str()) {
            return Err(Error::InvalidInput(format!(
                "{} already belongs to {new_owner}",
                repo.full_name()
            )));
        }
        let Some(owner_id) = self.db.owner_id_by_name(new_owner.as_str()).await? else {
            return Err(Error::InvalidInput(format!(
                "no user or organization {new_owner}"
            )));
        };
        if !grant.is_site_admin() {
            let actor = grant
                .actor()
                .ok_or_else(|| Error::Forbidden("only a user may transfer a repository".into()))?;
            let allowed = if actor.user.id == owner_id {
                true
            } else if let Some(org) = self.db.org_by_name(new_owner.as_str()).await? {
                self.db.org_role(org.id, actor.user.id).await? == Some(OrgRole::Owner)
            } else {
                return Err(Error::Forbidden(format!(
                    "a transfer to another user needs their acceptance, which labforge does not \
                     support yet; transfer to yourself or an organization you own, or ask a site \
                     admin (`labforge admin repo transfer {} {new_owner}`)",
                    repo.full_name()
                )));
            };
            if !allowed {
                return Err(Error::Forbidden(format!(
                    "you must own the organization {new_owner} to transfer a repository to it"
                )));
            }
        }
        let from = self.repo_dir(&repo)?;
        let to = self.repos.dir_for_stored(new_owner.as_str(), &repo.name)?;
        let tx = self.db.begin_transfer_repo(repo.id, owner_id).await?;
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
        tracing::info!(repo = %repo.full_name(), to = %new_owner, "repository transferred");
        let moved = self
            .repo_by_path(&RepoPath {
                owner: new_owner.clone(),
                name: RepoName::parse(&repo.name)?,
            })
            .await?;
        Ok(grant.with_repo(moved))
    }

    /// `labforge admin user rename`: renames a user or an organization; their repositories'
    /// folders move with the owner's folder, and every old path and the old name redirect.
    pub async fn rename_owner(
        &self,
        _by: &SiteAdmin,
        old: &Username,
        new: &Username,
    ) -> Result<()> {
        if old.as_str() == new.as_str() {
            return Err(Error::InvalidInput(format!("{old} already has that name")));
        }
        let Some(id) = self.db.owner_id_by_name(old.as_str()).await? else {
            return Err(Error::NotFound);
        };
        let repos = self.db.repos_owned_by(id).await?;
        // Pending reads and background upkeep of the owner's repositories must not see their
        // folders vanish; one hold per repository (an owner's count is what the database holds).
        let mut holds = Vec::with_capacity(repos.len());
        for full in &repos {
            let (owner, name) = full.split_once('/').unwrap_or((full, ""));
            let dir = self.repos.dir_for_stored(owner, name)?;
            holds.push(self.upkeep.hold(&dir).await);
            self.reads.forget(&dir);
        }
        let tx = self.db.begin_rename_owner(id, new.as_str()).await?;
        let store = self.repos.clone();
        let (o, n) = (old.clone(), new.clone());
        blocking(move || store.move_owner_dir(&o, &n)).await??;
        if let Err(e) = tx.commit().await {
            let store = self.repos.clone();
            let (o, n) = (old.clone(), new.clone());
            let _ = blocking(move || store.move_owner_dir(&n, &o)).await;
            return Err(Error::Internal(e.into()));
        }
        drop(holds);
        tracing::info!(from = %old, to = %new, "owner renamed");
        Ok(())
    }
}
