//! What the API's Repository object says of the folder: whether any branch exists (Gitea's
//! `empty`) and its size on disk in KiB (Gitea's `size`). Blocking: call from `spawn_blocking`.

use std::path::Path;

use super::{GitError, RepoDir};

/// Files counted toward the size at most: a repository with more loose objects than this is
/// reported at the size of the files counted (the object store is packed by upkeep anyway).
pub const MAX_SIZE_FILES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoFacts {
    pub empty: bool,
    pub size_kib: u64,
}

/// The facts of the bare repository at `dir`.
pub fn repo_facts(dir: &RepoDir) -> Result<RepoFacts, GitError> {
    let repo = gix::open(dir.path()).map_err(GitError::gix)?;
    let platform = repo.references().map_err(GitError::gix)?;
    let empty = platform
        .prefixed("refs/heads/")
        .map_err(GitError::gix)?
        .next()
        .is_none();
    let bytes = folder_size(&dir.path().join("objects"), MAX_SIZE_FILES);
    Ok(RepoFacts {
        empty,
        size_kib: bytes / 1024,
    })
}

/// The bytes of the files under `root`, counting at most `cap` files; symlinks are not followed.
fn folder_size(root: &Path, cap: usize) -> u64 {
    let mut total = 0u64;
    let mut seen = 0usize;
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            if seen >= cap {
                return total;
            }
            seen += 1;
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                folders.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_counts_files_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pack")).unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join("pack").join(format!("f{i}")), [0u8; 1000]).unwrap();
        }
        assert_eq!(folder_size(dir.path(), 100), 5000);
        // The folder counts as one entry, then three files.
        assert_eq!(folder_size(dir.path(), 4), 3000);
    }
}
