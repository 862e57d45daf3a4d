//! File edits made on the server (the web's "Edit" and "New file", the API's contents writes;
//! later the pull-request merge): a commit built beside the repository and then pushed into it
//! by the editing user, through the same receive-pack and hooks as any push. So branch
//! protection, `[[check]]`s (a failing check refuses the edit, its output comes back), deploys,
//! webhooks, `fixes #N`, push mirrors and the timeline treat an edit exactly as a push by that
//! user, and the object the checks saw is the object that lands (see `git::runner::scratch`).
//!
//! An edit names the branch tip it was made against (`ExpectedTip`) and, per file, the blob it
//! replaces (Gitea's `sha`); the ref moves by compare-and-swap in receive-pack, so of two edits
//! made against the same tip one lands and the other is told, and nothing is overwritten.

mod send;

use crate::git::read::{EntryKind, PathEntry};
use crate::model::{BranchName, CommitIdentity, EditNameError, EditPath};

pub use send::{Person, PushOutcome, WrittenFile};

/// Files one edit may change at most.
pub const MAX_EDIT_FILES: usize = 100;
/// Largest file an edit may write, in bytes.
pub const MAX_EDIT_FILE_BYTES: usize = 8 << 20;
/// Largest sum of the files one edit writes, in bytes.
pub const MAX_EDIT_TOTAL_BYTES: usize = 32 << 20;
/// Longest commit message, in bytes.
pub const MAX_EDIT_MESSAGE: usize = 64 << 10;

/// One file an edit changes.
#[derive(Debug, Clone)]
pub enum FileChange {
    /// A new file; refused if something is at `path` already.
    Create { path: EditPath, content: Vec<u8> },
    /// New contents for the file at `from` (or `path`), written at `path`: a rename when
    /// they differ. `sha` is the blob the editor saw (Gitea's stale-edit guard).
    Update {
        path: EditPath,
        from: Option<EditPath>,
        sha: Option<String>,
        content: Vec<u8>,
    },
    /// Removes the file at `path`, which must still be blob `sha` when given.
    Delete { path: EditPath, sha: Option<String> },
}

impl FileChange {
    pub fn path(&self) -> &EditPath {
        match self {
            FileChange::Create { path, .. }
            | FileChange::Update { path, .. }
            | FileChange::Delete { path, .. } => path,
        }
    }

    fn content(&self) -> Option<&[u8]> {
        match self {
            FileChange::Create { content, .. } | FileChange::Update { content, .. } => {
                Some(content)
            }
            FileChange::Delete { .. } => None,
        }
    }

    /// Gitea's words for a commit message nobody wrote: `Add a, b` / `Update c` / `Delete d`.
    pub fn default_message(changes: &[FileChange]) -> String {
        let mut parts = Vec::new();
        for (verb, pick) in [("Add", 0u8), ("Update", 1), ("Delete", 2)] {
            let names: Vec<&str> = changes
                .iter()
                .filter(|c| {
                    matches!(
                        (c, pick),
                        (FileChange::Create { .. }, 0)
                            | (FileChange::Update { .. }, 1)
                            | (FileChange::Delete { .. }, 2)
                    )
                })
                .map(|c| c.path().as_str())
                .collect();
            if !names.is_empty() {
                parts.push(format!("{verb} {}", names.join(", ")));
            }
        }
        parts.join("\n")
    }
}

/// The tip an edit was made against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedTip {
    /// Whatever the branch points at when the edit starts (the per-file `sha`s guard it).
    Current,
    /// This commit: if the branch moved since, the edit is a conflict.
    At(String),
}

/// Everything an edit needs besides the grant.
#[derive(Debug, Clone)]
pub struct EditRequest {
    /// The branch the edit starts from (the default branch when the caller gave none).
    pub branch: BranchName,
    /// Where the commit goes when not `branch`: a new branch, refused if it exists.
    pub new_branch: Option<BranchName>,
    pub base: ExpectedTip,
    pub changes: Vec<FileChange>,
    /// Empty: Gitea's default message (`Add x`, `Update y`).
    pub message: String,
    /// None: the committer, else the editing user.
    pub author: Option<CommitIdentity>,
    /// None: the author, else the editing user.
    pub committer: Option<CommitIdentity>,
    pub author_date: Option<time::OffsetDateTime>,
    pub committer_date: Option<time::OffsetDateTime>,
    /// Add a `Signed-off-by:` line for the committer (Gitea's `signoff`).
    pub signoff: bool,
}

