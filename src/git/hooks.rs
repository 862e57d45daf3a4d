//! The git hooks every repository gets: two shims that exec `labforge hook NAME`. They are
//! written at creation and rewritten at each start (so a moved binary or an edited file is
//! repaired); every other hook file is left alone but never written by labforge, and repository
//! admins have no way to write any.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{GitError, RepoDir};
use crate::model::HookName;

const TEMPLATE: &str = include_str!("../../hooks/git-hook-shim.sh");

/// Writes both shims into `repo` (a bare repository folder) if they differ from what they
/// should be. Returns whether anything was written.
pub fn install_shims(repo: &Path, program: &Path) -> Result<bool, GitError> {
    let hooks = repo.join("hooks");
    std::fs::create_dir_all(&hooks)?;
    let mut wrote = false;
    for name in HookName::ALL.iter().map(|h| h.as_str()) {
        let text = TEMPLATE
            .replace("@LABFORGE@", &shell_quote(&program.to_string_lossy()))
            .replace("@HOOK@", name);
        let path = hooks.join(name);
        let current = std::fs::read(&path).ok();
        let mode_ok =
            std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o777 == 0o755);
        if current.as_deref() == Some(text.as_bytes()) && mode_ok {
            continue;
        }
        let tmp = hooks.join(format!(".{name}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        wrote = true;
    }
    Ok(wrote)
}

impl RepoDir {
    pub fn install_hook_shims(&self, program: &Path) -> Result<bool, GitError> {
        install_shims(self.path(), program)
    }
}

/// Single-quotes for sh: the binary path is ours, but a folder name with a space must not
/// split it.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shims_exec_the_program_and_are_rewritten_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let program = Path::new("/opt/lab forge/labforge");
        assert!(install_shims(dir.path(), program).unwrap());
        let text = std::fs::read_to_string(dir.path().join("hooks/pre-receive")).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(
            text.ends_with("exec '/opt/lab forge/labforge' hook pre-receive\n"),
            "{text}"
        );
        assert!(
            !install_shims(dir.path(), program).unwrap(),
            "unchanged: nothing written"
        );
        std::fs::write(dir.path().join("hooks/post-receive"), "#!/bin/sh\nexit 0\n").unwrap();
        assert!(install_shims(dir.path(), program).unwrap());
        let text = std::fs::read_to_string(dir.path().join("hooks/post-receive")).unwrap();
        assert!(text.contains("hook post-receive"));
    }
}
