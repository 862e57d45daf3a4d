//! A least-recently-used map bounded by the bytes its values hold (as the caller weighs them),
//! so every in-memory cache of the history pages has a size the operator sets.

use std::hash::Hash;

use hashlink::LinkedHashMap;

/// Kept in use order, oldest first: a hit moves one link (a tree page looks up every entry's
/// commit, ~300 hits a page; an ordered map re-keyed per hit cost 9% of the page's CPU).
pub(super) struct Lru<K, V> {
    map: LinkedHashMap<K, (V, usize)>,
    bytes: usize,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Lru<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: LinkedHashMap::new(),
            bytes: 0,
            capacity,
        }
    }

    pub fn get(&mut self, key: &K) -> Option<V> {
        self.map.to_back(key).map(|(value, _)| value.clone())
    }

    /// Keeps `value`, dropping the least recently used entries to make room; a value larger
    /// than the whole capacity is not kept.
    pub fn insert(&mut self, key: K, value: V, weight: usize) {
        self.remove(&key);
        if weight > self.capacity {
            return;
        }
        while self.bytes + weight > self.capacity {
            let Some((_, (_, w))) = self.map.pop_front() else {
                break;
            };
            self.bytes -= w;
        }
        self.map.insert(key, (value, weight));
        self.bytes += weight;
    }

    pub fn remove(&mut self, key: &K) {
        if let Some((_, w)) = self.map.remove(key) {
            self.bytes -= w;
        }
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_within_its_bytes_dropping_the_least_recently_used() {
        let mut lru = Lru::new(100);
        lru.insert("a", 1, 40);
        lru.insert("b", 2, 40);
        assert_eq!(lru.get(&"a"), Some(1)); // a is now newer than b
        lru.insert("c", 3, 40);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(1));
        assert_eq!(lru.get(&"c"), Some(3));
        assert!(lru.bytes() <= 100);
        lru.insert("huge", 4, 101);
        assert_eq!(lru.get(&"huge"), None);
        lru.insert("a", 5, 10);
        assert_eq!(lru.get(&"a"), Some(5));
        assert_eq!(lru.bytes(), 50);
    }
}
