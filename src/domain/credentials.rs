//! Passwords (argon2id) and access tokens (random, stored as SHA-256, compared in constant time).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use super::{Error, Forge, Result};
use crate::model::{Actor, Client, SiteRole, User};
use crate::storage::UserRow;

/// Tokens look like `lf_` + 40 hex digits; the first 12 digits find the row.
const TOKEN_PREFIX: &str = "lf_";
const LOOKUP_LEN: usize = 12;

/// A token as shown once to its owner.
pub struct NewTokenSecret(pub String);

pub(super) fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(anyhow::anyhow!("random: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("hashing password: {e}")))
}

pub(super) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A valid hash of nothing anyone knows; verifying against it for unknown users makes a wrong
/// user name take as long as a wrong password.
pub(super) fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("labforge-dummy-password").expect("hashing a constant works"))
}

/// `bytes` random bytes from the OS, as lowercase hex: tokens, session ids, CSRF tokens.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf)?;
    Ok(hex(&buf))
}

/// `buf` filled from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Internal(anyhow::anyhow!("random: {e}")))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn new_token() -> Result<(NewTokenSecret, String, Vec<u8>)> {
    let hex = random_hex(20)?;
    let token = format!("{TOKEN_PREFIX}{hex}");
    let lookup = hex[..LOOKUP_LEN].to_owned();
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    Ok((NewTokenSecret(token), lookup, hash))
}

pub(super) fn user_from_row(row: &UserRow) -> User {
    User {
        id: row.id,
        name: row.name.clone(),
        email: row.email.clone(),
        role: if row.is_admin {
            SiteRole::Admin
        } else {
            SiteRole::User
        },
    }
}

impl Forge {
    /// HTTP Basic: the password is either the account password or an access token. With a
    /// token the user name is not checked (as on GitHub and Gitea): the token names its owner.
    /// A token is checked first and is never throttled; a password goes through
    /// `check_password`, the one throttled check.
    pub async fn authenticate_basic(
        &self,
        username: &str,
        password: &str,
        client: Client,
    ) -> Result<Actor> {
        if let Some(actor) = self.authenticate_bearer(username, password, client).await? {
            return Ok(actor);
        }
        let row = self.check_password(username, password, client).await?;
        Ok(Actor {
            user: user_from_row(&row),
            scope: None,
        })
    }

    /// HTTP Basic with the account's password only, never a token: what Gitea asks for the
    /// calls that manage tokens, so a leaked token cannot mint others or list them. A token
    /// sent as the password is refused before any password check (it is not counted as a
    /// guess: it is a client's mistake, said so by the caller).
    pub async fn authenticate_password(
        &self,
        username: &str,
        password: &str,
        client: Client,
    ) -> Result<Actor> {
        if is_token_shaped(password) {
            return Err(Error::BadCredentials);
        }
        let row = self.check_password(username, password, client).await?;
        Ok(Actor {
            user: user_from_row(&row),
            scope: None,
        })
    }

    /// `authenticate_token`, with a wrong token counted and logged as a failed authentication
    /// (`username` is what the client sent beside it, for the log).
    pub async fn authenticate_bearer(
        &self,
        username: &str,
        candidate: &str,
        client: Client,
    ) -> Result<Option<Actor>> {
        match self.authenticate_token(candidate).await {
            Err(Error::BadCredentials) => {
                self.authentication_failed(username, client);
                Err(Error::BadCredentials)
            }
            other => other,
        }
    }

    /// The one password check of every transport: refused while the caller's throttle window
    /// is full (`Throttled`, even for the right password: that is what stops guessing), else
    /// argon2 against the stored hash (a dummy hash for unknown users, so both take as long).
    pub(super) async fn check_password(
        &self,
        username: &str,
        password: &str,
        client: Client,
    ) -> Result<UserRow> {
        if let Err(wait) = self.logins.check(username, client.addr) {
            tracing::info!(
                addr = ?client.addr,
                transport = %client.transport,
                retry_after_secs = wait.as_secs(),
                "password check refused: too many failures"
            );
            self.metrics.refused(client.transport.as_str(), "throttle");
            return Err(Error::Throttled(wait));
        }
        let row = self.db.user_by_name(username).await?;
        let hash = row
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |r| r.password_hash.clone());
        let ok = self
            .passwords
            .verify(row.as_ref().map(|r| r.id), password, hash)
            .await?;
        match row {
            Some(row) if ok => {
                // Only after the right password: a disabled account is no secret to its owner,
                // and a guesser learns nothing.
                refuse_disabled(&row)?;
                // Gitea's `last_login`: a sign-in with the password, not each token use.
                self.db.touch_last_login(row.id).await?;
                Ok(row)
            }
            _ => {
                self.authentication_failed(username, client);
                Err(Error::BadCredentials)
            }
        }
    }

    /// Counts a failed authentication against the caller's throttle and logs it: one `warn`
    /// line, `authentication failed from ADDR via TRANSPORT for user "NAME"`, which
    /// `contrib/fail2ban` matches. The address comes first and the name last, quoted and
    /// escaped, so a user name cannot forge another address into the line.
    pub fn authentication_failed(&self, username: &str, client: Client) {
        self.logins.record_failure(username, client.addr);
        let addr = client
            .addr
            .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        let user: String = username.chars().take(64).collect();
        tracing::warn!(
            "authentication failed from {addr} via {} for user {user:?}",
            client.transport
        );
    }

    /// `Ok(None)` when `candidate` does not look like a token at all.
    pub async fn authenticate_token(&self, candidate: &str) -> Result<Option<Actor>> {
        let Some(hex) = candidate.strip_prefix(TOKEN_PREFIX) else {
            return Ok(None);
        };
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row = self
            .db
            .token_by_lookup(&hex[..LOOKUP_LEN])
            .await?
            .ok_or(Error::BadCredentials)?;
        let presented = Sha256::digest(candidate.as_bytes());
        if !constant_time_eq::constant_time_eq(&presented, &row.token_hash) || row.expired {
            return Err(Error::BadCredentials);
        }
        let user = self
            .db
            .user_by_id(row.user_id)
            .await?
            .ok_or(Error::BadCredentials)?;
        refuse_disabled(&user)?;
        self.db.touch_token(row.id).await?;
        Ok(Some(Actor {
            user: user_from_row(&user),
            scope: Some(row.scope),
        }))
    }
}

/// Whether `candidate` has a token's form (`lf_` and 40 hex digits), valid or not.
pub fn is_token_shaped(candidate: &str) -> bool {
    candidate
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A disabled account's right password or token is refused as such (the caller proved who they
/// are, so saying why leaks nothing and tells them whom to ask).
pub(super) fn refuse_disabled(row: &UserRow) -> Result<()> {
    if row.disabled {
        tracing::info!(user = %row.name, "refused: the account is disabled");
        return Err(Error::Disabled(format!(
            "the account {} is disabled; ask an administrator",
            row.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, lookup, hash) = new_token().unwrap();
        let (b, _, _) = new_token().unwrap();
        assert_ne!(a.0, b.0);
        assert!(a.0.starts_with("lf_") && a.0.len() == 43);
        assert_eq!(lookup, a.0[3..15]);
        assert_eq!(hash, Sha256::digest(a.0.as_bytes()).to_vec());
    }
}
