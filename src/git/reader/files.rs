//! Whole files a page shows: a blob up to a limit, and the README at a tree's root.

use super::*;

impl Reader {
    /// A file's bytes, read whole when it is at most `limit` bytes (else only its size).
    pub fn read_blob(
        &self,
        commit: &CommitId,
        path: &TreePath,
        limit: u64,
    ) -> Result<Option<BlobView>, GitError> {
        let Some((false, id)) = self.find_entry(commit, path)? else {
            return Ok(None);
        };
        let size = self.repo.find_header(id).map_err(GitError::gix)?.size();
        let data = if size > limit {
            None
        } else {
            let mut blob = self.repo.find_blob(id).map_err(GitError::gix)?;
            Some(std::mem::take(&mut blob.data))
        };
        let Some(data) = data else {
            return Ok(Some(BlobView {
                id: id.to_hex().to_string(),
                data: Vec::new(),
                size,
                is_binary: true,
            }));
        };
        let is_binary = is_binary(&data);
        Ok(Some(BlobView {
            id: id.to_hex().to_string(),
            data,
            size,
            is_binary,
        }))
    }

    /// The README at the root of the commit's tree, if any: (file name, text).
    pub fn readme(&self, commit: &CommitId) -> Result<Option<(String, String)>, GitError> {
        let Some((true, root)) = self.find_entry(commit, &TreePath::default())? else {
            return Ok(None);
        };
        let entries = self.entries(root)?;
        let pick = [
            "README.md",
            "readme.md",
            "README.markdown",
            "README",
            "README.txt",
        ]
        .iter()
        .find_map(|want| {
            entries
                .iter()
                .find(|(n, k, _)| n == want && *k == EntryKind::File)
        });
        let Some((name, _, id)) = pick else {
            return Ok(None);
        };
        // A README larger than this is not rendered on the summary (it is one click away).
        let Some(data) = self.blob_bytes(*id, 512 * 1024)? else {
            return Ok(None);
        };
        Ok(Some((
            name.clone(),
            String::from_utf8_lossy(&data).into_owned(),
        )))
    }
}

/// What an edit finds at one step of its path (see `Reader::entries_along`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathEntry {
    pub kind: EntryKind,
    /// The object's full id (a blob's is what Gitea's API calls the file's `sha`).
    pub id: String,
    pub executable: bool,
}

impl Reader {
    /// The entries at each prefix of `path` in `commit`'s tree (`a`, `a/b`, `a/b/c`), up to
    /// the first that does not exist: an edit must know whether a folder on its way is a
    /// symlink or a file before it writes under it. `path` has at most `MAX_EDIT_DEPTH`
    /// segments (it was parsed as an `EditPath`), so this is a bounded number of lookups.
    pub fn entries_along(
        &self,
        commit: &CommitId,
        path: &crate::model::EditPath,
    ) -> Result<Vec<PathEntry>, GitError> {
        let commit = self
            .repo
            .find_commit(commit.oid()?)
            .map_err(GitError::gix)?;
        let tree = commit.tree().map_err(GitError::gix)?;
        let mut out = Vec::new();
        let prefixes = path
            .folders()
            .chain(std::iter::once(path.as_str()))
            .take(crate::model::edit_path::MAX_EDIT_DEPTH);
        for prefix in prefixes {
            let Some(entry) = tree.lookup_entry_by_path(prefix).map_err(GitError::gix)? else {
                break;
            };
            let mode = entry.mode();
            let kind = if mode.is_tree() {
                EntryKind::Dir
            } else if mode.is_commit() {
                EntryKind::Submodule
            } else if mode.is_link() {
                EntryKind::Symlink
            } else {
                EntryKind::File
            };
            out.push(PathEntry {
                kind,
                id: entry.object_id().to_hex().to_string(),
                executable: mode.is_executable(),
            });
            if kind != EntryKind::Dir {
                break;
            }
        }
        Ok(out)
    }
}
