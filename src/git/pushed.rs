//! Reading a push before git accepts it. receive-pack keeps the pushed objects in a quarantine
//! folder inside the repository's `objects/` until pre-receive agrees; checks read them from
//! there without writing anything into the repository: a scratch object folder outside it names
//! the quarantine and the repository's own objects as its alternates, and gix reads through it.
//!
//! `materialise` writes a commit's tree into a fresh folder, with caps on the number of entries,
//! the bytes and the depth: a 48-byte tree that names one subtree ten times, ten levels deep,
//! would otherwise expand to 10^10 files.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::diff::WalkLimits;
use super::read::ReadCache;
use super::reader::Reader;
use super::runner::GitRunner;
use super::{GitError, RepoDir};
use crate::model::{RefUpdate, is_object_id};

/// Tree entries and time the changed-paths walk of one ref update may take; past either the
/// list is cut, and the update counts as touching every path.
const CHANGED_WALK_ENTRIES: usize = 1_000_000;
const CHANGED_WALK_TIME: Duration = Duration::from_secs(10);

impl RepoDir {
    /// `quarantine` (from `GIT_QUARANTINE_PATH`, so from a hook's environment) if it is this
    /// repository's: a folder receive-pack made directly inside its `objects/`.
    pub fn quarantine(&self, quarantine: &Path) -> Result<PathBuf, GitError> {
        let objects = self.path().join("objects");
        let inside = quarantine.parent() == Some(objects.as_path())
            && quarantine
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| {
                    n.starts_with("tmp_objdir-incoming-") || n.starts_with("incoming-")
                });
        if inside && quarantine.is_dir() {
            Ok(quarantine.to_path_buf())
        } else {
            Err(GitError::BadPath(format!(
                "quarantine folder {} is not the repository's",
                quarantine.display()
            )))
        }
    }
}

impl ReadCache {
    /// A reader that sees the pushed objects in `quarantine` as well as the repository's own.
    /// `scratch` is an empty folder of the caller's, outside the repository, kept while the
    /// reader is used.
    pub fn open_push(
        self: &Arc<Self>,
        dir: &RepoDir,
        quarantine: Option<&Path>,
        scratch: &Path,
    ) -> Result<Reader, GitError> {
        let mut reader = self.open(dir)?;
        let Some(quarantine) = quarantine else {
            return Ok(reader); // nothing new was sent (a deletion, or objects it already has)
        };
        let quarantine = dir.quarantine(quarantine)?;
        let objects = scratch.join("objects");
        std::fs::create_dir_all(objects.join("info"))?;
        std::fs::write(
            objects.join("info/alternates"),
            format!(
                "{}\n{}\n",
                quarantine.display(),
                dir.path().join("objects").display()
            ),
        )?;
        let store = gix::odb::at(&objects, gix::hash::Kind::Sha1).map_err(GitError::gix)?;
        reader.repo.objects = gix::OdbHandle::new(store, gix::hash::Kind::Sha1);
        reader.repo.object_cache_size_if_unset(4 << 20);
        Ok(reader)
    }
}

/// What a materialised tree may hold at most.
#[derive(Debug, Clone, Copy)]
pub struct TreeLimits {
    /// Files, folders and links together.
    pub max_entries: usize,
    pub max_bytes: u64,
    pub max_depth: usize,
}

impl TreeLimits {
    pub const CHECKS: TreeLimits = TreeLimits {
        max_entries: 100_000,
        max_bytes: 1 << 30,
        max_depth: 64,
    };
}

/// Why a tree was not (wholly) written.
#[derive(Debug, thiserror::Error)]
pub enum MaterialiseError {
    #[error("the pushed tree has more than {0} files and folders")]
    TooManyEntries(usize),
    #[error("the pushed tree holds more than {} MiB", .0 >> 20)]
    TooLarge(u64),
    #[error("the pushed tree is nested more than {0} folders deep")]
    TooDeep(usize),
    #[error("the pushed tree has an entry named {0:?}, which cannot be written")]
    BadName(String),
    /// The caller's byte budget said no (its words).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("writing the pushed tree: {0}")]
    Io(#[from] std::io::Error),
}

/// Blobs at least this big are copied by `git cat-file` in chunks rather than read whole by gix.
const STREAM_FROM: u64 = 1 << 20;

/// Longest symbolic link target written (Linux's PATH_MAX).
const MAX_LINK: u64 = 4096;

/// Where large blobs are streamed from: git, reading the push's quarantine before the
/// repository's own objects.
pub struct BlobSource<'a> {
    pub runner: &'a GitRunner,
    pub dir: &'a RepoDir,
    pub quarantine: Option<&'a Path>,
}

