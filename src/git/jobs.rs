//! Background history walks (a folder's last commits, a file's blame), each run once however
//! many requests want it: a request finds the running walk, reads what it has found so far and
//! answers at once, instead of starting the same walk again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A walk in progress: what it has found so far (`P`), and whether it has ended.
pub(super) struct Job<P> {
    state: Mutex<(P, bool)>,
    ended: Condvar,
}

impl<P> Job<P> {
    fn new(progress: P) -> Self {
        Self {
            state: Mutex::new((progress, false)),
            ended: Condvar::new(),
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut P)) {
        f(&mut self.state.lock().expect("never poisoned").0);
    }

    pub fn read<R>(&self, f: impl FnOnce(&P, bool) -> R) -> R {
        let state = self.state.lock().expect("never poisoned");
        f(&state.0, state.1)
    }

    /// Waits until the walk ends or `timeout` passes; true if it ended.
    pub fn wait(&self, timeout: Duration) -> bool {
        let state = self.state.lock().expect("never poisoned");
        let (state, _) = self
            .ended
            .wait_timeout_while(state, timeout, |s| !s.1)
            .expect("never poisoned");
        state.1
    }

    fn end(&self) {
        self.state.lock().expect("never poisoned").1 = true;
        self.ended.notify_all();
    }
}

/// The walks running now, by what they compute; at most `max` at once (each is one thread).
pub(super) struct Jobs<K, P> {
    running: Mutex<HashMap<K, Arc<Job<P>>>>,
    max: usize,
}

impl<K, P> Jobs<K, P>
where
    K: Hash + Eq + Clone + Send + 'static,
    P: Send + 'static,
{
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            running: Mutex::new(HashMap::new()),
            max,
        })
    }

    /// The walk for `key`: the running one, else a new one on its own thread running `run`
    /// (None when `max` walks already run: the caller answers with what it has).
    pub fn join_or_start(
        self: &Arc<Self>,
        key: K,
        progress: impl FnOnce() -> P,
        run: impl FnOnce(&Job<P>) + Send + 'static,
    ) -> Option<Arc<Job<P>>> {
        let job = {
            let mut running = self.running.lock().expect("never poisoned");
            if let Some(job) = running.get(&key) {
                return Some(Arc::clone(job));
            }
            if running.len() >= self.max {
                return None;
            }
            let job = Arc::new(Job::new(progress()));
            running.insert(key.clone(), Arc::clone(&job));
            job
        };
        let jobs = Arc::clone(self);
        let mine = Arc::clone(&job);
        let span = tracing::Span::current();
        let spawned = std::thread::Builder::new()
            .name("history-walk".into())
            .spawn(move || {
                // Ends the job and frees its slot even if the walk panics.
                struct Done<K: Hash + Eq, P>(Arc<Jobs<K, P>>, K, Arc<Job<P>>);
                impl<K: Hash + Eq, P> Drop for Done<K, P> {
                    fn drop(&mut self) {
                        self.0
                            .running
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&self.1);
                        self.2.end();
                    }
                }
                let done = Done(jobs, key, mine);
                span.in_scope(|| run(&done.2));
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start a history walk");
            job.end();
        }
        Some(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_walk_per_key_and_at_most_max() {
        let jobs: Arc<Jobs<u32, u32>> = Jobs::new(1);
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let g = Arc::clone(&gate);
        let a = jobs
            .join_or_start(
                1,
                || 0,
                move |job| {
                    job.update(|p| *p = 7);
                    let (lock, cv) = &*g;
                    let open = lock.lock().unwrap();
                    let _open = cv.wait_while(open, |o| !*o).unwrap();
                },
            )
            .unwrap();
        // The same key joins the running walk; another key finds no free slot.
        let again = jobs
            .join_or_start(1, || 0, |_| panic!("not run twice"))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert!(jobs.join_or_start(2, || 0, |_| {}).is_none());
        assert!(!a.wait(Duration::from_millis(10)));
        {
            let (lock, cv) = &*gate;
            *lock.lock().unwrap() = true;
            cv.notify_all();
        }
        assert!(a.wait(Duration::from_secs(30)));
        assert_eq!(a.read(|p, done| (*p, done)), (7, true));
    }
}
