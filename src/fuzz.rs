//! Settings shared by the property tests of every parser of outside input: 10,000 cases each in
//! `cargo test`, `LABFORGE_FUZZ_CASES` more on demand (`bench/fuzz.sh` runs 10^6).

use std::time::{Duration, Instant};

use proptest::test_runner::Config;

pub fn cases() -> u32 {
    std::env::var("LABFORGE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// No persistence file (CI runs from a clean clone) and no shrinking marathon.
pub fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    }
}

/// Runs `f` and fails the case if one input took longer than `limit`: every parser of outside
/// input promises bounded time, so a slow case is a finding even when the answer is right.
pub fn within<T>(limit: Duration, what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took <= limit, "{what} took {took:?} (limit {limit:?})");
    out
}
