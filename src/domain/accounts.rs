use super::credentials::{hash_password, new_token, user_from_row};
use super::{Error, Forge, NewTokenSecret, PublicKey, Result, blocking};
use crate::model::{Actor, Email, SshKey, TokenScope, TokenSummary, User, Username};
use crate::storage::{NewKey, NewToken, NewUser};

/// argon2 has no length limit, but a megabyte password is an attack, not a password.
const MAX_PASSWORD: usize = 1024;
const MIN_PASSWORD: usize = 8;

impl Forge {
    pub async fn create_user(
        &self,
        name: &Username,
        email: &Email,
        password: &str,
        admin: bool,
    ) -> Result<User> {
        if crate::model::names::is_reserved_owner(name.as_str()) {
            return Err(Error::InvalidInput(format!(
                "'{name}' is a word the site's own addresses use; choose another name"
            )));
        }
        check_password_rules(password)?;
        let password = password.to_owned();
        let hash = blocking(move || hash_password(&password)).await??;
        let row = self
            .db
            .insert_user(NewUser {
                name: name.as_str(),
                email: email.as_str(),
                password_hash: &hash,
                is_admin: admin,
            })
            .await?;
        Ok(user_from_row(&row))
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self
            .db
            .list_users()
            .await?
            .iter()
            .map(user_from_row)
            .collect())
    }

    pub async fn user(&self, name: &Username) -> Result<User> {
        let row = self.db.user_by_name(name.as_str()).await?;
        row.as_ref()
            .map(user_from_row)
            .ok_or_else(|| Error::InvalidInput(format!("there is no user '{name}'")))
    }

    /// Adds an OpenSSH public key line; returns its fingerprint.
    pub async fn add_key(&self, name: &Username, title: &str, line: &str) -> Result<String> {
        let user = self.user(name).await?;
        let title = check_title(title)?;
        let key = PublicKey::parse(line.trim()).map_err(Error::InvalidInput)?;
        let fingerprint = key.fingerprint();
        self.db
            .insert_key(NewKey {
                user_id: user.id,
                title,
                algorithm: &key.algorithm,
                public_key: &key.to_openssh(),
                fingerprint: &fingerprint,
            })
            .await?;
        Ok(fingerprint)
    }

    pub async fn create_token(
        &self,
        name: &Username,
        title: &str,
        scope: TokenScope,
        expires_at: Option<time::OffsetDateTime>,
    ) -> Result<NewTokenSecret> {
        let user = self.user(name).await?;
        let title = check_title(title)?;
        let (secret, lookup, hash) = new_token()?;
        self.db
            .insert_token(NewToken {
                user_id: user.id,
                title,
                lookup: &lookup,
                token_hash: &hash,
                scope,
                expires_at,
                last_eight: last_eight(&secret.0),
            })
            .await?;
        Ok(secret)
    }
}

/// The secret's last eight characters (all of it if shorter), as Gitea lists tokens.
pub(super) fn last_eight(secret: &str) -> &str {
    let start = secret.char_indices().rev().nth(7).map_or(0, |(i, _)| i);
    &secret[start..]
}

pub(super) fn check_title(title: &str) -> Result<&str> {
    let title = title.trim();
    if title.is_empty() || title.len() > 200 || title.chars().any(char::is_control) {
        return Err(Error::InvalidInput(
            "a title needs 1 to 200 printable characters".into(),
        ));
    }
    Ok(title)
}

impl Forge {
    /// The user whose key has `fingerprint` (`SHA256:…`), for SSH sessions. Call it only with a
    /// key whose signature was verified: the key that signed is the key that identifies.
    pub async fn authenticate_key(&self, fingerprint: &str) -> Result<Option<Actor>> {
        let Some(key) = self.db.key_by_fingerprint(fingerprint).await? else {
            return Ok(None);
        };
        let Some(user) = self.db.user_by_id(key.user_id).await? else {
            return Ok(None);
        };
        if user.disabled {
            tracing::info!(user = %user.name, "refused an SSH key: the account is disabled");
            return Ok(None);
        }
        self.db.touch_key(key.id).await?;
        Ok(Some(Actor {
            user: user_from_row(&user),
            scope: None,
        }))
    }

    /// Whether a key is known (and its user enabled); lets SSH skip the signature otherwise.
    pub async fn key_is_known(&self, fingerprint: &str) -> Result<bool> {
        let Some(key) = self.db.key_by_fingerprint(fingerprint).await? else {
            return Ok(false);
        };
        self.user_is_active(key.user_id).await
    }

    /// The user as they are now, if they still exist and are not disabled: an SSH connection
    /// reads it before each command, so disabling a user stops a connection kept open
    /// (ControlMaster), and revoking a site admin ends their admin access there too.
    pub async fn active_user(&self, user_id: i64) -> Result<Option<User>> {
        Ok(self
            .db
            .user_by_id(user_id)
            .await?
            .filter(|u| !u.disabled)
            .map(|u| user_from_row(&u)))
    }

    /// Whether the user still exists and is not disabled.
    pub async fn user_is_active(&self, user_id: i64) -> Result<bool> {
        Ok(self
            .db
            .user_by_id(user_id)
            .await?
            .is_some_and(|u| !u.disabled))
    }

    pub async fn list_keys(&self, user: &User) -> Result<Vec<SshKey>> {
        let rows = self.db.keys_for_user(user.id).await?;
        Ok(rows
            .into_iter()
            .map(|k| SshKey {
                id: k.id,
                title: k.title,
                algorithm: k.algorithm,
                fingerprint: k.fingerprint,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
            })
            .collect())
    }
}

impl Forge {
    pub async fn delete_key(&self, user: &User, id: i64) -> Result<()> {
        if self.db.delete_key(user.id, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    pub async fn list_tokens(&self, user: &User) -> Result<Vec<TokenSummary>> {
        let rows = self.db.tokens_for_user(user.id).await?;
        Ok(rows
            .into_iter()
            .map(|t| TokenSummary {
                id: t.id,
                title: t.title,
                scope: t.scope,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
                expires_at: t.expires_at,
            })
            .collect())
    }

    pub async fn delete_token(&self, user: &User, id: i64) -> Result<()> {
        if self.db.delete_token(user.id, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Changes a password after checking the current one, and ends every other web session of
    /// the user (`keep` is the session asking): whoever else knew the old password is out.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        keep: Option<i64>,
    ) -> Result<()> {
        let row = self.db.user_by_id(user.id).await?.ok_or(Error::NotFound)?;
        if !self
            .passwords
            .verify(Some(row.id), current, row.password_hash)
            .await?
        {
            return Err(Error::InvalidInput(
                "the current password is not right".into(),
            ));
        }
        check_password_rules(new)?;
        let new = new.to_owned();
        let hash = blocking(move || hash_password(&new)).await??;
        let ended = self
            .db
            .set_password_ending_sessions(user.id, &hash, keep)
            .await?;
        tracing::info!(user = %user.name, other_sessions_ended = ended, "password changed");
        Ok(())
    }
}

pub(super) fn check_password_rules(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::InvalidInput(format!(
            "the password needs at least {MIN_PASSWORD} characters"
        )));
    }
    if password.len() > MAX_PASSWORD {
        return Err(Error::InvalidInput(format!(
            "the password is longer than {MAX_PASSWORD} bytes"
        )));
    }
    Ok(())
}
