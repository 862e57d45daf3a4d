//! Running one operator command: a cleared environment, its own process group (so a timeout or
//! a cancel ends everything it started), an optional address-space limit and sandbox, and its
//! output read line by line.
//!
//! stdout and stderr are one pipe, as CI runners do (GitLab's, GitHub's): with two pipes the
//! order between them is lost as soon as both hold unread data, and a log whose error line comes
//! before the output that caused it misleads. The price is that stderr lines are not marked.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Jail;
use crate::git::runner::{SAFE_PATH, signal_group};
use crate::model::LogStream;

/// One line of a command's output (`LogStream::Output`), or of labforge's notes about it
/// (`LogStream::Note`).
pub struct LogLine {
    pub stream: LogStream,
    pub text: String,
}

pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    /// Added to `PATH` and `LANG`; without a `HOME` here, labforge's own is passed on.
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
    pub timeout: Duration,
    /// Address-space limit (RLIMIT_AS) of the command and everything it starts.
    pub memory: Option<u64>,
    /// Run inside bubblewrap; `program`, `workdir` and `env` are then as seen inside.
    pub jail: Option<Jail>,
    /// A control group the command joins before exec (its process and memory limits); what
    /// is left in it when the command ends is killed and the group removed.
    pub cgroup: Option<super::CheckGroup>,
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
    let mut cmd = match &spec.jail {
        Some(jail) => {
            let mut cmd = Command::new(jail.bwrap());
            cmd.args(jail.args(&spec.workdir))
                .arg("--")
                .arg(&spec.program)
                .args(&spec.args)
                .current_dir("/");
            cmd
        }
        None => {
            let mut cmd = Command::new(&spec.program);
            cmd.args(&spec.args).current_dir(&spec.workdir);
            cmd
        }
    };
    cmd.env_clear()
        .env("PATH", SAFE_PATH)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // HOME stays unless the spec says otherwise: deploy scripts reach other machines with the
    // service user's SSH keys.
    if !spec.env.iter().any(|(k, _)| k == "HOME")
        && let Some(home) = std::env::var_os("HOME")
    {
        cmd.env("HOME", home);
    }
    // bwrap passes its own environment on to the command it starts.
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(bytes) = spec.memory {
        limit_address_space(&mut cmd, bytes);
    }
    if let Some(group) = &spec.cgroup {
        join_cgroup(&mut cmd, group.join_fds());
    }
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
    let out = tokio::spawn(pump(output, LogStream::Output, log));
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
    if let Some(group) = spec.cgroup {
        // Kills stragglers (with a few short waits) and removes the group, off the async threads.
        let _ = tokio::task::spawn_blocking(move || drop(group)).await;
    }
    Ok(ending)
}

/// Moves the child into its control group between fork and exec (writing `0` to an open
/// `cgroup.procs` moves the writer), so everything it starts is inside from the first fork.
fn join_cgroup(cmd: &mut Command, fds: Vec<std::os::fd::RawFd>) {
    // SAFETY: the closure runs in the forked child before exec and only calls write(2) on
    // descriptors opened before the fork, which is async-signal-safe; the Vec was allocated
    // before the fork and is only read.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Sets RLIMIT_AS in the child between fork and exec; inherited by everything it starts (a
/// sandbox's processes included).
fn limit_address_space(cmd: &mut Command, bytes: u64) {
    use nix::sys::resource::{Resource, setrlimit};
    // SAFETY: the closure runs in the forked child before exec and only calls setrlimit(2),
    // which is async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            setrlimit(Resource::RLIMIT_AS, bytes, bytes).map_err(std::io::Error::from)
        });
    }
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

async fn pump(stream: impl AsyncRead + Unpin, kind: LogStream, log: mpsc::Sender<LogLine>) {
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

async fn send_line(log: &mpsc::Sender<LogLine>, kind: LogStream, line: &mut Vec<u8>) -> bool {
    let text = String::from_utf8_lossy(line)
        .trim_end_matches(['\n', '\r'])
        .to_owned();
    line.clear();
    log.send(LogLine { stream: kind, text }).await.is_ok()
}