/// `name` if it can be written as one entry of a folder: not empty, `.`, `..`, and without `/`
/// or NUL.
fn plain_name(name: &[u8]) -> Result<&[u8], MaterialiseError> {
    let plain = !name.is_empty()
        && name != b"."
        && name != b".."
        && !name.contains(&b'/')
        && !name.contains(&0);
    if plain {
        Ok(name)
    } else {
        Err(MaterialiseError::BadName(name.to_str_lossy().into_owned()))
    }
}

/// How much was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct TreeStats {
    pub files: usize,
    pub bytes: u64,
}

impl Reader {
    /// Writes the tree `commit` (a commit, or a tag of one) points at into `dest`, which must not
    /// exist yet: regular files (0644, or 0755 when git marks them executable), symbolic links
    /// as links, submodules as empty folders. Nothing is written outside `dest`: every folder
    /// is one made here and every file is created new, so no link is ever followed.
    /// The tree is measured first (`measure`), so a tree over the limits is refused before
    /// anything is written, and `charge` is asked once, with every byte the files will take,
    /// and may refuse. Blobs of `STREAM_FROM` bytes or more are streamed from `big`, never
    /// held whole.
    pub fn materialise(
        &self,
        commit: &str,
        dest: &Path,
        limits: TreeLimits,
        big: &BlobSource<'_>,
        charge: &mut dyn FnMut(u64) -> Result<(), String>,
    ) -> Result<TreeStats, MaterialiseError> {
        let tree = self.tree_of(commit)?;
        let planned = self.measure(tree, limits)?;
        charge(planned.bytes).map_err(MaterialiseError::Refused)?;
        std::fs::create_dir(dest)?;
        let mut stats = TreeStats::default();
        let mut entries = 0usize;
        let mut stack: Vec<(ObjectId, PathBuf, usize)> = vec![(tree, dest.to_path_buf(), 0)];
        while let Some((id, folder, depth)) = stack.pop() {
            if depth > limits.max_depth {
                return Err(MaterialiseError::TooDeep(limits.max_depth));
            }
            let tree = self.repo.find_tree(id).map_err(GitError::gix)?;
            for entry in tree.iter() {
                let entry = entry.map_err(GitError::gix)?;
                entries += 1;
                if entries > limits.max_entries {
                    return Err(MaterialiseError::TooManyEntries(limits.max_entries));
                }
                let path = folder.join(OsStr::from_bytes(plain_name(entry.filename())?));
                let mode = entry.mode();
                if mode.is_tree() {
                    std::fs::create_dir(&path)?;
                    stack.push((entry.object_id(), path, depth + 1));
                } else if mode.is_commit() {
                    std::fs::create_dir(&path)?; // a submodule: its commit is not here
                } else {
                    let id = entry.object_id();
                    let size = self.repo.find_header(id).map_err(GitError::gix)?.size();
                    stats.bytes += size;
                    if stats.bytes > planned.bytes.min(limits.max_bytes) {
                        return Err(MaterialiseError::TooLarge(limits.max_bytes));
                    }
                    if mode.is_link() {
                        if size > MAX_LINK {
                            return Err(MaterialiseError::BadName(path.display().to_string()));
                        }
                        let blob = self.repo.find_blob(id).map_err(GitError::gix)?;
                        symlink(OsStr::from_bytes(&blob.data), &path)?;
                    } else {
                        let executable = mode.is_executable();
                        let mut file = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .mode(if executable { 0o755 } else { 0o644 })
                            .open(&path)?;
                        if size >= STREAM_FROM {
                            big.runner
                                .cat_blob_into(
                                    big.dir,
                                    big.quarantine,
                                    &id.to_string(),
                                    &mut file,
                                    size,
                                )
                                .map_err(|e| GitError::Gix(format!("{e:#}")))?;
                        } else {
                            let blob = self.repo.find_blob(id).map_err(GitError::gix)?;
                            file.write_all(&blob.data)?;
                        }
                    }
                    stats.files += 1;
                }
            }
        }
        Ok(stats)
    }

