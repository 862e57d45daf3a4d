//! Deploy keys: an SSH key that reaches the repositories it is attached to and nothing else,
//! read-only or read-write, as Flux and Argo CD use them. Managing them needs an admin grant on
//! the repository; using one is an SSH login whose principal is the key itself
//! (`Principal::DeployKey`), decided by the one access rule. A key is a user's or a deploy key,
//! never both (the database refuses it either way, see the migration).

use super::{Admin, Error, Forge, Grant, Principal, PublicKey, Result};
use crate::storage::{DeployKeyRow, NewDeployKey};

/// Deploy keys one repository may have: a page and an API list show them all at once.
pub const MAX_DEPLOY_KEYS_PER_REPO: i64 = 50;

/// A deploy key as one repository has it.
#[derive(Debug, Clone)]
pub struct DeployKey {
    /// This attachment's id (the API's and the settings page's).
    pub id: i64,
    pub title: String,
    /// `TYPE BASE64`, without a comment.
    pub key: String,
    pub fingerprint: String,
    pub read_only: bool,
    pub created_at: time::OffsetDateTime,
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl DeployKey {
    fn from_row(row: DeployKeyRow) -> Self {
        DeployKey {
            id: row.id,
            title: row.title,
            key: row.public_key,
            fingerprint: row.fingerprint,
            read_only: row.read_only,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

impl Forge {
    pub async fn deploy_keys(&self, grant: &Grant<Admin>) -> Result<Vec<DeployKey>> {
        let rows = self.db.deploy_keys_for_repo(grant.repo().id).await?;
        Ok(rows.into_iter().map(DeployKey::from_row).collect())
    }

    /// One of the repository's deploy keys; another repository's id is `NotFound`.
    pub async fn deploy_key(&self, grant: &Grant<Admin>, id: i64) -> Result<DeployKey> {
        let row = self.db.deploy_key(grant.repo().id, id).await?;
        row.map(DeployKey::from_row).ok_or(Error::NotFound)
    }

    /// Attaches the OpenSSH public key `line` to the repository. Refused if it is a user's key
    /// (and a user's key is refused later if it is a deploy key), if the repository has it
    /// already, or has `MAX_DEPLOY_KEYS_PER_REPO`.
    pub async fn add_deploy_key(
        &self,
        grant: &Grant<Admin>,
        title: &str,
        line: &str,
        read_only: bool,
    ) -> Result<DeployKey> {
        let title = super::accounts::check_title(title)?;
        let key = PublicKey::parse(line.trim()).map_err(Error::InvalidInput)?;
        let fingerprint = key.fingerprint();
        let new = NewDeployKey {
            repo_id: grant.repo().id,
            title,
            algorithm: &key.algorithm,
            public_key: &key.to_openssh(),
            fingerprint: &fingerprint,
            read_only,
        };
        let row = self
            .db
            .insert_deploy_key(new, MAX_DEPLOY_KEYS_PER_REPO)
            .await?
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "a repository has at most {MAX_DEPLOY_KEYS_PER_REPO} deploy keys; remove one first"
                ))
            })?;
        tracing::info!(repo = %grant.repo().full_name(), key = %fingerprint, read_only, "deploy key added");
        Ok(DeployKey::from_row(row))
    }

    pub async fn remove_deploy_key(&self, grant: &Grant<Admin>, id: i64) -> Result<()> {
        if self.db.delete_deploy_key(grant.repo().id, id).await? {
            tracing::info!(repo = %grant.repo().full_name(), id, "deploy key removed");
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Whether a deploy key with `fingerprint` exists (lets SSH skip the signature otherwise).
    pub async fn deploy_key_is_known(&self, fingerprint: &str) -> Result<bool> {
        Ok(self
            .db
            .deploy_key_by_fingerprint(fingerprint)
            .await?
            .is_some())
    }

    /// The deploy key with `fingerprint` as a principal, for SSH sessions. Call it only with a
    /// key whose signature was verified: the key that signed is the key that identifies.
    pub async fn authenticate_deploy_key(&self, fingerprint: &str) -> Result<Option<Principal>> {
        if !self.deploy_key_is_known(fingerprint).await? {
            return Ok(None);
        }
        self.db.touch_deploy_key(fingerprint).await?;
        Ok(Some(Principal::DeployKey {
            fingerprint: fingerprint.to_owned(),
        }))
    }

    /// The deploy key behind row `id` (named by the forced command sshd ran after the client
    /// signed with that key) as a principal, with its fingerprint; None if it was removed.
    pub async fn authenticate_deploy_key_id(&self, id: i64) -> Result<Option<(Principal, String)>> {
        let Some(fingerprint) = self.db.deploy_key_fingerprint(id).await? else {
            return Ok(None);
        };
        Ok(self
            .authenticate_deploy_key(&fingerprint)
            .await?
            .map(|principal| (principal, fingerprint)))
    }
}
