//! Running under systemd, with the real binary: `READY=1` on `NOTIFY_SOCKET` once the forge
//! answers, `WATCHDOG=1` pings at the asked pace, `STOPPING=1` on SIGTERM; and SIGHUP reloading
//! deploys, checks and webhook settings while a deploy runs, a clone goes on and a kept-alive
//! connection stays open, a broken configuration refused with the old one kept.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::cli::free_port;
use crate::helpers::*;

mod unit;

pub(super) const BIN: &str = env!("CARGO_BIN_EXE_labforge");

/// systemd's side of the protocol: a datagram socket the service writes to.
pub(super) struct Systemd {
    socket: UnixDatagram,
    pub(super) path: std::path::PathBuf,
}

impl Systemd {
    pub(super) fn new(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Self { socket, path }
    }

    /// The messages that arrive within `secs`, until one contains `until` (at most 200).
    pub(super) fn read_until(&self, secs: u64, until: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline && got.len() < 200 {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = text.contains(until);
                got.push(text);
                if done {
                    break;
                }
            }
        }
        assert!(
            got.iter().any(|m| m.contains(until)),
            "no {until:?} within {secs} s; got {got:?}"
        );
        got
    }
}

/// `labforge serve` in `dir` with its own database, `config` as its file, told about `systemd`.
async fn serve(dir: &Path, port: u16, systemd: &Systemd, extra: &[(&str, &str)]) -> Child {
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", fresh_database_url().await)
        .env("LABFORGE_DATA_DIR", dir.join("data"))
        .env("LABFORGE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("LABFORGE_SSH_ADDR", "127.0.0.1:0")
        .env("NOTIFY_SOCKET", &systemd.path)
        .envs(extra.iter().copied())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    cmd.spawn().expect("serve starts")
}

fn signal(child: &Child, signal: Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id().expect("running") as i32);
    nix::sys::signal::kill(pid, signal).unwrap();
}

pub(super) fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}