    /// What writing `tree` would take, without writing: its files and bytes, or the first limit
    /// it passes (entries, depth, bytes) or a name that cannot be written. Reads tree objects
    /// and blob headers only.
    pub fn measure(
        &self,
        tree: ObjectId,
        limits: TreeLimits,
    ) -> Result<TreeStats, MaterialiseError> {
        let mut stats = TreeStats::default();
        let mut entries = 0usize;
        let mut stack: Vec<(ObjectId, usize)> = vec![(tree, 0)];
        while let Some((id, depth)) = stack.pop() {
            if depth > limits.max_depth {
                return Err(MaterialiseError::TooDeep(limits.max_depth));
            }
            let tree = self.repo.find_tree(id).map_err(GitError::gix)?;
            for entry in tree.iter() {
                let entry = entry.map_err(GitError::gix)?;
                entries += 1;
                if entries > limits.max_entries {
                    return Err(MaterialiseError::TooManyEntries(limits.max_entries));
                }
                let name = plain_name(entry.filename())?;
                let mode = entry.mode();
                if mode.is_tree() {
                    stack.push((entry.object_id(), depth + 1));
                } else if !mode.is_commit() {
                    let size = self
                        .repo
                        .find_header(entry.object_id())
                        .map_err(GitError::gix)?
                        .size();
                    if mode.is_link() && size > MAX_LINK {
                        return Err(MaterialiseError::BadName(name.to_str_lossy().into_owned()));
                    }
                    stats.bytes += size;
                    stats.files += 1;
                    if stats.bytes > limits.max_bytes {
                        return Err(MaterialiseError::TooLarge(limits.max_bytes));
                    }
                }
            }
        }
        Ok(stats)
    }

    /// The paths that differ between the update's old and new trees (all of the new one for a
    /// created ref, none for a deletion), sorted, at most `limit`, and whether the list is cut:
    /// there were more, or the walk read `CHANGED_WALK_ENTRIES` tree entries or ran past
    /// `CHANGED_WALK_TIME` first (a caller then assumes any path may have changed).
    pub fn changed_in_update(
        &self,
        update: &RefUpdate,
        base: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), GitError> {
        if update.is_delete() {
            return Ok((Vec::new(), false));
        }
        let old = match (update.is_create(), base) {
            (false, _) => Some(self.tree_of(&update.old)?),
            (true, Some(base)) => Some(self.tree_of(base)?),
            (true, None) => None,
        };
        let new = self.tree_of(&update.new)?;
        let limits = WalkLimits {
            max_paths: limit,
            max_entries: CHANGED_WALK_ENTRIES,
        };
        let changes = self.changed_between(old, new, limits, Instant::now() + CHANGED_WALK_TIME)?;
        let paths = changes.files.into_iter().map(|(path, _, _)| path).collect();
        Ok((paths, changes.cut))
    }

    /// The tree a commit (or a tag of one, or a tree) names.
    fn tree_of(&self, id: &str) -> Result<ObjectId, GitError> {
        if !is_object_id(id) {
            return Err(GitError::Gix(format!("not an object id: {id}")));
        }
        let oid = ObjectId::from_hex(id.as_bytes()).map_err(GitError::gix)?;
        let tree = self
            .repo
            .find_object(oid)
            .map_err(GitError::gix)?
            .peel_to_tree()
            .map_err(GitError::gix)?;
        Ok(tree.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ZERO_ID;

    use crate::git::testing::git;

    #[test]
    fn changed_paths_are_sorted_and_cut_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        git(p, &["init", "-q", "-b", "main"]);
        std::fs::write(p.join("a"), "1\n").unwrap();
        std::fs::write(p.join("b"), "1\n").unwrap();
        git(p, &["add", "."]);
        git(p, &["commit", "-q", "-m", "one"]);
        let one = git(p, &["rev-parse", "HEAD"]);
        std::fs::write(p.join("a"), "2\n").unwrap();
        std::fs::create_dir_all(p.join("zones/lab")).unwrap();
        std::fs::write(p.join("zones/lab/x.zone"), "x\n").unwrap();
        std::fs::write(p.join("c"), "1\n").unwrap();
        git(p, &["add", "."]);
        git(p, &["commit", "-q", "-m", "two"]);
        let two = git(p, &["rev-parse", "HEAD"]);
        let reader = Arc::<ReadCache>::default()
            .open(&RepoDir(p.join(".git")))
            .unwrap();
        let update = |old: &str| RefUpdate {
            name: "refs/heads/main".into(),
            old: old.into(),
            new: two.clone(),
        };
        let all = reader.changed_in_update(&update(&one), None, 10).unwrap();
        assert_eq!(
            all,
            (
                vec!["a".into(), "c".into(), "zones/lab/x.zone".into()],
                false
            )
        );
        // At the cap the list is cut, and says so: the caller then runs every check.
        let (paths, cut) = reader.changed_in_update(&update(&one), None, 2).unwrap();
        assert_eq!(paths.len(), 2);
        assert!(cut);
        // A new branch with no base: every file of the new tree.
        let created = reader
            .changed_in_update(&update(ZERO_ID), None, 10)
            .unwrap();
        assert_eq!(created.0, ["a", "b", "c", "zones/lab/x.zone"]);
        // Compared with a base (the default branch), only what it adds.
        let based = reader
            .changed_in_update(&update(ZERO_ID), Some(&one), 10)
            .unwrap();
        assert_eq!(based.0, ["a", "c", "zones/lab/x.zone"]);
    }
}