/// Why an edit did not land. The API answers each as Gitea does.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Gitea's `ErrSHADoesNotMatch`: the file changed since the editor read it.
    #[error("sha does not match [given: {given}, expected: {current}]")]
    ShaMismatch {
        path: String,
        given: String,
        current: String,
    },
    /// Gitea's `ErrSHAOrCommitIDNotProvided` (its own wording, typo included).
    #[error("a SHA or commit ID must be proved when updating a file")]
    ShaRequired,
    #[error("repository file already exists [path: {0}]")]
    FileExists(String),
    #[error("repository file does not exist [path: {0}]")]
    FileMissing(String),
    #[error("branch does not exist [name: {0}]")]
    BranchMissing(String),
    #[error("branch already exists [name: {0}]")]
    BranchExists(String),
    /// The path is not one an edit may write (a `..`, a `.git`, a symlink on the way).
    #[error("{0}")]
    PathInvalid(String),
    /// Too many files, too large a file or message.
    #[error("{0}")]
    TooLarge(String),
    /// The push's own decision refused it (branch protection, a failing check, a mirror):
    /// what the hooks said, the check's output among it. Nothing was written.
    #[error("the edit was refused as a push: {}", .said.join("\n"))]
    Refused { said: Vec<String> },
    /// Another change landed on the branch first (the compare-and-swap lost).
    #[error(
        "the branch moved while this edit was made (it is now at {current}); nothing was changed, reload and edit again"
    )]
    Conflict { current: String },
    #[error(transparent)]
    Forge(#[from] super::Error),
}

impl From<EditNameError> for EditError {
    fn from(e: EditNameError) -> Self {
        EditError::PathInvalid(e.to_string())
    }
}

