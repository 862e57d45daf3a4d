//! What an archive of a commit would hold, counted before `git archive` (or `upload-archive`)
//! starts. git's own archive walk has no cap: a 48-byte "tree bomb" (a folder of ten copies of
//! a folder of ten copies, ten levels deep) names 10^10 paths, and `git archive` of it ran at a
//! full core with RSS past 1.5 GB for the whole git timeout. So the walk here expands the tree
//! exactly as an archive would (a folder that appears twice is counted twice) and stops at the
//! first cap it reaches: entries, blob bytes, or time. Only a tree within every cap is handed to
//! git, and git still runs under `ArchiveLimits::deadline` and the runner's memory cap.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gix::ObjectId;

use super::GitError;
use super::reader::Reader;

/// What one archive may cost.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// Files, folders, links and submodules, counted with repetition (as the archive lists them).
    pub max_entries: usize,
    /// Blob bytes (uncompressed), counted with repetition.
    pub max_bytes: u64,
    /// The counting walk itself.
    pub walk_time: Duration,
    /// The `git archive` process, download included: minutes, not the git timeout's hour.
    pub deadline: Duration,
}

impl ArchiveLimits {
    pub const DEFAULT: ArchiveLimits = ArchiveLimits {
        max_entries: 300_000,
        max_bytes: 1 << 30,
        walk_time: Duration::from_secs(10),
        deadline: super::runner::ARCHIVE_DEADLINE,
    };
}

/// Why an archive is refused; the text is shown to the client (web page, `git archive` NACK).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveRefusal {
    #[error(
        "this commit has more than {0} files and folders, too many for an archive here; clone the repository instead"
    )]
    TooManyEntries(usize),
    #[error(
        "this commit holds more than {} MiB, too much for an archive here; clone the repository instead",
        .0 >> 20
    )]
    TooLarge(u64),
    #[error(
        "this commit's tree could not be counted within {} s; clone the repository instead",
        .0.as_secs()
    )]
    TooSlow(Duration),
    #[error("{0}: not a branch, tag or commit of this repository")]
    UnknownRevision(String),
}

/// What a counted archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveSize {
    pub entries: usize,
    pub bytes: u64,
}

impl ArchiveSize {
    /// Saturating: a folder's totals can exceed any integer once it repeats enough.
    fn add(&mut self, other: ArchiveSize) {
        self.entries = self.entries.saturating_add(other.entries);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Folder,
    Blob,
    Other,
}

/// A folder being counted: its entries, the next to count, and what they hold so far.
struct Frame {
    id: ObjectId,
    entries: Vec<(Kind, ObjectId)>,
    next: usize,
    size: ArchiveSize,
}

/// The running total of the whole archive against the limits.
struct Counter {
    limits: ArchiveLimits,
    total: ArchiveSize,
}

impl Counter {
    fn add(&mut self, size: ArchiveSize) -> Result<(), ArchiveRefusal> {
        self.total.add(size);
        if self.total.entries > self.limits.max_entries {
            return Err(ArchiveRefusal::TooManyEntries(self.limits.max_entries));
        }
        if self.total.bytes > self.limits.max_bytes {
            return Err(ArchiveRefusal::TooLarge(self.limits.max_bytes));
        }
        Ok(())
    }
}

impl Reader {
    /// Counts the archive of `commit` (a full id, or a branch, tag or `HEAD`), refusing it past
    /// any of `limits`. A folder's totals are computed once per tree id and reused wherever
    /// that folder appears again, so a bomb's ten distinct trees cost ten reads, not 10^10:
    /// the count is exact (with repetition) and its work is bounded by the distinct objects.
    /// Iterative (a deep tree cannot exhaust the stack).
    pub fn archive_size(
        &self,
        commit: &str,
        limits: ArchiveLimits,
    ) -> Result<Result<ArchiveSize, ArchiveRefusal>, GitError> {
        let Some(root) = self.archive_tree(commit)? else {
            return Ok(Err(ArchiveRefusal::UnknownRevision(commit.to_owned())));
        };
        let deadline = Instant::now() + limits.walk_time;
        let mut counter = Counter {
            limits,
            total: ArchiveSize::default(),
        };
        let mut folders: HashMap<ObjectId, ArchiveSize> = HashMap::new();
        let mut blobs: HashMap<ObjectId, u64> = HashMap::new();
        let mut stack = vec![self.frame(root)?];
        while let Some(top) = stack.last_mut() {
            let Some((kind, id)) = top.entries.get(top.next).copied() else {
                let done = stack.pop().expect("the loop holds a frame");
                folders.insert(done.id, done.size);
                if let Some(parent) = stack.last_mut() {
                    parent.size.add(done.size);
                }
                continue;
            };
            top.next += 1;
            let mut size = ArchiveSize {
                entries: 1,
                bytes: 0,
            };
            match kind {
                Kind::Folder => match folders.get(&id) {
                    Some(known) => size.add(*known),
                    None => {
                        // Counted when its frame ends; only its own entry now.
                        top.size.add(size);
                        if let Err(refusal) = counter.add(size) {
                            return Ok(Err(refusal));
                        }
                        if Instant::now() >= deadline {
                            return Ok(Err(ArchiveRefusal::TooSlow(limits.walk_time)));
                        }
                        stack.push(self.frame(id)?);
                        continue;
                    }
                },
                Kind::Blob => {
                    size.bytes = match blobs.get(&id) {
                        Some(b) => *b,
                        None => {
                            let b = self
                                .repository()
                                .find_header(id)
                                .map_err(GitError::gix)?
                                .size();
                            blobs.insert(id, b);
                            b
                        }
                    }
                }
                Kind::Other => {}
            }
            top.size.add(size);
            if let Err(refusal) = counter.add(size) {
                return Ok(Err(refusal));
            }
        }
        Ok(Ok(counter.total))
    }

