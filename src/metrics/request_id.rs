//! One id per request, git operation and deploy, from accept to finish: in the log
//! (`request_id`), on HTTP answers (`X-Request-Id`) and on a refused push (`remote: request id
//! …`), so one failure can be found in the log. An id a client sends is honoured only from a
//! trusted proxy (which made it); anyone else gets a fresh one, so no one can plant ids.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The header ids travel in.
pub const HEADER: &str = "x-request-id";

/// A request id: 16 hex digits made here, or what a trusted proxy sent (checked by `parse`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

tokio::task_local! {
    /// The id of the request the running task serves, for code far from the transport
    /// (the push ticket) that logs or reports it.
    static CURRENT: RequestId;
}

impl RequestId {
    /// A fresh id: 64 random bits (from the OS once, then a counter mixed in, so making one
    /// costs no system call and two never collide within a process).
    pub fn new() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let seed = *SEED.get_or_init(|| {
            let mut b = [0u8; 8];
            // Without the OS' randomness ids are still unique per process, only guessable.
            let _ = getrandom::fill(&mut b);
            u64::from_le_bytes(b)
        });
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // splitmix64 of seed + n: distinct for distinct n, and spread over all 64 bits.
        let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self(format!("{:016x}", z ^ (z >> 31)))
    }

    /// An id from a trusted proxy: 1 to 64 of `A-Z a-z 0-9 . _ -` (what nginx's `$request_id`,
    /// Traefik and Caddy send), so it is safe in a header, a log line and a terminal.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the request this task serves, if it runs inside `scope`.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `f` with this id as `current()`.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_sixteen_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| RequestId::new()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(50) {
            assert_eq!(id.as_str().len(), 16);
            assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn only_plain_bounded_ids_are_honoured() {
        assert!(RequestId::parse("f3a1c9e0b2d44c5e8a7b6c5d4e3f2a1b").is_some());
        assert!(RequestId::parse("req-1.2_3").is_some());
        assert!(RequestId::parse(&"a".repeat(64)).is_some());
        assert!(RequestId::parse(&"a".repeat(65)).is_none());
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("a b").is_none());
        assert!(RequestId::parse("a\nb").is_none());
        assert!(RequestId::parse("a\u{1b}[31m").is_none());
        assert!(RequestId::parse("é").is_none());
    }

    #[tokio::test]
    async fn current_is_the_scoped_id() {
        assert!(RequestId::current().is_none());
        let id = RequestId::new();
        let seen = id.clone().scope(async { RequestId::current() }).await;
        assert_eq!(seen, Some(id));
    }
}