/// Checks the sizes before anything is read or written; the caps are in SECURITY.md.
fn check_caps(req: &EditRequest) -> Result<(), EditError> {
    if req.changes.is_empty() {
        return Err(EditError::PathInvalid(
            "an edit must change at least one file".into(),
        ));
    }
    if req.changes.len() > MAX_EDIT_FILES {
        return Err(EditError::TooLarge(format!(
            "an edit may change at most {MAX_EDIT_FILES} files"
        )));
    }
    let mut total = 0usize;
    for change in &req.changes {
        let size = change.content().map_or(0, <[u8]>::len);
        if size > MAX_EDIT_FILE_BYTES {
            return Err(EditError::TooLarge(format!(
                "{} is larger than {} MiB, the most an edit may write",
                change.path(),
                MAX_EDIT_FILE_BYTES >> 20
            )));
        }
        total += size;
    }
    if total > MAX_EDIT_TOTAL_BYTES {
        return Err(EditError::TooLarge(format!(
            "an edit may write at most {} MiB in all",
            MAX_EDIT_TOTAL_BYTES >> 20
        )));
    }
    if req.message.len() > MAX_EDIT_MESSAGE {
        return Err(EditError::TooLarge(format!(
            "a commit message may be at most {} KiB",
            MAX_EDIT_MESSAGE >> 10
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for change in &req.changes {
        if !seen.insert(change.path().as_str()) {
            return Err(EditError::PathInvalid(format!(
                "{} is changed twice in one edit",
                change.path()
            )));
        }
    }
    Ok(())
}

/// What one change needs to know of the base tree: the entries along its path and, for an
/// update from another path, along that one.
pub(super) struct Found {
    along: Vec<PathEntry>,
    from_along: Vec<PathEntry>,
}

/// The file an update or delete replaces: refused when it is missing, is no plain file (a
/// symlink is never edited through: its target could be anywhere), or is not the blob the
/// editor saw. Returns (blob id, executable).
fn replaced(
    path: &EditPath,
    along: &[PathEntry],
    sha: Option<&str>,
    tip_pinned: bool,
) -> Result<(String, bool), EditError> {
    let depth = path.folders().count() + 1;
    let Some(last) = along.get(depth - 1).filter(|_| along.len() == depth) else {
        if along.iter().any(|e| e.kind == EntryKind::Symlink) {
            return Err(EditError::PathInvalid(format!(
                "a symbolic link is on the way to {path}; edits never follow links"
            )));
        }
        return Err(EditError::FileMissing(path.to_string()));
    };
    match last.kind {
        EntryKind::File => {}
        EntryKind::Symlink => {
            return Err(EditError::PathInvalid(format!(
                "{path} is a symbolic link; edits never follow links"
            )));
        }
        EntryKind::Dir | EntryKind::Submodule => {
            return Err(EditError::FileMissing(path.to_string()));
        }
    }
    match sha {
        Some(given) if given != last.id => Err(EditError::ShaMismatch {
            path: path.to_string(),
            given: given.to_owned(),
            current: last.id.clone(),
        }),
        None if !tip_pinned => Err(EditError::ShaRequired),
        _ => Ok((last.id.clone(), last.executable)),
    }
}

/// Whether a file may be written at `path`: every folder on the way is a folder (or missing),
/// never a file or a symlink, and the path itself is no folder; `must_be_new` refuses an
/// existing file there (a create, or a rename onto it).
fn writable(path: &EditPath, along: &[PathEntry], must_be_new: bool) -> Result<(), EditError> {
    let folders: Vec<&str> = path.folders().collect();
    for (i, entry) in along.iter().enumerate() {
        if i < folders.len() {
            match entry.kind {
                EntryKind::Dir => {}
                EntryKind::Symlink => {
                    return Err(EditError::PathInvalid(format!(
                        "a symbolic link exists where you’re trying to create a subdirectory [path: {}]",
                        folders[i]
                    )));
                }
                _ => {
                    return Err(EditError::PathInvalid(format!(
                        "a file exists where you’re trying to create a subdirectory [path: {}]",
                        folders[i]
                    )));
                }
            }
        } else {
            match entry.kind {
                EntryKind::Dir | EntryKind::Submodule => {
                    return Err(EditError::PathInvalid(format!(
                        "a directory exists where you’re trying to create a file [path: {path}]"
                    )));
                }
                EntryKind::Symlink => {
                    return Err(EditError::PathInvalid(format!(
                        "a symbolic link exists where you’re trying to create a file [path: {path}]; edits never follow links"
                    )));
                }
                EntryKind::File if must_be_new => {
                    return Err(EditError::FileExists(path.to_string()));
                }
                EntryKind::File => {}
            }
        }
    }
    Ok(())
}

/// Turns the changes into index lines, checking each against what the base tree holds. The
/// blobs are written later; here `Put` carries the change's index in `changes` as a stand-in.
fn plan(
    changes: &[FileChange],
    found: &[Found],
    tip_pinned: bool,
) -> Result<Vec<Planned>, EditError> {
    let mut out = Vec::new();
    for (change, f) in changes.iter().zip(found) {
        match change {
            FileChange::Create { path, .. } => {
                writable(path, &f.along, true)?;
                out.push(Planned::Put {
                    path: path.clone(),
                    executable: false,
                });
            }
            FileChange::Update {
                path, from, sha, ..
            } => {
                let source = from.as_ref().unwrap_or(path);
                let source_along = if from.is_some() {
                    &f.from_along
                } else {
                    &f.along
                };
                let (_, executable) = replaced(source, source_along, sha.as_deref(), tip_pinned)?;
                let renamed = source != path;
                writable(path, &f.along, renamed)?;
                if renamed {
                    out.push(Planned::Remove(source.clone()));
                }
                out.push(Planned::Put {
                    path: path.clone(),
                    executable,
                });
            }
            FileChange::Delete { path, sha } => {
                replaced(path, &f.along, sha.as_deref(), tip_pinned)?;
                out.push(Planned::Remove(path.clone()));
            }
        }
    }
    Ok(out)
}

/// One index line to be, before its blob is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Planned {
    Put { path: EditPath, executable: bool },
    Remove(EditPath),
}

#[cfg(test)]
mod tests;
