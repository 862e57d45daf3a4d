//! What only the operator does to accounts (`labforge admin user|key|token …`): the way back for
//! a locked-out admin, disabling and deleting users, and removing their keys and tokens.

use super::accounts::check_password_rules;
use super::credentials::{hash_password, user_from_row};
use super::{Error, Forge, Result, blocking};
use crate::model::{SshKey, TokenSummary, User, Username};

impl Forge {
    /// The user with `name`, disabled or not (the operator sees everyone).
    async fn any_user(&self, name: &Username) -> Result<(User, bool)> {
        let row = self
            .db
            .user_by_name(name.as_str())
            .await?
            .ok_or_else(|| Error::InvalidInput(format!("there is no user '{name}'")))?;
        Ok((user_from_row(&row), row.disabled))
    }

    /// Sets a new password without knowing the old one, and ends every web session of the user.
    pub async fn reset_password(&self, name: &Username, password: &str) -> Result<u64> {
        let (user, _) = self.any_user(name).await?;
        check_password_rules(password)?;
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await??;
        let ended = self
            .db
            .set_password_ending_sessions(user.id, &hash, None)
            .await?;
        tracing::info!(user = %user.name, sessions_ended = ended, "password reset by the operator");
        Ok(ended)
    }

    /// Disables (or enables) a user. A disabled user can do nothing over the web, the API,
    /// HTTP git or SSH; their web sessions end at once.
    pub async fn set_user_disabled(&self, name: &Username, disabled: bool) -> Result<User> {
        let (user, _) = self.any_user(name).await?;
        self.db.set_user_disabled(user.id, disabled).await?;
        tracing::info!(user = %user.name, disabled, "account state changed by the operator");
        Ok(user)
    }

    /// Whether the user is disabled, for listings.
    pub async fn user_is_disabled(&self, name: &Username) -> Result<bool> {
        Ok(self.any_user(name).await?.1)
    }

    /// Deletes a user who owns no repository; otherwise refuses, naming the repositories (delete
    /// or rename them first: a deletion never takes git data with it).
    pub async fn delete_user(&self, name: &Username) -> Result<()> {
        let (user, _) = self.any_user(name).await?;
        if !self.db.delete_user_owning_nothing(user.id).await? {
            let owned = self.db.repos_owned_by(user.id).await?;
            return Err(Error::Conflict(format!(
                "{} owns {}; delete those repositories first (labforge admin repo delete OWNER/REPO --yes)",
                user.name,
                owned.join(", ")
            )));
        }
        tracing::info!(user = %user.name, "user deleted by the operator");
        Ok(())
    }

    pub async fn keys_of(&self, name: &Username) -> Result<Vec<SshKey>> {
        let (user, _) = self.any_user(name).await?;
        self.list_keys(&user).await
    }

    /// Removes one of the user's keys, named by its fingerprint (`SHA256:…`) or its id.
    pub async fn remove_key_of(&self, name: &Username, which: &str) -> Result<SshKey> {
        let (user, _) = self.any_user(name).await?;
        let keys = self.list_keys(&user).await?;
        let key = keys
            .into_iter()
            .find(|k| k.fingerprint == which || k.id.to_string() == which)
            .ok_or_else(|| Error::InvalidInput(format!("{} has no key {which}", user.name)))?;
        self.delete_key(&user, key.id).await?;
        tracing::info!(user = %user.name, key = %key.fingerprint, "SSH key removed by the operator");
        Ok(key)
    }

    pub async fn tokens_of(&self, name: &Username) -> Result<Vec<TokenSummary>> {
        let (user, _) = self.any_user(name).await?;
        self.list_tokens(&user).await
    }

    pub async fn revoke_token_of(&self, name: &Username, id: i64) -> Result<()> {
        let (user, _) = self.any_user(name).await?;
        self.delete_token(&user, id).await.map_err(|e| match e {
            Error::NotFound => Error::InvalidInput(format!("{} has no token {id}", user.name)),
            other => other,
        })?;
        tracing::info!(user = %user.name, token = id, "token revoked by the operator");
        Ok(())
    }
}

impl Forge {
    /// Every user with whether they are disabled, for `admin user list`.
    pub async fn users_with_state(&self) -> Result<Vec<(User, bool)>> {
        Ok(self
            .db
            .list_users()
            .await?
            .iter()
            .map(|r| (user_from_row(r), r.disabled))
            .collect())
    }
}
