//! What site admins do to accounts, the same functions for `/-/admin` and for the operator's
//! `labforge admin user|key|token …`: create, reset a password, disable and enable, make or
//! revoke admin, delete, add and remove keys, create and revoke tokens. Each takes a `SiteAdmin` (the proof, and who
//! acts) and writes the audit log.

use super::accounts::check_password_rules;
use super::credentials::{hash_password, user_from_row};
use super::{Error, Forge, NewTokenSecret, Result, SiteAdmin, blocking};
use crate::model::{Email, SshKey, TokenScope, TokenSummary, User, Username};

impl Forge {
    /// The user with `name`, disabled or not (an admin sees everyone).
    async fn any_user(&self, name: &Username) -> Result<(User, bool)> {
        let row = self
            .db
            .user_by_name(name.as_str())
            .await?
            .ok_or_else(|| Error::InvalidInput(format!("there is no user '{name}'")))?;
        Ok((user_from_row(&row), row.disabled))
    }

    /// An admin on the web cannot lock themselves out (disable, delete, revoke their own
    /// admin): another admin, or the operator at the command line, can.
    fn not_yourself(by: &SiteAdmin, user: &User, what: &str) -> Result<()> {
        if by.user_id() == Some(user.id) {
            return Err(Error::InvalidInput(format!(
                "you cannot {what} your own account here; another admin, or `labforge admin user` on the server, can"
            )));
        }
        Ok(())
    }

    pub async fn admin_create_user(
        &self,
        by: &SiteAdmin,
        name: &Username,
        email: &Email,
        password: &str,
        admin: bool,
    ) -> Result<User> {
        let user = self.create_user(name, email, password, admin).await?;
        let detail = if admin { "site admin" } else { "" };
        self.audit(by, "create user", &user.name, detail).await?;
        Ok(user)
    }

    /// Sets a new password without knowing the old one, and ends every web session of the user.
    pub async fn reset_password(
        &self,
        by: &SiteAdmin,
        name: &Username,
        password: &str,
    ) -> Result<u64> {
        let (user, _) = self.any_user(name).await?;
        check_password_rules(password)?;
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await??;
        let ended = self
            .db
            .set_password_ending_sessions(user.id, &hash, None)
            .await?;
        let detail = format!("{ended} session(s) ended");
        self.audit(by, "reset password", &user.name, &detail)
            .await?;
        Ok(ended)
    }

    /// Disables (or enables) a user. A disabled user can do nothing over the web, the API,
    /// HTTP git or SSH (the credential checks in `credentials.rs` and the SSH session's
    /// `active_actor` refuse them); their web sessions end at once.
    pub async fn set_user_disabled(
        &self,
        by: &SiteAdmin,
        name: &Username,
        disabled: bool,
    ) -> Result<User> {
        let (user, _) = self.any_user(name).await?;
        if disabled {
            Self::not_yourself(by, &user, "disable")?;
        }
        self.db.set_user_disabled(user.id, disabled).await?;
        let action = if disabled {
            "disable user"
        } else {
            "enable user"
        };
        self.audit(by, action, &user.name, "").await?;
        Ok(user)
    }

    /// Makes the user a site admin, or revokes it. Takes effect at their next request (each
    /// one reads the role again).
    pub async fn set_user_admin(
        &self,
        by: &SiteAdmin,
        name: &Username,
        admin: bool,
    ) -> Result<User> {
        let (user, _) = self.any_user(name).await?;
        if !admin {
            Self::not_yourself(by, &user, "revoke admin from")?;
        }
        self.db.set_user_admin(user.id, admin).await?;
        let action = if admin { "make admin" } else { "revoke admin" };
        self.audit(by, action, &user.name, "").await?;
        Ok(user)
    }

    /// Whether the user is disabled, for listings.
    pub async fn user_is_disabled(&self, name: &Username) -> Result<bool> {
        Ok(self.any_user(name).await?.1)
    }

    /// Deletes a user who owns no repository; otherwise refuses, naming the repositories (delete
    /// or rename them first: a deletion never takes git data with it).
    pub async fn delete_user(&self, by: &SiteAdmin, name: &Username) -> Result<()> {
        let (user, _) = self.any_user(name).await?;
        Self::not_yourself(by, &user, "delete")?;
        if !self.db.delete_user_owning_nothing(user.id).await? {
            let owned = self.db.repos_owned_by(user.id).await?;
            return Err(Error::Conflict(format!(
                "{} owns {}; delete those repositories first (labforge admin repo delete OWNER/REPO --yes)",
                user.name,
                owned.join(", ")
            )));
        }
        self.audit(by, "delete user", &user.name, "").await?;
        Ok(())
    }

    /// Adds an OpenSSH public key line to the user's keys; returns its fingerprint.
    pub async fn add_key_for(
        &self,
        by: &SiteAdmin,
        name: &Username,
        title: &str,
        line: &str,
    ) -> Result<String> {
        let fingerprint = self.add_key(name, title, line).await?;
        self.audit(by, "add SSH key", name.as_str(), &fingerprint)
            .await?;
        Ok(fingerprint)
    }

    /// Creates a token for the user; the secret is shown once, to the admin.
    pub async fn create_token_for(
        &self,
        by: &SiteAdmin,
        name: &Username,
        title: &str,
        scope: TokenScope,
        expires_at: Option<time::OffsetDateTime>,
    ) -> Result<NewTokenSecret> {
        let secret = self.create_token(name, title, scope, expires_at).await?;
        let detail = format!("{} ({scope})", title.trim());
        self.audit(by, "create token", name.as_str(), &detail)
            .await?;
        Ok(secret)
    }

    pub async fn keys_of(&self, _by: &SiteAdmin, name: &Username) -> Result<Vec<SshKey>> {
        let (user, _) = self.any_user(name).await?;
        self.list_keys(&user).await
    }

    /// Removes one of the user's keys, named by its fingerprint (`SHA256:…`) or its id.
    pub async fn remove_key_of(
        &self,
        by: &SiteAdmin,
        name: &Username,
        which: &str,
    ) -> Result<SshKey> {
        let (user, _) = self.any_user(name).await?;
        let keys = self.list_keys(&user).await?;
        let key = keys
            .into_iter()
            .find(|k| k.fingerprint == which || k.id.to_string() == which)
            .ok_or_else(|| Error::InvalidInput(format!("{} has no key {which}", user.name)))?;
        self.delete_key(&user, key.id).await?;
        self.audit(by, "remove SSH key", &user.name, &key.fingerprint)
            .await?;
        Ok(key)
    }

    pub async fn tokens_of(&self, _by: &SiteAdmin, name: &Username) -> Result<Vec<TokenSummary>> {
        let (user, _) = self.any_user(name).await?;
        self.list_tokens(&user).await
    }

    pub async fn revoke_token_of(&self, by: &SiteAdmin, name: &Username, id: i64) -> Result<()> {
        let (user, _) = self.any_user(name).await?;
        self.delete_token(&user, id).await.map_err(|e| match e {
            Error::NotFound => Error::InvalidInput(format!("{} has no token {id}", user.name)),
            other => other,
        })?;
        self.audit(by, "revoke token", &user.name, &format!("token {id}"))
            .await?;
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
