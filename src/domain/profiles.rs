//! Users, their keys and their tokens as the API shows them (Gitea's User, PublicKey and
//! AccessToken objects). Who may see what is the API's concern (a user's own keys and tokens,
//! a profile's e-mail); these functions take the user they act for.

use time::OffsetDateTime;

use super::accounts::{check_title, last_eight};
use super::credentials::new_token;
use super::{Error, Forge, NewTokenSecret, PublicKey, Result};
use crate::model::{SiteRole, TokenScope, User, Username};
use crate::storage::{ApiTokenRow, KeyTextRow, NewKey, NewToken, ProfileRow};

/// The most users one call resolves by id: a page of issues or comments names at most a
/// page of authors (the API's pages hold 50; comments without paging up to 100).
pub const MAX_PROFILES_AT_ONCE: usize = 200;

/// A user with the dates Gitea's User object shows.
#[derive(Debug, Clone)]
pub struct UserProfile {
    pub user: User,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    /// The last sign-in with the password; None before the first.
    pub last_login_at: Option<OffsetDateTime>,
}

/// An SSH key with its public text.
#[derive(Debug, Clone)]
pub struct KeyText {
    pub id: i64,
    pub title: String,
    pub fingerprint: String,
    /// The OpenSSH line, `ALGORITHM BASE64` (no comment).
    pub key: String,
    pub created_at: OffsetDateTime,
}

/// A token as listed: never the secret.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub title: String,
    pub scope: TokenScope,
    pub last_eight: String,
}

fn profile_from_row(row: ProfileRow) -> UserProfile {
    UserProfile {
        user: User {
            id: row.id,
            name: row.name,
            email: row.email,
            role: if row.is_admin {
                SiteRole::Admin
            } else {
                SiteRole::User
            },
        },
        disabled: row.disabled,
        created_at: row.created_at,
        last_login_at: row.last_login_at,
    }
}

fn key_from_row(row: KeyTextRow) -> KeyText {
    KeyText {
        id: row.id,
        title: row.title,
        fingerprint: row.fingerprint,
        key: row.public_key,
        created_at: row.created_at,
    }
}

fn token_from_row(row: ApiTokenRow) -> ApiToken {
    ApiToken {
        id: row.id,
        title: row.title,
        scope: row.scope,
        last_eight: row.last_eight,
    }
}

fn total(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Forge {
    pub async fn profile(&self, name: &Username) -> Result<UserProfile> {
        self.db
            .profile_by_name(name.as_str())
            .await?
            .map(profile_from_row)
            .ok_or(Error::NotFound)
    }

    pub async fn profile_by_id(&self, id: i64) -> Result<UserProfile> {
        self.db
            .profiles_by_ids(&[id])
            .await?
            .into_iter()
            .next()
            .map(profile_from_row)
            .ok_or(Error::NotFound)
    }

    /// The users among `ids` that still exist, in no order; at most `MAX_PROFILES_AT_ONCE`
    /// distinct ids (more is a caller's bug, refused rather than sent as one huge query).
    pub async fn profiles_by_ids(&self, ids: &[i64]) -> Result<Vec<UserProfile>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() > MAX_PROFILES_AT_ONCE {
            return Err(Error::Internal(anyhow::anyhow!(
                "{} users asked at once; the limit is {MAX_PROFILES_AT_ONCE}",
                ids.len()
            )));
        }
        Ok(self
            .db
            .profiles_by_ids(&ids)
            .await?
            .into_iter()
            .map(profile_from_row)
            .collect())
    }

    /// One page of the users whose name contains `text`, or only user `uid`; and the total.
    pub async fn search_users(
        &self,
        text: &str,
        uid: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<UserProfile>, u64)> {
        let (rows, n) = self
            .db
            .search_profiles(text.trim(), uid, offset, limit)
            .await?;
        Ok((rows.into_iter().map(profile_from_row).collect(), total(n)))
    }

    pub async fn key_texts(
        &self,
        user: &User,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<KeyText>, u64)> {
        let (rows, n) = self.db.key_texts_for_user(user.id, offset, limit).await?;
        Ok((rows.into_iter().map(key_from_row).collect(), total(n)))
    }

    /// One of `user`'s keys; another user's key is NotFound, as a missing one.
    pub async fn key_text(&self, user: &User, id: i64) -> Result<KeyText> {
        self.db
            .key_text(user.id, id)
            .await?
            .map(key_from_row)
            .ok_or(Error::NotFound)
    }

    /// Adds an OpenSSH public key line for `user` themself (the API's `/user/keys`) and returns
    /// it as stored.
    pub async fn add_own_key(&self, user: &User, title: &str, line: &str) -> Result<KeyText> {
        let title = check_title(title)?;
        let key = PublicKey::parse(line.trim()).map_err(Error::InvalidInput)?;
        let id = self
            .db
            .insert_key(NewKey {
                user_id: user.id,
                title,
                algorithm: &key.algorithm,
                public_key: &key.to_openssh(),
                fingerprint: &key.fingerprint(),
            })
            .await?;
        self.key_text(user, id).await
    }

    pub async fn api_tokens(
        &self,
        user: &User,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ApiToken>, u64)> {
        let (rows, n) = self.db.api_tokens_for_user(user.id, offset, limit).await?;
        Ok((rows.into_iter().map(token_from_row).collect(), total(n)))
    }

    /// A new token for `user`, without expiry (Gitea's API tokens have none); the secret is
    /// returned once.
    pub async fn create_api_token(
        &self,
        user: &User,
        title: &str,
        scope: TokenScope,
    ) -> Result<(ApiToken, NewTokenSecret)> {
        let title = check_title(title)?;
        let (secret, lookup, hash) = new_token()?;
        let id = self
            .db
            .insert_token(NewToken {
                user_id: user.id,
                title,
                lookup: &lookup,
                token_hash: &hash,
                scope,
                expires_at: None,
                last_eight: last_eight(&secret.0),
            })
            .await?;
        let token = ApiToken {
            id,
            title: title.to_owned(),
            scope,
            last_eight: last_eight(&secret.0).to_owned(),
        };
        Ok((token, secret))
    }

    /// Deletes one of `user`'s tokens named by its id or, as Gitea also allows, its name.
    pub async fn delete_token_named(&self, user: &User, id_or_name: &str) -> Result<()> {
        let id = match id_or_name.parse::<i64>() {
            Ok(id) => id,
            Err(_) => self
                .db
                .token_id_by_title(user.id, id_or_name)
                .await?
                .ok_or(Error::NotFound)?,
        };
        self.delete_token(user, id).await
    }
}
