//! One throttle for every password check: web sign-in and HTTP Basic on git and the API (SSH
//! takes keys only). Failures are counted per (user name, address prefix), per address prefix
//! (IPv4 address, IPv6 /64) and per wide prefix (IPv4 /24, IPv6 /48), each in a window that
//! starts at its first failure. Not per user name alone: anyone could then lock a user out.
//!
//! Memory is bounded without letting an attacker evict entries: the table holds at most
//! `MAX_KEYS`; when full, expired windows are dropped, and if it is still full the oldest
//! failures stay and new keys share one overflow window instead, so a flood of fresh addresses
//! (about a thousand IPv6 /64s once cleared the old table) throttles itself rather than wiping
//! the record of the addresses already caught. A valid token is never throttled.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::model::AddrPrefix;

/// Failed checks allowed within the window for one user name from one address prefix.
pub const MAX_FAILURES_PER_USER: u32 = 10;
/// For one address prefix, all user names together.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 100;
/// For one IPv4 /24 or IPv6 /48.
pub const MAX_FAILURES_PER_NETWORK: u32 = 1_000;
/// For every key that found the table full, together.
const MAX_FAILURES_OVERFLOW: u32 = 1_000;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// The user name is hashed: a fixed 16 bytes, however long the name an attacker sends.
    User([u8; 16], Option<AddrPrefix>),
    Address(Option<AddrPrefix>),
    Network(AddrPrefix),
    Overflow,
}

impl Key {
    fn limit(self) -> u32 {
        match self {
            Key::User(..) => MAX_FAILURES_PER_USER,
            Key::Address(_) => MAX_FAILURES_PER_ADDRESS,
            Key::Network(_) => MAX_FAILURES_PER_NETWORK,
            Key::Overflow => MAX_FAILURES_OVERFLOW,
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Window {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.started) < FAILURE_WINDOW
    }
}

#[derive(Default)]
pub struct AuthThrottle {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    windows: HashMap<Key, Window>,
    /// Expired windows are swept when the table is full, at most this often: a sweep is a
    /// pass over the whole table, under the lock.
    swept: Option<Instant>,
}

const SWEEP_EVERY: Duration = Duration::from_secs(10);

impl Table {
    fn get(&self, key: &Key) -> Option<&Window> {
        self.windows.get(key)
    }

    fn len(&self) -> usize {
        self.windows.len()
    }

    fn sweep_if_full(&mut self, now: Instant) {
        let due = self
            .swept
            .is_none_or(|t| now.duration_since(t) >= SWEEP_EVERY);
        if self.windows.len() >= MAX_KEYS && due {
            self.windows.retain(|_, w| w.live(now));
            self.swept = Some(now);
        }
    }
}

fn keys(username: &str, ip: Option<IpAddr>) -> Vec<Key> {
    let mut name = [0u8; 16];
    name.copy_from_slice(&Sha256::digest(username.to_lowercase().as_bytes())[..16]);
    let prefix = ip.map(AddrPrefix::of);
    let mut keys = vec![Key::User(name, prefix), Key::Address(prefix)];
    if let Some(ip) = ip {
        keys.push(Key::Network(AddrPrefix::wide(ip)));
    }
    keys
}

impl AuthThrottle {
    /// `Err(wait)` when one of the caller's windows is full: try again after `wait`.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let table = self.table.lock().expect("never poisoned");
        let now = Instant::now();
        let mut wait = None::<Duration>;
        let mut untracked = false;
        for key in keys(username, ip) {
            match table.get(&key) {
                Some(w) if w.live(now) && w.failures >= key.limit() => {
                    let left = FAILURE_WINDOW.saturating_sub(now.duration_since(w.started));
                    wait = Some(wait.map_or(left, |x| x.max(left)));
                }
                Some(_) => {}
                None => untracked = true,
            }
        }
        if untracked
            && table.len() >= MAX_KEYS
            && let Some(w) = table.get(&Key::Overflow)
            && w.live(now)
            && w.failures >= MAX_FAILURES_OVERFLOW
        {
            let left = FAILURE_WINDOW.saturating_sub(now.duration_since(w.started));
            wait = Some(wait.map_or(left, |x| x.max(left)));
        }
        match wait {
            Some(w) => Err(w.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>) {
        let mut table = self.table.lock().expect("never poisoned");
        let now = Instant::now();
        table.sweep_if_full(now);
        for key in keys(username, ip) {
            let key = if table.windows.contains_key(&key) || table.len() < MAX_KEYS {
                key
            } else {
                Key::Overflow
            };
            let w = table.windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if !w.live(now) {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures = w.failures.saturating_add(1);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_name_from_an_address_and_a_noisy_address_are_stopped() {
        let t = AuthThrottle::default();
        for _ in 0..MAX_FAILURES_PER_USER {
            assert!(t.check("alice", ip("192.0.2.1")).is_ok());
            t.record_failure("Alice", ip("192.0.2.1"));
        }
        let wait = t.check("alice", ip("192.0.2.1")).unwrap_err();
        assert!(
            wait > Duration::from_secs(60) && wait <= FAILURE_WINDOW,
            "{wait:?}"
        );
        assert!(
            t.check("alice", ip("192.0.2.2")).is_ok(),
            "no lock-out from elsewhere"
        );
        assert!(
            t.check("bob", ip("192.0.2.1")).is_ok(),
            "other names still try"
        );
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            t.record_failure(&format!("u{i}"), ip("192.0.2.1"));
        }
        assert!(
            t.check("bob", ip("192.0.2.1")).is_err(),
            "a noisy address is stopped"
        );
    }

    #[test]
    fn ipv6_is_counted_by_its_64() {
        let t = AuthThrottle::default();
        for i in 0..MAX_FAILURES_PER_USER {
            t.record_failure("alice", ip(&format!("2001:db8:0:1::{i:x}")));
        }
        assert!(t.check("alice", ip("2001:db8:0:1::ffff")).is_err());
        assert!(t.check("alice", ip("2001:db8:0:2::1")).is_ok());
    }

    #[test]
    fn a_flood_of_fresh_addresses_cannot_evict_the_caught_ones() {
        let t = AuthThrottle::default();
        for _ in 0..MAX_FAILURES_PER_USER {
            t.record_failure("alice", ip("192.0.2.1"));
        }
        // Fill the table with distinct /64s from many /48s.
        for i in 0..(MAX_KEYS as u32) {
            let a = std::net::Ipv6Addr::from((0x2001_0db8_u128 << 96) | (u128::from(i) << 64));
            t.record_failure("x", Some(IpAddr::V6(a)));
        }
        assert!(t.len() <= MAX_KEYS + 1, "bounded: {}", t.len());
        assert!(t.check("alice", ip("192.0.2.1")).is_err(), "still caught");
        // New addresses now share the overflow window, which is full.
        assert!(t.check("carol", ip("198.51.100.7")).is_err());
    }
}
