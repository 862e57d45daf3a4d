//! A repository folder's size on disk, for the site admin's repository list. The walk counts
//! at most `MAX_ENTRIES` files and folders (a repository of loose objects can hold millions),
//! never follows a symbolic link, and says when it stopped early.

use std::path::PathBuf;

use super::RepoDir;

/// Entries one walk looks at, at most; past it the size is a lower bound.
pub const MAX_ENTRIES: usize = 100_000;

/// Bytes found, and whether the walk stopped at its cap (so the folder holds more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    pub bytes: u64,
    pub capped: bool,
}

impl RepoDir {
    pub fn disk_usage(&self) -> DiskUsage {
        usage_capped(self.path().to_owned(), MAX_ENTRIES)
    }
}

fn usage_capped(root: PathBuf, cap: usize) -> DiskUsage {
    let mut bytes = 0u64;
    let mut seen = 0usize;
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            if seen >= cap {
                return DiskUsage {
                    bytes,
                    capped: true,
                };
            }
            seen += 1;
            // `DirEntry::metadata` does not follow a symbolic link: a link counts as itself.
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                folders.push(entry.path());
            } else {
                bytes = bytes.saturating_add(meta.len());
            }
        }
    }
    DiskUsage {
        bytes,
        capped: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_files_in_nested_folders_and_stops_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("objects/ab")).unwrap();
        std::fs::write(dir.path().join("HEAD"), b"ref: refs/heads/main\n").unwrap();
        std::fs::write(dir.path().join("objects/ab/cd"), vec![0u8; 1000]).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        let all = usage_capped(dir.path().to_owned(), 100);
        assert!(!all.capped);
        let link = std::fs::symlink_metadata(dir.path().join("link"))
            .unwrap()
            .len();
        assert_eq!(
            all.bytes,
            21 + 1000 + link,
            "the link counts as itself, /etc not at all"
        );
        let cut = usage_capped(dir.path().to_owned(), 2);
        assert!(cut.capped, "five entries, a cap of two");
        assert!(cut.bytes < all.bytes);
    }
}
