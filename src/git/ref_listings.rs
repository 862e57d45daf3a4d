//! The kept answers of `ref_names`: a repository's branch or tag names under a prefix, with
//! the modification times of everything they were read from. Data only; `ref_names` reads them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::lru::Lru;

/// Listings kept, by the bytes of their names and folders.
const KEPT_BYTES: usize = 4 << 20;
/// Listings kept per (repository, prefix, cap).
pub(super) struct RefListings(pub Mutex<Lru<(PathBuf, String, usize), Arc<Listing>>>);

impl Default for RefListings {
    fn default() -> Self {
        Self(Mutex::new(Lru::new(KEPT_BYTES)))
    }
}

pub(super) struct Listing {
    pub names: Vec<String>,
    pub more: bool,
    /// Every folder read and `packed-refs`, with the modification time each had (None: absent).
    pub sources: Vec<(PathBuf, Option<SystemTime>)>,
}

impl Listing {
    pub(super) fn still_true(&self) -> bool {
        self.sources
            .iter()
            .all(|(path, seen)| modified(path) == *seen)
    }

    pub(super) fn weight(&self) -> usize {
        let names: usize = self.names.iter().map(|n| n.len() + 24).sum();
        let sources: usize = self
            .sources
            .iter()
            .map(|(p, _)| p.as_os_str().len() + 40)
            .sum();
        names + sources + 64
    }
}

pub(super) fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
