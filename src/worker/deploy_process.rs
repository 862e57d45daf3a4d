//! Running one deploy command: a clean export of the commit as its working folder, a cleared
//! environment, its own process group (so a timeout or cancel ends everything it started), and
//! stdout/stderr read line by line into the log.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::deploy_log::LogLine;
use crate::git::runner::{SAFE_PATH, signal_group};
use crate::git::{GitRunner, RepoDir};

/// Exports `commit` of `repo` into `dest` (created; must not exist), unpacking git's tar
/// stream as it comes.
pub async fn export(
    runner: &GitRunner,
    repo: &RepoDir,
    commit: &str,
    dest: &Path,
) -> anyhow::Result<()> {
    let mut git = runner.spawn_export_tar(repo, commit)?;
    let stdout = git
        .child
        .stdout
        .take()
        .context("git archive's stdout is piped")?;
    // A plain blocking file, read on a blocking thread by the (synchronous) tar reader.
    let stdout = std::fs::File::from(stdout.into_owned_fd()?);
    let stderr = git.child.stderr.take();
    let folder = dest.to_path_buf();
    let unpack = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        std::fs::create_dir_all(&folder)?;
        // Buffered: the tar reader asks for 512-byte headers, each a syscall on a bare pipe.
        let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(1 << 18, stdout));
        archive.set_preserve_permissions(true);
        // unpack() refuses entries that would land outside `folder`.
        archive.unpack(&folder).context("unpacking the export")?;
        // git writes padding after the end-of-archive block; read it all so git never writes
        // to a closed pipe (and dies of SIGPIPE after a good export).
        std::io::copy(&mut archive.into_inner(), &mut std::io::sink())?;
        Ok(())
    });
    let errors = async move {
        let mut buf = Vec::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_end(&mut buf).await;
        }
        buf
    };
    let (unpacked, errors) = tokio::join!(unpack, errors);
    let status = git.child.wait().await.context("waiting for git archive")?;
    // An unpacking error comes first: it is the cause when git then failed on a closed pipe.
    unpacked??;
    anyhow::ensure!(
        status.success(),
        "git archive failed ({status}): {}",
        String::from_utf8_lossy(&errors).trim()
    );
    Ok(())
}

pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
    pub timeout: Duration,
}

pub enum Ending {
    Exited(Option<i32>),
    TimedOut,
    Stopped,
}

/// Runs the command to its end, the timeout or `stop`, sending its output to `log`.
pub async fn run(
    spec: Spec,
    log: mpsc::Sender<LogLine>,
    stop: CancellationToken,
) -> anyhow::Result<Ending> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.workdir)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // HOME stays: scripts reach other machines with the service user's SSH keys.
    if let Some(home) = std::env::var_os("HOME") {
        cmd.env("HOME", home);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", spec.program.display()))?;
    let pid = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        let body = spec.stdin;
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await; // a script that ignores stdin closes it early
        });
    }
    let out = tokio::spawn(pump(child.stdout.take(), 'o', log.clone()));
    let err = tokio::spawn(pump(child.stderr.take(), 'e', log));
    let ending = tokio::select! {
        status = child.wait() => Ending::Exited(status?.code()),
        () = tokio::time::sleep(spec.timeout) => Ending::TimedOut,
        () = stop.cancelled() => Ending::Stopped,
    };
    if !matches!(ending, Ending::Exited(_)) {
        end_group(pid, &mut child).await;
    } else if let Some(pid) = pid {
        // The command is done; anything it left running in its group goes too.
        signal_group(pid, nix::sys::signal::Signal::SIGKILL);
    }
    let _ = tokio::join!(out, err);
    Ok(ending)
}

/// SIGTERM to the group, SIGKILL five seconds later if the leader is still there.
async fn end_group(pid: Option<u32>, child: &mut tokio::process::Child) {
    let Some(pid) = pid else { return };
    signal_group(pid, nix::sys::signal::Signal::SIGTERM);
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait().await;
    }
    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
}

/// Longest line kept whole; the rest of a longer line is read and dropped (a script printing a
/// megabyte without a newline must not grow memory).
const LINE_CAP: usize = 8192;

async fn pump(stream: Option<impl AsyncRead + Unpin>, kind: char, log: mpsc::Sender<LogLine>) {
    let Some(stream) = stream else { return };
    let mut reader = BufReader::new(stream);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (take, ends_line) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = LINE_CAP.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take);
        if ends_line && !send_line(&log, kind, &mut line).await {
            return;
        }
    }
    if !line.is_empty() {
        send_line(&log, kind, &mut line).await;
    }
}

async fn send_line(log: &mpsc::Sender<LogLine>, kind: char, line: &mut Vec<u8>) -> bool {
    let text = String::from_utf8_lossy(line)
        .trim_end_matches(['\n', '\r'])
        .to_owned();
    line.clear();
    log.send(LogLine { stream: kind, text }).await.is_ok()
}
