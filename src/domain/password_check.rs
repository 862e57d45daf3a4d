//! Password verification that a git client can afford. Git over HTTP sends the password with
//! every request of a clone or push, and argon2id costs ~20 ms of CPU and 19 MiB of memory each
//! time; unbounded, a burst of logins (or a flood of wrong ones) would exhaust memory. So:
//! at most one argon2 per core runs at once (the rest wait their turn), and a password that
//! verified is remembered for a few minutes as a keyed SHA-256, valid only while the user's
//! stored hash is unchanged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::credentials::verify_password;
use super::{Error, Result, blocking};

const REMEMBER_FOR: Duration = Duration::from_secs(300);
const MAX_REMEMBERED: usize = 10_000;

struct Remembered {
    digest: [u8; 32],
    /// The stored argon2 hash this was checked against: a password change invalidates it.
    stored_hash: String,
    until: Instant,
}

pub struct PasswordCheck {
    /// Random per process, so remembered digests are useless outside it.
    key: [u8; 32],
    remembered: Mutex<HashMap<i64, Remembered>>,
    argon_slots: Semaphore,
}

impl PasswordCheck {
    pub fn new(concurrency: usize) -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source is available");
        Self {
            key,
            remembered: Mutex::new(HashMap::new()),
            argon_slots: Semaphore::new(concurrency.max(1)),
        }
    }

    fn digest(&self, user_id: i64, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(user_id.to_be_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Whether `password` matches `stored_hash` (the account of `user_id`; `None` for an
    /// unknown user, checked against a dummy hash so it takes as long as a wrong password).
    pub async fn verify(
        &self,
        user_id: Option<i64>,
        password: &str,
        stored_hash: String,
    ) -> Result<bool> {
        if let Some(id) = user_id {
            let digest = self.digest(id, password);
            let remembered = self.remembered.lock().expect("never poisoned");
            if let Some(r) = remembered.get(&id)
                && r.until > Instant::now()
                && r.stored_hash == stored_hash
                && constant_time_eq::constant_time_eq(&r.digest, &digest)
            {
                return Ok(true);
            }
        }
        let permit = self
            .argon_slots
            .acquire()
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        let (pw, hash) = (password.to_owned(), stored_hash.clone());
        let ok = blocking(move || verify_password(&pw, &hash)).await?;
        drop(permit);
        if let (true, Some(id)) = (ok, user_id) {
            let mut remembered = self.remembered.lock().expect("never poisoned");
            if remembered.len() >= MAX_REMEMBERED {
                let now = Instant::now();
                remembered.retain(|_, r| r.until > now);
                if remembered.len() >= MAX_REMEMBERED {
                    remembered.clear();
                }
            }
            let entry = Remembered {
                digest: self.digest(id, password),
                stored_hash,
                until: Instant::now() + REMEMBER_FOR,
            };
            remembered.insert(id, entry);
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credentials::hash_password;

    #[tokio::test]
    async fn remembers_only_the_right_password_for_the_same_hash() {
        let check = PasswordCheck::new(1);
        let hash = hash_password("correct horse").unwrap();
        assert!(
            check
                .verify(Some(1), "correct horse", hash.clone())
                .await
                .unwrap()
        );
        // Remembered: still right, and a wrong password is still wrong.
        assert!(
            check
                .verify(Some(1), "correct horse", hash.clone())
                .await
                .unwrap()
        );
        assert!(!check.verify(Some(1), "wrong", hash.clone()).await.unwrap());
        // Another user with the same password is not let in by user 1's entry.
        assert!(
            !check
                .verify(Some(2), "correct horse", hash_password("other").unwrap())
                .await
                .unwrap()
        );
        // A changed stored hash (password changed) forgets the old password.
        let new_hash = hash_password("new password").unwrap();
        assert!(
            !check
                .verify(Some(1), "correct horse", new_hash)
                .await
                .unwrap()
        );
    }
}