    /// A folder's entries, read once.
    fn frame(&self, id: ObjectId) -> Result<Frame, GitError> {
        let tree = self.repository().find_tree(id).map_err(GitError::gix)?;
        let mut entries = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(GitError::gix)?;
            let mode = entry.mode();
            let kind = if mode.is_tree() {
                Kind::Folder
            } else if mode.is_blob() || mode.is_link() {
                Kind::Blob
            } else {
                // A submodule: its commit is not here; git writes an empty folder.
                Kind::Other
            };
            entries.push((kind, entry.object_id()));
        }
        Ok(Frame {
            id,
            entries,
            next: 0,
            size: ArchiveSize::default(),
        })
    }

    /// The root tree of what `name` names: a full commit id, `HEAD`, or a branch or tag (as
    /// `upload-archive` accepts it: with `uploadArchive.allowUnreachable` off, git takes
    /// nothing but ref names). Only plain ref-name characters are looked up, so no `~`, `^`
    /// or `@{...}` expression ever makes gix walk history here.
    fn archive_tree(&self, name: &str) -> Result<Option<ObjectId>, GitError> {
        let plain = !name.is_empty()
            && name.len() <= 256
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._/-+".contains(&b));
        if !plain {
            return Ok(None);
        }
        let Ok(found) = self.repository().rev_parse_single(name) else {
            return Ok(None);
        };
        match found.object().map_err(GitError::gix)?.peel_to_tree() {
            Ok(tree) => Ok(Some(tree.id)),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testing::git;

    /// Builds a tree bomb of `levels` levels of `width` copies of the level below (one blob
    /// at the bottom) with plumbing, and commits it on `main`.
    fn bomb(dir: &std::path::Path, width: usize, levels: usize) {
        git(dir, &["init", "-q", "--bare", "-b", "main", "r.git"]);
        let repo = dir.join("r.git");
        let hash = std::process::Command::new("git")
            .args(["hash-object", "-w", "--stdin"])
            .current_dir(&repo)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut hash.stdin.as_ref().unwrap(), b"x\n").unwrap();
        let out = hash.wait_with_output().unwrap();
        let mut id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let mut mode = "100644 blob";
        for _ in 0..levels {
            let listing: String = (0..width).map(|i| format!("{mode} {id}\t{i}\n")).collect();
            let mut mk = std::process::Command::new("git")
                .arg("mktree")
                .current_dir(&repo)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut mk.stdin.take().unwrap(), listing.as_bytes()).unwrap();
            id = String::from_utf8(mk.wait_with_output().unwrap().stdout)
                .unwrap()
                .trim()
                .to_owned();
            mode = "040000 tree";
        }
        let commit = git(&repo, &["commit-tree", "-m", "bomb", &id]);
        git(&repo, &["update-ref", "refs/heads/main", &commit]);
    }

    fn reader(dir: &std::path::Path) -> Reader {
        let cache = std::sync::Arc::new(crate::git::read::ReadCache::default());
        cache.open(&crate::git::RepoDir(dir.join("r.git"))).unwrap()
    }

    #[test]
    fn a_tree_bomb_is_refused_at_the_entry_cap_and_a_small_tree_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        bomb(dir.path(), 10, 10);
        let r = reader(dir.path());
        let started = Instant::now();
        let refused = r.archive_size("main", ArchiveLimits::DEFAULT).unwrap();
        assert_eq!(refused, Err(ArchiveRefusal::TooManyEntries(300_000)));
        assert!(started.elapsed() < Duration::from_secs(5));
        // Two levels of three: 3 folders + 9 files of 2 bytes each, counted with repetition.
        let dir = tempfile::tempdir().unwrap();
        bomb(dir.path(), 3, 2);
        let r = reader(dir.path());
        let size = r.archive_size("HEAD", ArchiveLimits::DEFAULT).unwrap();
        assert_eq!(
            size,
            Ok(ArchiveSize {
                entries: 12,
                bytes: 18
            })
        );
        // Repetition is counted exactly from each folder's totals: 10 + 100 + 1,000 entries.
        let dir3 = tempfile::tempdir().unwrap();
        bomb(dir3.path(), 10, 3);
        assert_eq!(
            reader(dir3.path())
                .archive_size("main", ArchiveLimits::DEFAULT)
                .unwrap(),
            Ok(ArchiveSize {
                entries: 1_110,
                bytes: 2_000
            })
        );
        // Each cap holds at its value, and time is a cap too.
        let tight = |max_entries, max_bytes, walk_time| ArchiveLimits {
            max_entries,
            max_bytes,
            walk_time,
            ..ArchiveLimits::DEFAULT
        };
        let long = Duration::from_secs(60);
        assert!(r.archive_size("main", tight(12, 18, long)).unwrap().is_ok());
        assert_eq!(
            r.archive_size("main", tight(11, 18, long)).unwrap(),
            Err(ArchiveRefusal::TooManyEntries(11))
        );
        assert_eq!(
            r.archive_size("main", tight(12, 17, long)).unwrap(),
            Err(ArchiveRefusal::TooLarge(17))
        );
        assert_eq!(
            r.archive_size("main", tight(12, 18, Duration::ZERO))
                .unwrap(),
            Err(ArchiveRefusal::TooSlow(Duration::ZERO))
        );
        // Only plain names are looked up: no history expressions, no options.
        for name in ["main~1", "main^{tree}", "@{-1}", "--output=x", "nope", ""] {
            assert_eq!(
                r.archive_size(name, ArchiveLimits::DEFAULT).unwrap(),
                Err(ArchiveRefusal::UnknownRevision(name.to_owned())),
                "{name}"
            );
        }
    }
}
