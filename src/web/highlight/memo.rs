//! Highlighted pages kept in memory, so a file or commit viewed again costs no parsing. Keys are
//! object ids (a file's blob id with its path, a commit's id): what they name never changes, so
//! entries never go stale. Bounded by an estimate of the bytes held; the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::{DiffLine, Line};

/// Bytes of spans each memo may hold (two memos, files and diffs: at most 24 MiB in all).
const MAX_BYTES: usize = 12 * 1024 * 1024;

pub(super) struct Memo<V> {
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    map: HashMap<String, (Arc<V>, usize)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl<V> Memo<V> {
    pub(super) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    /// The value for `key`, computing it with `compute` (outside the lock) when absent. Only
    /// values `compute` calls complete are kept: one cut short by the time budget is tried
    /// again next time, when the machine may be less busy.
    pub(super) fn get_or_compute(
        &self,
        key: &str,
        compute: impl FnOnce() -> (V, bool),
        size: impl FnOnce(&V) -> usize,
    ) -> Arc<V> {
        if let Some((v, _)) = self.lock().map.get(key) {
            return Arc::clone(v);
        }
        let (value, complete) = compute();
        let value = Arc::new(value);
        let bytes = size(&value);
        if complete && bytes <= MAX_BYTES / 4 {
            let mut inner = self.lock();
            if !inner.map.contains_key(key) {
                inner.bytes += bytes;
                inner
                    .map
                    .insert(key.to_owned(), (Arc::clone(&value), bytes));
                inner.order.push_back(key.to_owned());
                while inner.bytes > MAX_BYTES {
                    let Some(old) = inner.order.pop_front() else {
                        break;
                    };
                    if let Some((_, b)) = inner.map.remove(&old) {
                        inner.bytes -= b;
                    }
                }
            }
        }
        value
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock leaves the map consistent (no partial updates).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Roughly what a line's spans take in memory.
pub(super) fn line_bytes(line: &Line) -> usize {
    24 + line
        .iter()
        .map(|s| std::mem::size_of_val(s) + s.text.len())
        .sum::<usize>()
}

pub(super) fn diff_bytes(files: &[Arc<Vec<DiffLine>>]) -> usize {
    files
        .iter()
        .flat_map(|f| f.iter())
        .map(|l| 16 + line_bytes(&l.spans))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_complete_values_and_drops_the_oldest_past_the_bound() {
        let memo: Memo<usize> = Memo::new();
        let mut runs = 0;
        for _ in 0..2 {
            memo.get_or_compute(
                "a",
                || {
                    runs += 1;
                    (1, true)
                },
                |_| 10,
            );
        }
        assert_eq!(runs, 1, "the second call is served from memory");
        memo.get_or_compute(
            "cut",
            || {
                runs += 1;
                (2, false)
            },
            |_| 10,
        );
        memo.get_or_compute(
            "cut",
            || {
                runs += 1;
                (2, false)
            },
            |_| 10,
        );
        assert_eq!(runs, 3, "incomplete values are not kept");
        for i in 0..5 {
            memo.get_or_compute(&format!("big{i}"), || (0, true), |_| MAX_BYTES / 4);
        }
        let inner = memo.lock();
        assert!(inner.bytes <= MAX_BYTES);
        assert!(!inner.map.contains_key("a"), "the oldest went first");
        assert!(inner.map.contains_key("big4"));
    }
}
