//! git's output streamed rather than read whole: `git blame --incremental` line by line for
//! the blame page, and `git cat-file blob` for blobs too large to hold in memory.

use super::*;

impl GitRunner {
    /// `git blame --incremental COMMIT -- PATH`, blocking, each line of its output given to
    /// `line` as git writes it (so a caller can show what is known while git goes on). Ends
    /// git's process group at `deadline` or when git has written `max_output` bytes; false
    /// then. `commit` is a full id from the reader and the path comes after `--`, so neither
    /// can be read as an option.
    pub fn blame_incremental(
        &self,
        dir: &RepoDir,
        commit: &str,
        path: &str,
        deadline: std::time::Instant,
        max_output: u64,
        mut line: impl FnMut(&[u8]),
    ) -> anyhow::Result<bool> {
        use std::io::{BufRead, Read};
        anyhow::ensure!(is_object_id(commit), "not an object id: {commit}");
        let mut cmd = self.blocking_command();
        cmd.args(["blame", "--incremental", commit, "--", path])
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path())
            .stderr(Stdio::null());
        let deadline = deadline.min(std::time::Instant::now() + self.timeout);
        if deadline <= std::time::Instant::now() {
            return Ok(false);
        }
        let mut child = cmd.spawn().context("starting git blame")?;
        let pid = child.id();
        // Ends the group at the deadline even while git writes nothing; told to stand down
        // (by the sender's drop) once git's output has ended.
        let (stand_down, ended) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::Builder::new()
            .name("git-blame-deadline".into())
            .spawn(move || {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = ended.recv_timeout(left) {
                    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
                }
            })
            .context("starting the git blame watchdog")?;
        let stdout = child
            .stdout
            .take()
            .expect("stdout is piped by blocking_command");
        let mut out = std::io::BufReader::new(stdout.take(max_output));
        let mut buf = Vec::new();
        let (mut read, mut failed) = (0u64, false);
        loop {
            buf.clear();
            match out.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(n) => read += n as u64,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
            line(buf.strip_suffix(b"\n").unwrap_or(&buf));
        }
        let cut = failed || read >= max_output;
        if cut {
            signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        }
        drop(stand_down);
        let status = child.wait().context("waiting for git blame")?;
        let _ = watchdog.join();
        Ok(status.success() && !cut)
    }

    /// `git cat-file blob ID`: the blob's bytes on stdout, streamed (gix reads an object whole
    /// into memory; git streams a large blob from its pack).
    pub fn spawn_cat_blob(&self, dir: &RepoDir, blob: &str) -> std::io::Result<GitChild> {
        if !is_object_id(blob) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not an object id: {blob}"),
            ));
        }
        let mut cmd = self.base_command();
        cmd.args(["cat-file", "blob", "--end-of-options", blob])
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path());
        let child = cmd.spawn()?;
        Ok(GitChild::new(child, self.deadline()))
    }

    /// `git cat-file blob ID` on a blocking thread, its bytes copied into `out` 64 KiB at a
    /// time, so a pushed 600 MB blob never sits in labforge's memory (gix reads an object
    /// whole). `quarantine`: a push's quarantine folder, read before the repository's objects.
    /// `core.bigFileThreshold=1m` makes git stream a large undeltified blob from its pack too.
    /// Fails past `max_bytes` or the runner's timeout (git's group is ended then).
    pub fn cat_blob_into(
        &self,
        dir: &RepoDir,
        quarantine: Option<&Path>,
        blob: &str,
        out: &mut impl std::io::Write,
        max_bytes: u64,
    ) -> anyhow::Result<u64> {
        use std::io::Read;
        anyhow::ensure!(is_object_id(blob), "not an object id: {blob}");
        let mut cmd = self.blocking_command();
        cmd.args(["-c", "core.bigFileThreshold=1m"])
            .args(["cat-file", "blob", "--end-of-options", blob])
            .env("GIT_DIR", dir.path())
            .current_dir(dir.path())
            .stderr(Stdio::null());
        if let Some(q) = quarantine {
            cmd.env("GIT_OBJECT_DIRECTORY", q).env(
                "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                dir.path().join("objects"),
            );
        }
        let mut child = cmd.spawn().context("starting git cat-file")?;
        let pid = child.id();
        let deadline = std::time::Instant::now() + self.timeout;
        let (stand_down, ended) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::Builder::new()
            .name("git-cat-deadline".into())
            .spawn(move || {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = ended.recv_timeout(left) {
                    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
                }
            })
            .context("starting the git cat-file watchdog")?;
        let stdout = child
            .stdout
            .take()
            .expect("stdout is piped by blocking_command");
        // One byte more than allowed, to tell "exactly at the cap" from "past it".
        let mut limited = stdout.take(max_bytes.saturating_add(1));
        let mut buf = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        let copied = loop {
            match limited.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    written += n as u64;
                    if written > max_bytes {
                        break Err(anyhow!("the blob holds more than {max_bytes} bytes"));
                    }
                    if let Err(e) = out.write_all(&buf[..n]) {
                        break Err(anyhow::Error::from(e).context("writing the blob"));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(anyhow::Error::from(e).context("reading git cat-file")),
            }
        };
        if copied.is_err() {
            signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        }
        drop(stand_down);
        let status = child.wait().context("waiting for git cat-file")?;
        let _ = watchdog.join();
        copied?;
        anyhow::ensure!(status.success(), "git cat-file {blob} failed ({status})");
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blame_streams_and_stops_at_its_output_cap_and_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        git(&["init", "-q", "--bare", "r.git"]);
        let repo = dir.path().join("r.git");
        git(&["--git-dir=r.git", "config", "user.name", "A"]);
        git(&["--git-dir=r.git", "config", "user.email", "a@b"]);
        // A two-line file committed through plumbing (a bare repository has no work tree).
        let mut hash = std::process::Command::new("git")
            .args(["--git-dir=r.git", "hash-object", "-w", "--stdin"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut hash.stdin.take().unwrap(), b"one\ntwo\n").unwrap();
        let blob = String::from_utf8(hash.wait_with_output().unwrap().stdout).unwrap();
        let mut mktree = std::process::Command::new("git")
            .args(["--git-dir=r.git", "mktree"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let entry = format!("100644 blob {}\ta file\n", blob.trim());
        std::io::Write::write_all(&mut mktree.stdin.take().unwrap(), entry.as_bytes()).unwrap();
        let tree = String::from_utf8(mktree.wait_with_output().unwrap().stdout).unwrap();
        let commit = git(&["--git-dir=r.git", "commit-tree", "-m", "first", tree.trim()]);
        let commit = commit.trim();
        let runner = GitRunner::detect(Duration::from_secs(60)).unwrap();
        let dir_of = RepoDir(repo.canonicalize().unwrap());
        let later = std::time::Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        let done = runner
            .blame_incremental(&dir_of, commit, "a file", later, 1 << 20, |l| {
                lines.push(String::from_utf8_lossy(l).into_owned())
            })
            .unwrap();
        assert!(done);
        assert_eq!(lines[0], format!("{commit} 1 1 2"));
        assert_eq!(lines.last().unwrap(), "filename a file");
        // Past its output cap git is stopped, and past its deadline not started: not whole.
        let capped = runner
            .blame_incremental(&dir_of, commit, "a file", later, 30, |_| {})
            .unwrap();
        assert!(!capped);
        let late = runner
            .blame_incremental(
                &dir_of,
                commit,
                "a file",
                std::time::Instant::now(),
                1 << 20,
                |_| {},
            )
            .unwrap();
        assert!(!late);
        // Only full ids go on git's command line.
        assert!(
            runner
                .blame_incremental(&dir_of, "--output=x", "a file", later, 1 << 20, |_| {})
                .is_err()
        );
    }
}