async fn healthz(port: u16) -> bool {
    reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_ok_and(|r| r.status().is_success())
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_says_ready_once_it_answers_feeds_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let systemd = Systemd::new(dir.path());
    let port = free_port();
    // A 1 s watchdog: pings every half second.
    let mut server = serve(dir.path(), port, &systemd, &[("WATCHDOG_USEC", "1000000")]).await;

    let first = tokio::task::block_in_place(|| systemd.read_until(60, "READY=1"));
    assert!(
        first.last().unwrap().starts_with("READY=1"),
        "READY=1 comes first: {first:?}"
    );
    // Ready means answering: no retry needed.
    assert!(
        healthz(port).await,
        "healthz answers at READY=1:\n{}",
        log(dir.path())
    );
    let started = Instant::now();
    let mut pings = 0;
    while pings < 4 {
        let got = tokio::task::block_in_place(|| systemd.read_until(5, "WATCHDOG=1"));
        pings += got.iter().filter(|m| *m == "WATCHDOG=1").count();
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "4 pings at a 0.5 s pace took {took:?}"
    );

    signal(&server, Signal::SIGTERM);
    tokio::task::block_in_place(|| systemd.read_until(30, "STOPPING=1"));
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("serve stops")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_deploys_and_checks_keeps_work_going_and_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script = |name: &str, body: &str| {
        let path = d.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    };
    // The slow deploy waits (at most 60 s) for the test's go-ahead.
    script(
        "slow.sh",
        &format!(
            "echo started >> {d}/slow.txt\nfor i in $(seq 600); do [ -e {d}/go ] && break; sleep 0.1; done\necho \"$LABFORGE_NEW\" >> {d}/slow.txt\n",
            d = d.display()
        ),
    );
    script(
        "fast.sh",
        &format!("echo \"$LABFORGE_NEW\" >> {}/fast.txt\n", d.display()),
    );
    script(
        "refuse.sh",
        "echo 'refused by the reloaded check'\nexit 1\n",
    );
    let slow =
        "[[deploy]]\nname = \"slow\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"slow.sh\"\n";
    let config = d.join("labforge.toml");
    std::fs::write(&config, slow).unwrap();

    let systemd = Systemd::new(d);
    let port = free_port();
    let database = fresh_database_url().await;
    let server = serve(
        d,
        port,
        &systemd,
        &[
            ("LABFORGE_CONFIG", config.to_str().unwrap()),
            ("DATABASE_URL", &database),
        ],
    )
    .await;
    tokio::task::block_in_place(|| systemd.read_until(60, "READY=1"));
    let url = alice_repo(d, &config, &database, port);
    let local = d.join("local");
    std::fs::create_dir_all(&local).unwrap();
    local_repo(&local, 1).await;
    git_ok(&local, &["push", "-q", &url, "HEAD:main"]).await;
    eventually_true(60, "the slow deploy to start", || {
        std::fs::read_to_string(d.join("slow.txt")).is_ok_and(|t| t.contains("started"))
    })
    .await;

    // A kept-alive connection, half-way through its next request when the signals come.
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    conn.write_all(request.as_bytes()).await.unwrap();
    assert!(read_response(&mut conn).await.starts_with("HTTP/1.1 200"));
    conn.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();

    // 1. A file that does not parse: refused, the old configuration stays.
    std::fs::write(&config, format!("{slow}[[deploy]\nname = ")).unwrap();
    signal(&server, Signal::SIGHUP);
    tokio::task::block_in_place(|| systemd.read_until(30, "READY=1"));
    eventually_true(30, "the refusal to be logged", || {
        log(d).contains("configuration reload refused, the running configuration stays")
    })
    .await;
    assert!(log(d).contains("labforge.toml"), "{}", log(d));
    // 2. A deploy whose script is not executable: refused too.
    std::fs::write(
        &config,
        format!("{slow}[[deploy]]\nname = \"x\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"missing.sh\"\n"),
    )
    .unwrap();
    signal(&server, Signal::SIGHUP);
    eventually_true(30, "the second refusal to be logged", || {
        log(d).contains("deploy x: run =")
    })
    .await;

    // Webhooks to this machine are refused by the default allow list...
    let token = url
        .split_once("alice:")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(token, _)| token.to_owned())
        .unwrap();
    let add_hook = || async {
        reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{port}/api/v1/repos/alice/dns/hooks"
            ))
            .header("Authorization", format!("token {token}"))
            .json(&serde_json::json!({
                "type": "gitea",
                "config": {"url": "http://127.0.0.1:9/hook", "content_type": "json"},
                "events": ["push"],
                "active": true
            }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(add_hook().await, 422, "loopback is not in the default list");

    // 3. A good one: a second deploy, a check that refuses everything and webhooks allowed to
    //    this machine, reloaded while a clone runs.
    std::fs::write(
        &config,
        format!(
            "{slow}[[deploy]]\nname = \"fast\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"fast.sh\"\n\
             [[check]]\nname = \"refuse\"\nrepo = \"alice/dns\"\nbranch = \"gated\"\nrun = \"refuse.sh\"\n\
             [webhook]\nallowed_hosts = \"loopback\"\n"
        ),
    )
    .unwrap();
    let clone = {
        let (d, url) = (d.to_path_buf(), url.clone());
        tokio::spawn(async move { git(&d, &["clone", "-q", &url, "during-reload"]).await })
    };
    signal(&server, Signal::SIGHUP);
    let messages = tokio::task::block_in_place(|| systemd.read_until(30, "READY=1"));
    assert!(
        messages.iter().any(|m| m.contains("RELOADING=1")),
        "{messages:?}"
    );
    eventually_true(30, "the reload to be logged", || {
        log(d).contains("configuration reloaded")
    })
    .await;
    let cloned = clone.await.unwrap();
    assert!(cloned.status.success(), "{}", stderr(&cloned));

    // The half-sent request is finished on the same connection and answered.
    conn.write_all(b"Host: localhost\r\n\r\n").await.unwrap();
    assert!(read_response(&mut conn).await.starts_with("HTTP/1.1 200"));

    // The deploy that was running when the signals came finishes, and succeeds.
    std::fs::write(d.join("go"), "").unwrap();
    let head = git_ok(&local, &["rev-parse", "HEAD"]).await;
    eventually_true(60, "the slow deploy to finish", || {
        std::fs::read_to_string(d.join("slow.txt")).is_ok_and(|t| t.contains(head.trim()))
    })
    .await;
    eventually_true(30, "its run to be recorded as succeeded", || {
        log(d).contains("deploy=slow status=\"succeeded\"")
            || log(d).contains("deploy=slow status=succeeded")
    })
    .await;

    // The reloaded configuration is in force: the new deploy runs on the next push, and the
    // new check refuses the branch it guards.
    git_ok(&local, &["commit", "-q", "--allow-empty", "-m", "two"]).await;
    git_ok(&local, &["push", "-q", &url, "HEAD:main"]).await;
    let two = git_ok(&local, &["rev-parse", "HEAD"]).await;
    eventually_true(60, "the reloaded fast deploy to run", || {
        std::fs::read_to_string(d.join("fast.txt")).is_ok_and(|t| t.contains(two.trim()))
    })
    .await;
    assert_eq!(
        add_hook().await,
        201,
        "the reloaded allow list lets loopback in"
    );
    let gated = git(&local, &["push", &url, "HEAD:gated"]).await;
    assert!(!gated.status.success(), "the reloaded check refuses");
    assert!(
        stderr(&gated).contains("refused by the reloaded check"),
        "{}",
        stderr(&gated)
    );
    assert!(!log(d).contains("panicked"), "{}", log(d));
    drop(server);
}

/// One HTTP/1.1 response with a Content-Length body, read whole (bounded by the read timeout).
async fn read_response(conn: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
        assert!(got.len() < 1 << 20, "an answer of bounded size");
    }
}

