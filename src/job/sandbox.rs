//! bubblewrap (`bwrap`, Debian `bubblewrap`) around a check: new namespaces of every kind (so no
//! network but its own loopback, no other process, no host IPC), the system's `/usr` read-only,
//! the pushed tree read-only, a private `/tmp` and `/dev/shm` of bounded size (a quarter and a
//! sixteenth of the check's memory; `/dev` itself read-only, since bwrap's `--dev` is a tmpfs of
//! half the machine's memory), a synthesized `/etc/passwd`, the root read-only, and nothing
//! else of the host: not the data folder, not the config file's folder (only the `run` file
//! itself), not `/home` or `/root`.

use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::git::runner::SAFE_PATH;

/// The uid and gid a check runs as inside: not root, so tools that drop privileges (nginx's
/// `user` directive) or refuse to run as root behave as for an ordinary user.
const INSIDE_ID: &str = "1000";

/// The files a sandbox's `/etc` gets (passwd and group, so `id` and Python's `getpass` work).
pub const PASSWD: &str = "root:x:0:0:root:/root:/usr/sbin/nologin\n\
                          check:x:1000:1000:labforge check:/tmp:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
pub const GROUP: &str = "root:x:0:\ncheck:x:1000:\nnogroup:x:65534:\n";

/// Host paths shown inside as they are, read-only, when present: the libraries' cache and
/// Debian's alternatives (`awk`, `editor` are links through `/etc/alternatives`).
const HOST_FILES: &[&str] = &["/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime"];

/// The top-level folders that are (on a merged-/usr system) links into `/usr`.
const USR_LINKS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// How a check's `memory` is shared: its writable tmpfs folders take their sizes out of it and
/// its processes' address space (RLIMIT_AS) gets the rest, so the three together never pass it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySplit {
    pub address_space: u64,
    pub tmp: u64,
    pub shm: u64,
}

impl MemorySplit {
    pub fn of(memory: u64) -> Self {
        let tmp = memory / 4;
        let shm = memory / 16;
        Self {
            address_space: memory - tmp - shm,
            tmp,
            shm,
        }
    }
}

/// bubblewrap as found at start, once it has shown it can make a sandbox here.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
}

impl Sandbox {
    /// Finds `bwrap` on the safe PATH and runs `true` in a sandbox like a check's. None, with
    /// the reason, when it is missing or cannot make namespaces (some containers forbid them).
    pub fn detect() -> Result<Self, String> {
        let bwrap = std::env::split_paths(SAFE_PATH)
            .map(|d| d.join("bwrap"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                "bwrap is not installed (Debian: apt-get install bubblewrap)".to_owned()
            })?;
        let sandbox = Self { bwrap };
        let etc = tempfile_dir()?;
        let jail = sandbox.jail(&etc, MemorySplit::of(16 << 20), Vec::new());
        let out = Command::new(&sandbox.bwrap)
            .args(jail.args(Path::new("/")))
            .arg("--")
            .arg("/bin/sh")
            .arg("-c")
            .arg("true")
            .env_clear()
            .env("PATH", SAFE_PATH)
            .stdin(Stdio::null())
            .output();
        let _ = std::fs::remove_dir_all(&etc);
        match out {
            Ok(o) if o.status.success() => Ok(sandbox),
            Ok(o) => Err(format!(
                "{} cannot make a sandbox here: {}",
                sandbox.bwrap.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("{} does not run: {e}", sandbox.bwrap.display())),
        }
    }

    /// A sandbox whose `/etc/passwd` and `/etc/group` come from `etc` (a folder holding
    /// [`PASSWD`] and [`GROUP`]), with `/tmp` and `/dev/shm` sized by `memory` and `binds`
    /// (host path, path inside) shown read-only.
    pub fn jail(&self, etc: &Path, memory: MemorySplit, binds: Vec<(PathBuf, PathBuf)>) -> Jail {
        Jail {
            bwrap: self.bwrap.clone(),
            etc: etc.to_path_buf(),
            memory,
            binds,
        }
    }
}

/// One sandboxed run's layout; `crate::job::run` puts `bwrap ARGS -- PROGRAM` together.
#[derive(Debug, Clone)]
pub struct Jail {
    bwrap: PathBuf,
    etc: PathBuf,
    memory: MemorySplit,
    binds: Vec<(PathBuf, PathBuf)>,
}

impl Jail {
    pub fn bwrap(&self) -> &Path {
        &self.bwrap
    }

    /// bwrap's arguments up to (not including) `--`; `workdir` is the folder inside to start in.
    pub fn args(&self, workdir: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
            a.extend(items.iter().map(|i| i.as_ref().to_os_string()));
        };
        push(&[
            &"--unshare-all",
            &"--unshare-user",
            &"--disable-userns",
            &"--die-with-parent",
            &"--new-session",
            &"--uid",
            &INSIDE_ID,
            &"--gid",
            &INSIDE_ID,
            &"--hostname",
            &"check",
            &"--ro-bind",
            &"/usr",
            &"/usr",
        ]);
        for name in USR_LINKS {
            let host = Path::new("/").join(name);
            match std::fs::read_link(&host) {
                Ok(target) => push(&[&"--symlink", &target, &host]),
                Err(_) if host.is_dir() => push(&[&"--ro-bind", &host, &host]),
                Err(_) => {}
            }
        }
        for file in HOST_FILES {
            push(&[&"--ro-bind-try", file, file]);
        }
        let (passwd, group) = (self.etc.join("passwd"), self.etc.join("group"));
        push(&[&"--ro-bind", &passwd, &"/etc/passwd"]);
        push(&[&"--ro-bind", &group, &"/etc/group"]);
        // bwrap's `--size` applies to `--tmpfs` only, and `--dev` is a tmpfs of half the RAM:
        // a sized `/dev/shm` on it, then `/dev` read-only (its device nodes are separate bind
        // mounts and stay usable; the remount does not reach into `/dev/shm` or `/dev/pts`).
        push(&[&"--proc", &"/proc", &"--dev", &"/dev"]);
        let (tmp, shm) = (self.memory.tmp.to_string(), self.memory.shm.to_string());
        push(&[
            &"--size",
            &shm,
            &"--tmpfs",
            &"/dev/shm",
            &"--remount-ro",
            &"/dev",
        ]);
        push(&[&"--size", &tmp, &"--tmpfs", &"/tmp"]);
        for (host, inside) in &self.binds {
            push(&[&"--ro-bind", host, inside]);
        }
        push(&[&"--remount-ro", &"/", &"--chdir", &workdir]);
        a
    }
}

/// A private folder with the sandbox's passwd and group, for the probe at start (made new:
/// the name is this process's and the time's, and an existing one is an error).
fn tempfile_dir() -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "labforge-sandbox-probe-{}-{nanos}",
        std::process::id()
    ));
    write_etc(&dir).map_err(|e| format!("preparing a sandbox probe in {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Makes `dir` (new, mode 0700) with the sandbox's `passwd` and `group`.
pub fn write_etc(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(dir)?;
    std::fs::write(dir.join("passwd"), PASSWD)?;
    std::fs::write(dir.join("group"), GROUP)
}
