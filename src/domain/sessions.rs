//! Web sign-in: sessions in PostgreSQL (the cookie holds a random token, the table its SHA-256),
//! a CSRF token per session, and a throttle on failed sign-ins per user name and per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::credentials::{random_hex, user_from_row};
use super::{Error, Forge, Result};
use crate::model::Actor;

const SESSION_DAYS: i64 = 30;
/// Failed sign-ins allowed within the window for one user name from one address, and for one
/// address in all. Not per user name alone: anyone could then lock a user out from elsewhere.
const MAX_FAILURES: usize = 10;
const MAX_FAILURES_PER_ADDRESS: usize = 100;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

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

/// Recent failures by user name and by address; old ones fall out of the window.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginThrottle {
    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<(String, usize)> {
        let ip = ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        vec![
            (
                format!("pair:{}:{ip}", username.to_ascii_lowercase()),
                MAX_FAILURES,
            ),
            (format!("ip:{ip}"), MAX_FAILURES_PER_ADDRESS),
        ]
    }

    fn blocked(&self, username: &str, ip: Option<IpAddr>) -> bool {
        let mut failures = self.failures.lock().expect("never poisoned");
        let now = Instant::now();
        Self::keys(username, ip).into_iter().any(|(k, limit)| {
            let list = failures.entry(k).or_default();
            list.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
            list.len() >= limit
        })
    }

    fn record_failure(&self, username: &str, ip: Option<IpAddr>) {
        let mut failures = self.failures.lock().expect("never poisoned");
        if failures.len() > 100_000 {
            failures.clear(); // a flood of distinct keys must not grow memory without bound
        }
        for (k, _) in Self::keys(username, ip) {
            failures.entry(k).or_default().push(Instant::now());
        }
    }
}

impl Forge {
    /// Checks the password (never a token: tokens are for git and the API) and opens a session.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<NewSession> {
        if self.logins.blocked(username, ip) {
            return Err(Error::Forbidden(
                "too many failed sign-ins; wait a few minutes".into(),
            ));
        }
        let row = self.db.user_by_name(username).await?;
        let hash = row.as_ref().map_or_else(
            || super::credentials::dummy_hash().to_owned(),
            |r| r.password_hash.clone(),
        );
        let ok = self
            .passwords
            .verify(row.as_ref().map(|r| r.id), password, hash)
            .await?;
        let Some(user) = row.filter(|_| ok) else {
            self.logins.record_failure(username, ip);
            return Err(Error::BadCredentials);
        };
        super::credentials::refuse_disabled(&user)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_blocks_a_name_from_an_address_and_a_noisy_address() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let elsewhere: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!t.blocked("alice", Some(ip)));
            t.record_failure("alice", Some(ip));
        }
        assert!(t.blocked("alice", Some(ip)));
        assert!(
            !t.blocked("alice", Some(elsewhere)),
            "no lock-out from another address"
        );
        assert!(
            !t.blocked("bob", Some(ip)),
            "other names from the address still try"
        );
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            t.record_failure(&format!("u{i}"), Some(ip));
        }
        assert!(t.blocked("bob", Some(ip)), "a noisy address is stopped");
    }
}
