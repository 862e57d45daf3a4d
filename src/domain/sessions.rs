//! Web sign-in: sessions in PostgreSQL (the cookie holds a random token, the table its SHA-256),
//! a CSRF token per session; the password check and its throttle are `check_password`'s.

use sha2::{Digest, Sha256};

use super::credentials::{random_hex, user_from_row};
use super::{Forge, Result};
use crate::model::{Actor, Client};

const SESSION_DAYS: i64 = 30;
/// A new session, as handed to the browser.
pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

/// A signed-in visitor and the CSRF token their forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's row, so a password change can end every other one.
    pub id: i64,
    pub actor: Actor,
    pub csrf: String,
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl Forge {
    /// Checks the password (never a token: tokens are for git and the API) and opens a session.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: Client,
    ) -> Result<NewSession> {
        let user = self.check_password(username, password, client).await?;
        let token = random_hex(32)?;
        let csrf = random_hex(16)?;
        let expires = time::OffsetDateTime::now_utc() + time::Duration::days(SESSION_DAYS);
        self.db
            .insert_session(user.id, &token_hash(&token), &csrf, expires)
            .await?;
        tracing::info!(user = %user.name, "signed in");
        Ok(NewSession { token, csrf })
    }

    /// The session a cookie names, if it is live.
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row = self.db.session_by_hash(&token_hash(token)).await?;
        Ok(row.map(|r| Session {
            id: r.id,
            actor: Actor {
                user: user_from_row(&r.user),
                scope: None,
            },
            csrf: r.csrf_token,
        }))
    }

    pub async fn sign_out(&self, token: &str) -> Result<()> {
        self.db.delete_session(&token_hash(token)).await?;
        Ok(())
    }
}