/// As `cargo install --path .` leaves it: the binary alone in a `bin/` folder, run from a folder
/// with no source tree. Pages and static files come from inside it; `hooks path` writes the
/// shipped scripts out into the data folder, or names the package's folder when there is one.
#[tokio::test(flavor = "multi_thread")]
async fn a_lone_binary_serves_pages_and_static_files_and_finds_its_hooks() {
    let prefix = tempfile::tempdir().unwrap();
    let bin = prefix.path().join("bin/labforge");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    if std::fs::hard_link(BIN, &bin).is_err() {
        std::fs::copy(BIN, &bin).unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let systemd = Systemd::new(work.path());
    let port = free_port();
    let log = std::fs::File::create(work.path().join("serve.log")).unwrap();
    let server = Command::new(&bin)
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", fresh_database_url().await)
        .env("LABFORGE_DATA_DIR", &data)
        .env("LABFORGE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("LABFORGE_SSH_ADDR", "127.0.0.1:0")
        .env("NOTIFY_SOCKET", &systemd.path)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::task::block_in_place(|| systemd.read_until(60, "READY=1"));
    for (path, needle) in [("/", "<html"), ("/-/static/copy.js", "clipboard")] {
        let answer = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        let body = answer.text().await.unwrap();
        assert!(body.contains(needle), "{path}: {body}");
    }
    drop(server);

    let hooks_path = || {
        let out = std::process::Command::new(&bin)
            .current_dir(work.path())
            .env_clear()
            .env("LABFORGE_DATA_DIR", &data)
            .args(["hooks", "path"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    };
    let written = hooks_path();
    assert_eq!(written, data.join("hooks"));
    let rsync = written.join("deploy-rsync.sh");
    assert_eq!(
        std::fs::read_to_string(&rsync).unwrap(),
        include_str!("../../../hooks/deploy-rsync.sh")
    );
    let ok = std::process::Command::new("sh")
        .args(["-n"])
        .arg(&rsync)
        .status()
        .unwrap();
    assert!(ok.success(), "a complete shell script");

    // A package's layout beside the binary wins.
    let packaged = prefix.path().join("share/labforge/hooks");
    std::fs::create_dir_all(&packaged).unwrap();
    for entry in std::fs::read_dir(&written).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), packaged.join(entry.file_name())).unwrap();
    }
    assert_eq!(hooks_path(), packaged);
}

/// alice, her private alice/dns and a token, made with the admin commands against `database`;
/// returns the push URL with the token in it.
pub(super) fn alice_repo(d: &Path, config: &Path, database: &str, port: u16) -> String {
    let admin = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LABFORGE_DATA_DIR", d.join("data"))
            .env("LABFORGE_CONFIG", config)
            .env("DATABASE_URL", database)
            .arg("admin")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let create = [
        "user",
        "create",
        "alice",
        "--email",
        "alice@example.org",
        "--admin",
        "--password-stdin",
    ];
    admin(&create, "a long password\n");
    admin(&["repo", "create", "alice/dns"], "");
    let token = admin(&["token", "create", "alice", "--title", "t"], "");
    format!(
        "http://alice:{}@127.0.0.1:{port}/alice/dns.git",
        token.trim()
    )
}
