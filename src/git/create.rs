use std::path::Path;

use gix::refs::transaction::{PreviousValue, RefEdit};

use super::{GitError, RepoDir, RepoStore, hooks};
use crate::model::Username;

impl RepoStore {
    /// Creates a bare repository with HEAD on `default_branch`. It is built in a staging folder
    /// and renamed into place, so the final folder is either absent or complete. Blocking: call
    /// it from `spawn_blocking`.
    pub fn create(&self, dir: &RepoDir, default_branch: &str) -> Result<(), GitError> {
        let staging = self.staging();
        std::fs::create_dir_all(&staging)?;
        let tmp = staging.join(format!("{}-{}.git", std::process::id(), random_suffix()));
        let result = init_bare(&tmp, default_branch)
            .and_then(|()| match &self.hook_program {
                Some(program) => hooks::install_shims(&tmp, program).map(drop),
                None => Ok(()),
            })
            .and_then(|()| sync_tree(&tmp))
            .and_then(|()| self.move_into_place(&tmp, dir));
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    /// A folder already at `dir` with no database row is left over from a crash between the
    /// two; it is moved to the trash rather than deleted, so no pushed object is ever lost.
    fn move_into_place(&self, tmp: &Path, dir: &RepoDir) -> Result<(), GitError> {
        let target = dir.path();
        let parent = target
            .parent()
            .expect("a repo dir always has an owner folder");
        std::fs::create_dir_all(parent)?;
        if target.exists() {
            let trash = self.trash();
            std::fs::create_dir_all(&trash)?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let owner = parent.file_name().unwrap_or_default().to_string_lossy();
            let name = target.file_name().unwrap_or_default().to_string_lossy();
            let aside = trash.join(format!("{stamp}-{owner}-{name}"));
            tracing::warn!(from = %target.display(), to = %aside.display(), "moving orphaned repository folder aside");
            std::fs::rename(target, aside)?;
        }
        std::fs::rename(tmp, target)?;
        // The rename lives in the owner folder, a new owner folder in the repos root.
        std::fs::File::open(parent)?.sync_all()?;
        if let Some(root) = parent.parent() {
            std::fs::File::open(root)?.sync_all()?;
        }
        Ok(())
    }
}

/// Flushes every file and folder of the new repository to disk before it is renamed into
/// place and its row committed: after a power cut the row never points at a half-written folder.
fn sync_tree(path: &Path) -> Result<(), GitError> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        } else {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    std::fs::File::open(path)?.sync_all()?;
    Ok(())
}

impl RepoStore {
    /// Points HEAD (the branch clones check out) at `branch`.
    pub fn set_head(&self, dir: &RepoDir, branch: &str) -> Result<(), GitError> {
        let repo =
            gix::open_opts(dir.path(), gix::open::Options::isolated()).map_err(GitError::gix)?;
        let target: gix::refs::FullName = format!("refs/heads/{branch}")
            .as_str()
            .try_into()
            .map_err(GitError::gix)?;
        let name: gix::refs::FullName = "HEAD".try_into().expect("HEAD is a valid ref name");
        repo.edit_reference(RefEdit::update(name, target, PreviousValue::Any, ""))
            .map_err(GitError::gix)?;
        Ok(())
    }

    /// Moves a deleted repository's folder to the trash (the operator empties it): a deletion
    /// from the web can still be undone by hand.
    pub fn discard(&self, dir: &RepoDir) -> Result<(), GitError> {
        let trash = self.trash();
        std::fs::create_dir_all(&trash)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let target = dir.path();
        let owner = target
            .parent()
            .and_then(Path::file_name)
            .unwrap_or_default()
            .to_string_lossy();
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        std::fs::rename(
            target,
            trash.join(format!("{stamp}-deleted-{owner}-{name}")),
        )?;
        Ok(())
    }
}

impl RepoStore {
    /// Moves a repository's folder to a new name under the same owner; refuses to overwrite.
    pub fn move_dir(&self, from: &RepoDir, to: &RepoDir) -> Result<(), GitError> {
        if to.path().exists() {
            return Err(GitError::BadPath(format!(
                "{} is in the way",
                to.path().display()
            )));
        }
        // A transfer may move the folder under an owner that has no folder yet.
        if let Some(parent) = to.path().parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(from.path(), to.path())?;
        if let Some(parent) = to.path().parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }

    /// Moves an owner's folder (all their repositories) to a new owner name; an owner without
    /// repositories may have no folder, which is fine. Refuses to overwrite a folder in the way.
    pub fn move_owner_dir(&self, from: &Username, to: &Username) -> Result<(), GitError> {
        let (old, new) = (self.root.join(from.as_str()), self.root.join(to.as_str()));
        if !old.exists() {
            return Ok(());
        }
        if new.exists() {
            return Err(GitError::BadPath(format!(
                "{} is in the way",
                new.display()
            )));
        }
        std::fs::rename(&old, &new)?;
        std::fs::File::open(&self.root)?.sync_all()?;
        Ok(())
    }
}

fn init_bare(path: &Path, default_branch: &str) -> Result<(), GitError> {
    let repo = gix::init_bare(path).map_err(GitError::gix)?;
    let head = format!("refs/heads/{default_branch}");
    let target: gix::refs::FullName = head.as_str().try_into().map_err(GitError::gix)?;
    let name: gix::refs::FullName = "HEAD".try_into().expect("HEAD is a valid ref name");
    repo.edit_reference(RefEdit::update(name, target, PreviousValue::Any, ""))
        .map_err(GitError::gix)?;
    Ok(())
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
