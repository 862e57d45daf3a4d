//! The deploy and check scripts labforge ships (`hooks/` in the source), for `[[deploy]]` and
//! `[[check]]` tables to name. A package puts them beside the binary's share folder
//! (`/usr/share/labforge/hooks` for `/usr/bin/labforge`); a binary from `cargo install` has no
//! such folder, so it carries them built in and writes them out into the data folder
//! (`DATA_DIR/hooks`) at each start of `serve` and at `labforge hooks path`. Either way
//! `labforge hooks path` prints the one folder to use.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Every shipped script, by file name, as built into this binary.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "check-ansible.sh",
        include_str!("../hooks/check-ansible.sh"),
    ),
    (
        "check-compose.sh",
        include_str!("../hooks/check-compose.sh"),
    ),
    ("check-named.sh", include_str!("../hooks/check-named.sh")),
    ("check-nginx.sh", include_str!("../hooks/check-nginx.sh")),
    ("check-yaml.sh", include_str!("../hooks/check-yaml.sh")),
    (
        "deploy-ansible.sh",
        include_str!("../hooks/deploy-ansible.sh"),
    ),
    (
        "deploy-compose.sh",
        include_str!("../hooks/deploy-compose.sh"),
    ),
    ("deploy-rsync.sh", include_str!("../hooks/deploy-rsync.sh")),
];

/// The packaged folder for the binary at `exe` (`PREFIX/bin/labforge` → `PREFIX/share/labforge/
/// hooks`), when it holds every shipped script.
pub fn packaged_dir(exe: &Path) -> Option<PathBuf> {
    let prefix = exe.parent()?.parent()?;
    let dir = prefix.join("share/labforge/hooks");
    SHIPPED
        .iter()
        .all(|(name, _)| dir.join(name).is_file())
        .then_some(dir)
}

/// Where the shipped scripts are: the packaged folder, else `data_dir/hooks` with the built-in
/// copies written out (rewritten when they differ, so an upgrade brings the new versions; a
/// changed copy an operator wants to keep belongs under another name).
pub fn ensure(data_dir: &Path) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(packaged_dir)
    {
        return Ok(dir);
    }
    write_out(&data_dir.join("hooks"))
}

fn write_out(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in SHIPPED {
        let path = dir.join(name);
        let same = std::fs::read(&path).is_ok_and(|c| c == text.as_bytes())
            && std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o777 == 0o755);
        if same {
            continue;
        }
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut file =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        file.write_all(text.as_bytes())?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_in_hooks_is_shipped() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hooks");
        let mut on_disk: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sh") && n != "git-hook-shim.sh")
            .collect();
        on_disk.sort();
        let shipped: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, shipped);
    }

    #[test]
    fn a_packaged_folder_is_found_beside_the_binary_only_when_complete() {
        let prefix = tempfile::tempdir().unwrap();
        let exe = prefix.path().join("bin/labforge");
        let dir = prefix.path().join("share/labforge/hooks");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(packaged_dir(&exe), None, "empty");
        for (name, text) in SHIPPED {
            std::fs::write(dir.join(name), text).unwrap();
        }
        assert_eq!(packaged_dir(&exe), Some(dir.clone()));
        std::fs::remove_file(dir.join(SHIPPED[0].0)).unwrap();
        assert_eq!(packaged_dir(&exe), None, "one missing");
    }

    #[test]
    fn written_out_copies_are_executable_and_repaired() {
        let data = tempfile::tempdir().unwrap();
        let dir = write_out(&data.path().join("hooks")).unwrap();
        for (name, text) in SHIPPED {
            let path = dir.join(name);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), *text);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755, "{name}");
        }
        let edited = dir.join("deploy-rsync.sh");
        std::fs::write(&edited, "#!/bin/sh\necho edited\n").unwrap();
        write_out(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&edited).unwrap(), SHIPPED[7].1);
    }
}
