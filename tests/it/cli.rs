//! The real `labforge` binary: `serve` with its own PostgreSQL cluster (no DATABASE_URL), the
//! admin commands, crash recovery after `kill -9`, and a clean SIGTERM shutdown.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_labforge");

pub(crate) fn labforge(data: &Path, port: u16) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LABFORGE_DATA_DIR", data)
        .env("LABFORGE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("LABFORGE_SSH_ADDR", "127.0.0.1:0")
        .env("LABFORGE_UPKEEP_DELAY_SECS", "3600")
        .kill_on_drop(true);
    cmd
}

/// Runs an admin command with `stdin`; returns (success, stdout, stderr).
pub(crate) async fn admin(data: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = labforge(data, 0)
        .arg("admin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labforge runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn serve(data: &Path, port: u16) -> Child {
    let log = std::fs::File::create(data.join(format!("serve-{}.log", random_hex(3)))).unwrap();
    let child = labforge(data, port)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts");
    wait_healthy(port).await;
    child
}

fn postmaster_pid(data: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data.join("pg/data/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_its_own_postgres_survives_kill_9_and_stops_cleanly() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let work = data.join("work");

    // Admin commands start the cluster themselves (initdb on first use) and stop it after.
    let (ok, _, err) = admin(
        data,
        &[
            "user",
            "create",
            "alice",
            "--email",
            "alice@lab.test",
            "--password-stdin",
        ],
        "alice-password\n",
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        postmaster_pid(data).is_none(),
        "an admin command stops the cluster it started"
    );
    let (ok, _, err) = admin(
        data,
        &[
            "user",
            "create",
            "Alice",
            "--email",
            "other@lab.test",
            "--password-stdin",
        ],
        "x-password\n",
    )
    .await;
    assert!(
        !ok && err.contains("a user with that name already exists"),
        "{err}"
    );
    let (ok, _, err) = admin(
        data,
        &[
            "user",
            "create",
            "../x",
            "--email",
            "x@lab.test",
            "--password-stdin",
        ],
        "x-password\n",
    )
    .await;
    assert!(!ok && err.contains("user name"), "{err}");
    let (ok, _, err) = admin(
        data,
        &["repo", "create", "alice/dns", "--description", "DNS zones"],
        "",
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, _) = admin(data, &["repo", "list"], "").await;
    assert!(ok);
    assert_eq!(out, "alice/dns\tprivate\tDNS zones\n", "private by default");
    let (ok, token, err) = admin(data, &["token", "create", "alice", "--title", "ci"], "").await;
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    assert!(
        token.starts_with("lf_") && !token.contains('\n'),
        "the token alone: {token:?}"
    );
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAGzC5KUB16oCYBiinwbyRhEcZYlQ5ec1ecYLcopPXN9 test@lab\n";
    let (ok, fingerprint, err) =
        admin(data, &["key", "add", "alice", "--title", "laptop"], key).await;
    assert!(ok, "{err}");
    assert_eq!(
        fingerprint.trim(),
        "SHA256:9fF9ieAqxiDEdI8kkRF5Roy1hMadNw/j9fbrNu7uVkM"
    );
    let (ok, _, err) = admin(data, &["key", "add", "alice", "--title", "again"], key).await;
    assert!(!ok && err.contains("already in use"), "{err}");

    // serve: its own cluster, healthy, and a push lands.
    let port = free_port();
    let mut server = serve(data, port).await;
    let pg_user = std::fs::metadata(data.join("pg/data"))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    if nix::unistd::geteuid().is_root() {
        assert_ne!(pg_user, 0, "PostgreSQL must not run as root");
    }
    let src = work.join("src");
    local_repo(&src, 2).await;
    let url = format!("http://alice:{token}@127.0.0.1:{port}/alice/dns.git");
    git_ok(&src, &["push", "-q", &url, "main"]).await;

    // Admin commands work beside a running serve and leave its cluster alone.
    let (ok, out, _) = admin(data, &["user", "list"], "").await;
    assert!(ok && out.contains("alice\talice@lab.test\tuser"), "{out}");
    wait_healthy(port).await;

    // Crash 1: kill -9 serve; PostgreSQL is still running and is adopted by the next start.
    server.kill().await.unwrap();
    let pid = postmaster_pid(data).expect("cluster still running after serve died");
    assert!(alive(pid));
    let mut server = serve(data, port).await;
    assert_eq!(
        postmaster_pid(data),
        Some(pid),
        "the running cluster was reused"
    );

    // Crash 2: serve and PostgreSQL both killed: a stale postmaster.pid is left behind.
    server.kill().await.unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually_true(30, "the killed postmaster to exit", || !alive(pid)).await;
    assert_eq!(postmaster_pid(data), Some(pid), "a stale pid file is left");
    let mut server = serve(data, port).await;
    let clone = work.join("clone");
    git_ok(&work, &["clone", "-q", &url, clone.to_str().unwrap()]).await;
    assert_eq!(
        git_ok(&clone, &["rev-parse", "HEAD"]).await,
        git_ok(&src, &["rev-parse", "HEAD"]).await
    );

    // SIGTERM: graceful exit, cluster stopped.
    let serve_pid = server.id().expect("running") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve_pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        postmaster_pid(data).is_none(),
        "the cluster was stopped with serve"
    );
}
