//! The names of a repository's branches or tags, for the branch/tag switcher on every tree,
//! blob, log and blame page. Names only: gix's reference iteration opens and parses every loose
//! ref file to yield its target, which on `medium` (300 loose tags) was half of a blob page's
//! time. A loose ref's name is its path under `refs/`, so a directory listing gives every loose
//! name, and the packed names come from the `packed-refs` buffer gix already keeps.
//!
//! The listing is kept and reused while nothing it was read from changed: adding or removing a
//! ref (git writes a lock file and renames it) changes its folder's modification time, and
//! rewriting `packed-refs` changes that file's. A folder changed within `RACY` of the listing is
//! not trusted (a second change in the same clock tick would leave the time as it was), as git
//! does for its index: such a listing is used once and not kept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gix::bstr::ByteSlice;

use super::GitError;
use super::reader::Reader;
use super::ref_listings::{Listing, modified};

/// Directory entries and packed names read under one prefix at most; past it the list is
/// marked cut (a hostile push of a million tags costs a bounded listing per change, not a
/// million file reads per page).
pub const MAX_SCANNED: usize = 20_000;
/// Folder depth followed under the prefix (`feature/a/b/…`).
const MAX_DEPTH: usize = 16;
/// A folder or `packed-refs` changed this recently may change again unseen within one tick of
/// the file system's clock.
const RACY: Duration = Duration::from_secs(2);

impl Reader {
    /// The first `cap` names under `prefix` (`refs/heads/` or `refs/tags/`), sorted as git sorts
    /// refs, without the prefix, and whether there are more (or more than `MAX_SCANNED` entries
    /// were seen, then the first `cap` of those seen).
    pub fn ref_names(&self, prefix: &str, cap: usize) -> Result<(Vec<String>, bool), GitError> {
        let common = self.repository().common_dir().to_path_buf();
        let key = (common, prefix.to_owned(), cap);
        let listings = &self.cache.ref_listings().0;
        if let Some(kept) = listings.lock().expect("never poisoned").get(&key)
            && kept.still_true()
        {
            return Ok((kept.names.clone(), kept.more));
        }
        let (listing, trusted) = self.list(&key.0, prefix, cap)?;
        let answer = (listing.names.clone(), listing.more);
        let mut kept = listings.lock().expect("never poisoned");
        if trusted {
            let weight = listing.weight();
            kept.insert(key, Arc::new(listing), weight);
        } else {
            kept.remove(&key);
        }
        Ok(answer)
    }

    /// Reads the names afresh; the bool says whether nothing read had changed within `RACY`.
    fn list(&self, common: &Path, prefix: &str, cap: usize) -> Result<(Listing, bool), GitError> {
        let now = SystemTime::now();
        let mut names = Names {
            kept: BTreeSet::new(),
            cap,
            more: false,
            scanned: 0,
            sources: Vec::new(),
        };
        // The time is taken before the read: a change after it shows as a later time.
        let packed_path = common.join("packed-refs");
        names
            .sources
            .push((packed_path.clone(), modified(&packed_path)));
        loose(&common.join(prefix), "", 0, &mut names);
        if let Some(packed) = self
            .repository()
            .refs
            .cached_packed_buffer()
            .map_err(GitError::gix)?
        {
            for r in packed
                .iter_prefixed(prefix.into())
                .map_err(GitError::gix)?
                .flatten()
            {
                if names.scanned >= MAX_SCANNED {
                    names.more = true;
                    break;
                }
                names.scanned += 1;
                let full = r.name.as_bstr().to_str_lossy();
                names.add(full.strip_prefix(prefix).unwrap_or(&full));
            }
        }
        let trusted = names.sources.iter().all(|(_, seen)| match seen {
            Some(t) => now.duration_since(*t).is_ok_and(|age| age >= RACY),
            None => true,
        });
        let listing = Listing {
            names: names.kept.into_iter().collect(),
            more: names.more,
            sources: names.sources,
        };
        Ok((listing, trusted))
    }
}

/// The smallest `cap` names seen so far (a ref can be both loose and packed: one entry).
struct Names {
    kept: BTreeSet<String>,
    cap: usize,
    more: bool,
    scanned: usize,
    sources: Vec<(PathBuf, Option<SystemTime>)>,
}

impl Names {
    fn add(&mut self, name: &str) {
        if self.kept.len() == self.cap && self.kept.last().is_some_and(|last| name >= last.as_str())
        {
            // Not among the first `cap` (or already there): nothing to allocate.
            self.more |= !self.kept.contains(name);
            return;
        }
        self.kept.insert(name.to_owned());
        if self.kept.len() > self.cap {
            self.kept.pop_last();
            self.more = true;
        }
    }
}

