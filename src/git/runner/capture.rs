//! Waiting for a git child and keeping what it wrote, within bounds: its status, the first (or
//! last) bytes of its output, and a deadline however little it writes.

use super::*;

impl GitRunner {
    /// As `run_piped`, with stdout appended to `file` through this process, which hashes it on
    /// the way (SHA-256 of `prefix` and then the output): the hash costs no second pass, and
    /// runs beside git on the other core. Returns the hash.
    pub(in crate::git) async fn run_into_hashed_file(
        &self,
        git_dir: &Path,
        args: &[&str],
        input: Vec<u8>,
        prefix: &[u8],
        file: std::fs::File,
    ) -> anyhow::Result<String> {
        use sha2::Digest;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let what = format!("git {}", args.join(" "));
        let mut cmd = self.base_command();
        cmd.args(args)
            .env("GIT_DIR", git_dir)
            .current_dir(git_dir)
            .stdin(Stdio::piped());
        let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
        let mut child = GitChild::new(child, self.deadline());
        let stdin = child.child.stdin.take();
        let mut out = child.child.stdout.take().context("git's stdout")?;
        let err = child.child.stderr.take();
        let feed = async move {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(&input).await;
            }
        };
        let mut hash = sha2::Sha256::new();
        hash.update(prefix);
        let mut file = tokio::fs::File::from_std(file);
        let copy = async {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = out.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                file.write_all(&buf[..n]).await?;
            }
            file.flush().await?;
            Ok::<(), std::io::Error>(())
        };
        let read_err = async move {
            let mut buf = Vec::new();
            if let Some(p) = err {
                let _ = p.take(1 << 20).read_to_end(&mut buf).await;
            }
            buf
        };
        let ((), copied, stderr) = tokio::join!(feed, copy, read_err);
        let status = child
            .child
            .wait()
            .await
            .with_context(|| format!("waiting for {what}"))?;
        check_status(status, &stderr, args)?;
        copied.with_context(|| format!("writing the output of {what}"))?;
        Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Runs a fixed git command of this room (`args` are ours) on the repository at `git_dir`,
    /// feeding `input` on stdin; stdout goes to `stdout` when given, else it is returned (up
    /// to `MAX_CAPTURE`). For bundles and ref transactions, which need more than `run_in`.
    pub(in crate::git) async fn run_piped(
        &self,
        git_dir: &Path,
        args: &[&str],
        input: Vec<u8>,
        stdout: Option<std::fs::File>,
    ) -> anyhow::Result<Vec<u8>> {
        self.run_piped_env(git_dir, args, input, stdout, &[]).await
    }

    /// `run_piped` with more variables for git (a scratch object folder and index: see
    /// `scratch`); the names are ours, never a client's.
    pub(in crate::git) async fn run_piped_env(
        &self,
        git_dir: &Path,
        args: &[&str],
        input: Vec<u8>,
        stdout: Option<std::fs::File>,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> anyhow::Result<Vec<u8>> {
        let what = format!("git {}", args.join(" "));
        let mut cmd = self.base_command();
        cmd.args(args)
            .env("GIT_DIR", git_dir)
            .current_dir(git_dir)
            .stdin(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(file) = stdout {
            cmd.stdout(Stdio::from(file));
        }
        let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
        let mut child = GitChild::new(child, self.deadline());
        let stdin = child.child.stdin.take();
        let out = child.child.stdout.take();
        let err = child.child.stderr.take();
        let feed = async move {
            if let Some(mut stdin) = stdin {
                // git may stop reading early (and fail, which its status says).
                let _ = tokio::io::AsyncWriteExt::write_all(&mut stdin, &input).await;
            }
        };
        let ((), captured, stderr) = tokio::join!(feed, read_capped(out), read_capped(err));
        let status = child
            .child
            .wait()
            .await
            .with_context(|| format!("waiting for {what}"))?;
        check_status(status, &stderr, args)?;
        Ok(captured)
    }

    /// Runs `cmd` (git `args`, for the error) to its end; stderr becomes the error.
    pub(super) async fn run_to_end(&self, cmd: Command, args: &[&str]) -> anyhow::Result<()> {
        let what = format!("git {}", args.join(" "));
        let (status, stderr) = self.wait_for(cmd, &what).await?;
        check_status(status, &stderr, args)
    }

    /// Starts `cmd` with no input or output and waits for it: its exit status and stderr.
    pub(in crate::git) async fn wait_for(
        &self,
        cmd: Command,
        what: &str,
    ) -> anyhow::Result<(ExitStatus, Vec<u8>)> {
        self.wait_until(cmd, what, self.deadline()).await
    }

    /// `wait_for` with an earlier end than the runner's own (a mirror sync's deadline): the
    /// process group is ended then, so a far side that never answers holds nothing longer.
    pub(in crate::git) async fn wait_until(
        &self,
        cmd: Command,
        what: &str,
        deadline: tokio::time::Instant,
    ) -> anyhow::Result<(ExitStatus, Vec<u8>)> {
        let (status, _, stderr) = self.output_until(cmd, what, deadline, None).await?;
        Ok((status, stderr))
    }

    /// `wait_until`, keeping the first `stdout_cap` bytes of stdout when given (else it goes
    /// nowhere). Only the last `MAX_STDERR` bytes of stderr are kept, however much a far side
    /// makes git print, and both pipes are read to their end so git never blocks on them.
    pub(in crate::git) async fn output_until(
        &self,
        mut cmd: Command,
        what: &str,
        deadline: tokio::time::Instant,
        stdout_cap: Option<usize>,
    ) -> anyhow::Result<(ExitStatus, Vec<u8>, Vec<u8>)> {
        cmd.stdin(Stdio::null());
        if stdout_cap.is_none() {
            cmd.stdout(Stdio::null());
        }
        let child = cmd.spawn().with_context(|| format!("starting {what}"))?;
        let mut child = GitChild::new(child, deadline.min(self.deadline()));
        let stderr = child.child.stderr.take();
        let stdout = child.child.stdout.take();
        let (status, stdout, stderr) = tokio::join!(
            child.child.wait(),
            read_bounded(stdout, stdout_cap.unwrap_or(0), false),
            read_bounded(stderr, MAX_STDERR, true)
        );
        Ok((
            status.with_context(|| format!("waiting for {what}"))?,
            stdout,
            stderr,
        ))
    }
}

fn check_status(status: ExitStatus, stderr: &[u8], args: &[&str]) -> anyhow::Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(anyhow!(
            "git {} failed ({status}): {}",
            args.join(" "),
            String::from_utf8_lossy(stderr).trim()
        ))
    }
}

/// How much of a child's stdout and stderr `run_piped` keeps.
const MAX_CAPTURE: u64 = 64 << 20;
/// How much of a child's stderr `output_until` keeps (its end: where git says what failed).
const MAX_STDERR: usize = 1 << 20;

/// Reads `pipe` to its end, keeping `cap` bytes: the first ones, or the last if `tail`.
async fn read_bounded<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    cap: usize,
    tail: bool,
) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut p) = pipe else { return kept };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::io::AsyncReadExt::read(&mut p, &mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                if tail {
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > cap {
                        kept.drain(..kept.len() - cap);
                    }
                } else {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    }
}

/// What `pipe` (a child's stdout or stderr) writes, up to `MAX_CAPTURE` bytes; a failed read
/// ends it early (the child's status tells what went wrong).
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(p) = pipe {
        let _ = tokio::io::AsyncReadExt::read_to_end(
            &mut tokio::io::AsyncReadExt::take(p, MAX_CAPTURE),
            &mut buf,
        )
        .await;
    }
    buf
}
