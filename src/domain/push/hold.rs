//! Holding ref updates for a backup's instant. A push takes a permit when pre-receive approves
//! it and gives it back once post-receive has recorded it (or receive-pack ends), so the permit
//! covers exactly the moment git changes refs on disk. A backup takes the lock itself: it waits
//! for pushes already approved to be recorded, and new pushes wait in pre-receive until it lets
//! go; refs on disk and the database then describe the same instant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// How long a backup waits for approved pushes to be recorded, and how long a push waits for a
/// backup to let go: both are a moment when things work, so these only bound a failure.
pub const HOLD_WAIT: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(super) struct UpdateGate {
    lock: Arc<RwLock<()>>,
    permits: Mutex<HashMap<String, OwnedRwLockReadGuard<()>>>,
}

/// While this lives no ref changes through a push; dropping it lets waiting pushes go on.
pub struct RefHold {
    _guard: OwnedRwLockWriteGuard<()>,
}

impl UpdateGate {
    /// Takes push `nonce`'s permit, waiting for a backup's hold to end; false if it did not.
    pub(super) async fn enter(&self, nonce: &str) -> bool {
        let Ok(permit) = tokio::time::timeout(HOLD_WAIT, Arc::clone(&self.lock).read_owned()).await
        else {
            return false;
        };
        self.permits
            .lock()
            .expect("permit map is never poisoned: no code panics while holding it")
            .insert(nonce.to_owned(), permit);
        true
    }

    /// Gives push `nonce`'s permit back (nothing if it has none).
    pub(super) fn leave(&self, nonce: &str) {
        let permit = self
            .permits
            .lock()
            .expect("permit map is never poisoned: no code panics while holding it")
            .remove(nonce);
        drop(permit);
    }

    pub(super) async fn hold(&self) -> Option<RefHold> {
        let guard = tokio::time::timeout(HOLD_WAIT, Arc::clone(&self.lock).write_owned())
            .await
            .ok()?;
        Some(RefHold { _guard: guard })
    }
}

impl super::super::Forge {
    /// Stops ref updates for a backup: waits until every approved push is recorded, then holds
    /// new ones at pre-receive until the answer is dropped.
    pub async fn hold_ref_updates(&self) -> super::super::Result<RefHold> {
        self.hooks.updates.hold().await.ok_or_else(|| {
            super::super::Error::Conflict(format!(
                "pushes in progress were not recorded within {} s; try the backup again",
                HOLD_WAIT.as_secs()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hold_waits_for_permits_and_new_pushes_wait_for_the_hold() {
        let gate = Arc::new(UpdateGate::default());
        assert!(gate.enter("a").await);
        let holding = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.hold().await.is_some() })
        };
        tokio::task::yield_now().await;
        assert!(!holding.is_finished(), "the hold waits for push a");
        gate.leave("a");
        assert!(holding.await.unwrap());
        let hold = gate.hold().await.expect("nothing in flight");
        let entering = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move { gate.enter("b").await })
        };
        tokio::task::yield_now().await;
        assert!(!entering.is_finished(), "push b waits for the hold");
        drop(hold);
        assert!(entering.await.unwrap());
        gate.leave("b");
        gate.leave("never-entered");
    }
}