/// Adds the loose ref names in `dir` (`under` is its path below the prefix, `""` or `a/b/`).
/// Lock files, names git would refuse and anything unreadable are skipped: a broken entry
/// costs a menu line, never the page.
fn loose(dir: &Path, under: &str, depth: usize, names: &mut Names) {
    names.sources.push((dir.to_path_buf(), modified(dir)));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut name = String::with_capacity(under.len() + 64);
    for entry in entries.flatten() {
        if names.scanned >= MAX_SCANNED {
            names.more = true;
            return;
        }
        names.scanned += 1;
        let Ok(file_name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        name.clear();
        name.push_str(under);
        name.push_str(&file_name);
        if kind.is_dir() {
            if depth < MAX_DEPTH {
                name.push('/');
                loose(&entry.path(), &name, depth + 1, names);
            }
        } else if kind.is_file()
            && !file_name.ends_with(".lock")
            && gix::validate::reference::name_partial(name.as_bytes().as_bstr()).is_ok()
        {
            names.add(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::git;
    use super::*;

    fn reader(dir: &Path) -> Reader {
        let cache = Arc::new(super::super::read::ReadCache::default());
        cache
            .open(&super::super::RepoDir(dir.to_path_buf()))
            .unwrap()
    }

    /// A bare repository `r.git` and a work repository `w` with one commit on `main`.
    fn bare_and_work() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        git(tmp.path(), &["init", "-q", "--bare", "r.git"]);
        git(tmp.path(), &["init", "-q", "-b", "main", "w"]);
        let (repo, work) = (tmp.path().join("r.git"), tmp.path().join("w"));
        git(&work, &["commit", "-q", "--allow-empty", "-m", "one"]);
        (tmp, repo, work)
    }

    /// Loose and packed refs, nested names, a stale lock file and a ref in both places list
    /// exactly as `git for-each-ref` sorts them, and the cap cuts the list at the smallest names.
    #[test]
    fn names_match_git_for_each_ref_loose_and_packed() {
        let (_tmp, repo, work) = bare_and_work();
        for b in ["zeta", "feature/a", "feature/deep/b", "alpha", "v1"] {
            git(&work, &["branch", b]);
        }
        git(&work, &["tag", "v1"]);
        git(&work, &["push", "-q", repo.to_str().unwrap(), "--all"]);
        git(&work, &["push", "-q", repo.to_str().unwrap(), "--tags"]);
        git(&repo, &["pack-refs", "--all"]);
        // Loose after packing: a new branch, and one that is now both loose and packed.
        git(&work, &["branch", "loose-only"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", "two"]);
        git(
            &work,
            &["push", "-q", repo.to_str().unwrap(), "loose-only", "main"],
        );
        std::fs::write(repo.join("refs/heads/half-written.lock"), "x").unwrap();

        let expected: Vec<String> = git(
            &repo,
            &["for-each-ref", "--format=%(refname:strip=2)", "refs/heads/"],
        )
        .lines()
        .map(str::to_owned)
        .collect();
        assert_eq!(expected.len(), 7, "{expected:?}");
        let r = reader(&repo);
        assert_eq!(
            r.ref_names("refs/heads/", 100).unwrap(),
            (expected.clone(), false)
        );
        assert_eq!(
            r.ref_names("refs/tags/", 100).unwrap(),
            (vec!["v1".to_owned()], false)
        );
        assert_eq!(
            r.ref_names("refs/heads/", 3).unwrap(),
            (expected[..3].to_vec(), true)
        );
    }

    /// A kept listing is reused while the folders are unchanged, and a branch pushed or deleted
    /// later shows at once, even within the same second as the listing.
    #[test]
    fn a_kept_listing_follows_every_ref_change() {
        let (_tmp, repo, work) = bare_and_work();
        let url = repo.to_str().unwrap();
        git(&work, &["push", "-q", url, "main", "main:old"]);
        // Old enough to be kept: the folders' times set back past `RACY`.
        let past = SystemTime::now() - Duration::from_secs(60);
        for dir in [repo.join("refs/heads"), repo.join("refs/tags")] {
            std::fs::File::open(&dir)
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
        let cache = Arc::new(super::super::read::ReadCache::default());
        let open = || cache.open(&super::super::RepoDir(repo.clone())).unwrap();
        let names = |r: &Reader| r.ref_names("refs/heads/", 100).unwrap().0;
        assert_eq!(names(&open()), ["main", "old"]);
        let key = (repo.clone(), "refs/heads/".to_owned(), 100);
        assert!(
            cache.ref_listings.0.lock().unwrap().get(&key).is_some(),
            "kept"
        );

        git(&work, &["push", "-q", url, "main:new", ":old"]);
        assert_eq!(names(&open()), ["main", "new"]);
        git(&repo, &["pack-refs", "--all"]);
        git(&work, &["push", "-q", url, ":new"]);
        assert_eq!(names(&open()), ["main"]);
    }

    /// Past `MAX_SCANNED` directory entries the listing stops and says the list is cut.
    #[test]
    fn a_listing_stops_after_max_scanned_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("r.git");
        git(tmp.path(), &["init", "-q", "--bare", "r.git"]);
        let tags = repo.join("refs/tags");
        for i in 0..MAX_SCANNED + 5 {
            std::fs::write(tags.join(format!("t{i}")), "").unwrap();
        }
        let r = reader(&repo);
        let (names, cut) = r.ref_names("refs/tags/", MAX_SCANNED * 2).unwrap();
        assert!(cut);
        assert_eq!(names.len(), MAX_SCANNED);
    }
}
