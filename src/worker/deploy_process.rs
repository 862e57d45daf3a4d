//! Running one deploy command: the commit's files as its working folder, a cleared
//! environment, its own process group (so a timeout or cancel ends everything it started), and
//! its output read line by line into the log.
//!
//! stdout and stderr are one pipe, as CI runners do (GitLab's, GitHub's): with two pipes the
//! order between them is lost as soon as both hold unread data, and a log whose error line comes
//! before the output that caused it misleads. The price is that stderr lines are not marked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::deploy_log::LogLine;
use crate::git::runner::{SAFE_PATH, signal_group};
use crate::git::{GitRunner, RepoDir};

/// Makes `folder/tree` hold exactly `commit`'s files and returns it: the run's working folder.
/// The folder is kept between runs of one deploy (which never overlap), so only what changed
/// is written (see `GitRunner::sync_work_tree`); on any trouble (a run killed while git wrote,
/// a folder a script broke) it starts over from an empty folder.
pub async fn prepare_folder(
    runner: &GitRunner,
    repo: &RepoDir,
    commit: &str,
    folder: &Path,
) -> anyhow::Result<PathBuf> {
    let tree = folder.join("tree");
    let index = folder.join("index");
    // Left by a run killed while git wrote the index; nothing else writes here now.
    let _ = tokio::fs::remove_file(folder.join("index.lock")).await;
    if tokio::fs::metadata(&tree).await.is_ok_and(|m| m.is_dir()) {
        match runner.sync_work_tree(repo, commit, &tree, &index).await {
            Ok(()) => return Ok(tree),
            Err(e) => tracing::warn!(
                error = %format!("{e:#}"),
                folder = %folder.display(),
                "updating a deploy's folder failed; writing it afresh"
            ),
        }
    }
    if let Err(e) = tokio::fs::remove_dir_all(folder).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(e).with_context(|| format!("clearing {}", folder.display()));
    }
    tokio::fs::create_dir_all(&tree)
        .await
        .with_context(|| format!("creating {}", tree.display()))?;
    runner
        .sync_work_tree(repo, commit, &tree, &index)
        .await
        .context("writing the commit's files")?;
    Ok(tree)
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

/// Runs the command to its end, the timeout or `stop`, sending its output to `log`;
/// `started` gets its pid (the leader of its process group) once it runs.
pub async fn run(
    spec: Spec,
    log: mpsc::Sender<LogLine>,
    stop: CancellationToken,
    started: impl FnOnce(u32),
) -> anyhow::Result<Ending> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.workdir)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // HOME stays: scripts reach other machines with the service user's SSH keys.
    if let Some(home) = std::env::var_os("HOME") {
        cmd.env("HOME", home);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    let (output, writer) = std::io::pipe().context("making the output pipe")?;
    cmd.stdout(writer.try_clone().context("sharing the output pipe")?)
        .stderr(writer);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", spec.program.display()))?;
    // The command keeps copies of the pipe's write end; while they live the reader never ends.
    drop(cmd);
    let output = tokio::net::unix::pipe::Receiver::from_owned_fd(output.into())
        .context("reading the output pipe")?;
    let pid = child.id();
    if let Some(pid) = pid {
        started(pid);
    }
    if let Some(mut stdin) = child.stdin.take() {
        let body = spec.stdin;
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await; // a script that ignores stdin closes it early
        });
    }
    let out = tokio::spawn(pump(Some(output), 'o', log));
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
    let _ = out.await;
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
