//! The database under a running `serve`: the managed PostgreSQL killed (serve notices and starts
//! it again), an external one (`DATABASE_URL`) restarted (the pool reconnects), a start-up that
//! fails after starting the cluster (it is stopped again), and the start-up checks.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use labforge::postgres::{ClusterOptions, ManagedCluster};

use crate::cli::{admin, free_port, labforge, serve};
use crate::helpers::*;

fn postmaster_pid(data: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data.join("pg/data/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

async fn health(port: u16) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

async fn commit(dir: &Path, n: &str) {
    std::fs::write(dir.join(format!("{n}.txt")), format!("{n}\n")).unwrap();
    git_ok(dir, &["add", "."]).await;
    git_ok(dir, &["commit", "-q", "-m", n]).await;
}

/// A push while the database is away may fail, but it must end (bounded) and say why.
async fn push_during_outage(dir: &Path, url: &str) -> bool {
    let out = tokio::time::timeout(Duration::from_secs(90), git(dir, &["push", url, "main"]))
        .await
        .expect("a push during the outage ends");
    if !out.status.success() {
        let err = stderr(&out);
        assert!(
            err.contains("503") || err.contains("database is not answering"),
            "a clear error: {err}"
        );
    }
    out.status.success()
}

fn server_head(data: &Path) -> String {
    let out = std::process::Command::new("git")
        .args(["--git-dir"])
        .arg(data.join("repos/alice/dns.git"))
        .args(["rev-parse", "refs/heads/main"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn fsck(data: &Path) {
    let out = std::process::Command::new("git")
        .args(["--git-dir"])
        .arg(data.join("repos/alice/dns.git"))
        .args(["fsck", "--strict"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGTERM, as systemd stops a service; serve must exit 0 within a minute.
async fn stop_cleanly(server: &mut tokio::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id().expect("running") as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("serve stops")
        .unwrap();
    assert!(status.success(), "{status}");
}

async fn alice_and_dns(data: &Path) {
    let (ok, _, err) = admin(
        data,
        &[
            "user",
            "create",
            "alice",
            "--email",
            "a@lab.test",
            "--password-stdin",
        ],
        "alice-password\n",
    )
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = admin(data, &["repo", "create", "alice/dns", "--public"], "").await;
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_managed_postgres_is_started_again_and_nothing_is_lost() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    alice_and_dns(data).await;
    let port = free_port();
    let mut server = serve(data, port).await;
    let src = data.join("work");
    local_repo(&src, 1).await;
    let url = format!("http://alice:alice-password@127.0.0.1:{port}/alice/dns.git");
    git_ok(&src, &["push", "-q", &url, "main"]).await;
    let page = format!("http://127.0.0.1:{port}/alice/dns");
    assert_eq!(reqwest::get(&page).await.unwrap().status(), 200);

    let pid = postmaster_pid(data).expect("serve runs its cluster");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // During: errors are allowed, and clear; the server itself stays up.
    commit(&src, "during").await;
    let pushed_during = push_during_outage(&src, &url).await;
    let status = reqwest::get(&page).await.unwrap().status().as_u16();
    assert!(
        matches!(status, 200 | 503),
        "page during the outage: {status}"
    );

    // After: serve noticed and started PostgreSQL again by itself.
    eventually(90, "PostgreSQL to run again under serve", || async {
        let again = postmaster_pid(data).filter(|p| *p != pid && alive(*p));
        match again {
            Some(_) if health(port).await == Some(200) => Some(()),
            _ => None,
        }
    })
    .await;
    assert!(
        server.try_wait().unwrap().is_none(),
        "serve never restarted"
    );
    if !pushed_during {
        git_ok(&src, &["push", "-q", &url, "main"]).await;
    }
    commit(&src, "after").await;
    git_ok(&src, &["push", "-q", &url, "main"]).await;
    assert_eq!(reqwest::get(&page).await.unwrap().status(), 200);
    assert_eq!(
        server_head(data),
        git_ok(&src, &["rev-parse", "HEAD"]).await.trim(),
        "every push is there"
    );
    fsck(data);

    // serve started this cluster again, so it stops it when it stops.
    stop_cleanly(&mut server).await;
    assert!(
        postmaster_pid(data).is_none(),
        "the cluster was stopped with serve"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_database_that_restarts_is_reconnected_without_restarting_labforge() {
    // A separate throwaway PostgreSQL, as an operator's own server would be.
    let pg_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        pg_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let root = pg_dir.path().join("pg");
    let cluster = tokio::task::spawn_blocking(move || {
        ManagedCluster::ensure_started(&root, ClusterOptions { unsafe_fast: true })
    })
    .await
    .unwrap()
    .expect("a throwaway PostgreSQL starts");
    let cluster = std::sync::Arc::new(cluster);
    let server_options = cluster.connect_options("postgres");
    labforge::postgres::wait_ready(&server_options)
        .await
        .unwrap();
    labforge::storage::ensure_database(server_options, "forge")
        .await
        .unwrap();
    let database_url = format!(
        "postgres://labforge@localhost/forge?host={}",
        cluster.socket_dir().display()
    );

    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let with_db = |args: &[&str]| {
        let mut cmd = labforge(data, 0);
        cmd.env("DATABASE_URL", &database_url).args(args);
        cmd
    };
    let out = with_db(&[
        "admin",
        "user",
        "create",
        "alice",
        "--email",
        "a@lab.test",
        "--password-stdin",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut out = out;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = out.stdin.take().unwrap();
        stdin.write_all(b"alice-password\n").await.unwrap();
    }
    assert!(out.wait().await.unwrap().success());
    assert!(
        with_db(&["admin", "repo", "create", "alice/dns", "--public"])
            .stderr(Stdio::null())
            .status()
            .await
            .unwrap()
            .success()
    );
    let port = free_port();
    let log = std::fs::File::create(data.join("serve.log")).unwrap();
    let mut server = labforge(data, port)
        .env("DATABASE_URL", &database_url)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_healthy(port).await;
    let log_text = std::fs::read_to_string(data.join("serve.log")).unwrap();
    assert!(
        log_text.contains("external PostgreSQL, database forge as labforge over"),
        "{log_text}"
    );
    let src = data.join("work");
    local_repo(&src, 1).await;
    let url = format!("http://alice:alice-password@127.0.0.1:{port}/alice/dns.git");
    git_ok(&src, &["push", "-q", &url, "main"]).await;

    // The operator restarts their PostgreSQL: down for a while, then up again.
    let c = std::sync::Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.stop())
        .await
        .unwrap()
        .unwrap();
    eventually(
        60,
        "/healthz to say 503 while the database is down",
        || async { (health(port).await == Some(503)).then_some(()) },
    )
    .await;
    commit(&src, "during").await;
    let pushed_during = push_during_outage(&src, &url).await;
    assert!(!pushed_during, "nothing can be pushed without the database");
    let page = format!("http://127.0.0.1:{port}/alice/dns");
    let during = reqwest::get(&page).await.unwrap();
    assert_eq!(during.status(), 503);
    assert!(
        during
            .text()
            .await
            .unwrap()
            .contains("The database is not answering")
    );
    let c = std::sync::Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.restart_if_stopped())
        .await
        .unwrap()
        .unwrap();
    eventually(90, "/healthz to answer 200 again", || async {
        (health(port).await == Some(200)).then_some(())
    })
    .await;
    assert!(
        server.try_wait().unwrap().is_none(),
        "labforge was not restarted"
    );
    git_ok(&src, &["push", "-q", &url, "main"]).await;
    commit(&src, "after").await;
    git_ok(&src, &["push", "-q", &url, "main"]).await;
    assert_eq!(reqwest::get(&page).await.unwrap().status(), 200);
    assert_eq!(
        server_head(data),
        git_ok(&src, &["rev-parse", "HEAD"]).await.trim()
    );
    fsck(data);

    // The external database is the operator's: labforge never stops it.
    server.start_kill().unwrap();
    let _ = server.wait().await;
    let c = std::sync::Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_start_up_stops_the_cluster_it_started() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = labforge(data, port)
        .env("LABFORGE_LOG_FORMAT", "json")
        .arg("serve")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("binding HTTP on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        data.join("pg/data/PG_VERSION").exists(),
        "the cluster was made"
    );
    assert!(
        postmaster_pid(data).is_none(),
        "and stopped again: nothing left orphaned\n{err}"
    );
    // LABFORGE_LOG_FORMAT=json: every log line is a JSON object (the last line is the error).
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("error: ")).collect();
    assert!(!lines.is_empty(), "{err}");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    drop(taken);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_checks_name_the_deploy_path_and_the_unknown_word() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let config = data.join("labforge.toml");
    let run = |toml: String| {
        std::fs::write(&config, toml).unwrap();
        let mut cmd = labforge(data, free_port());
        cmd.env("LABFORGE_CONFIG", &config).arg("serve");
        cmd
    };
    let deploy = |script: &str| {
        format!(
            "[[deploy]]\nname = \"dns\"\nrepo = \"lab/dns\"\nbranch = \"main\"\nrun = \"{script}\"\n"
        )
    };
    let out = run(deploy("missing.sh")).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("deploy dns: run = {}/missing.sh", data.display())),
        "{err}"
    );
    std::fs::write(data.join("plain.sh"), "echo\n").unwrap();
    let out = run(deploy("plain.sh")).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not executable"));
    let out = run("[webhook]\nallowed_hosts = \"loopbak, private\"\n".into())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "'loopbak' is not a known word; the words are loopback, private, external and *"
        ),
        "{err}"
    );
    assert!(
        !data.join("pg").exists(),
        "refused before the cluster was touched"
    );

    let help = labforge(data, 0)
        .args(["serve", "--help"])
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for word in [
        "SSH server",
        "LABFORGE_DATA_DIR",
        "LABFORGE_SSH_ADDR",
        "DATABASE_URL",
        "LABFORGE_LOG_FORMAT",
    ] {
        assert!(help.contains(word), "serve --help names {word}:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_leaves_running_a_cluster_it_did_not_start() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    alice_and_dns(data).await;
    // The operator starts the cluster by hand (pg_ctl; no labforge marks it as its own).
    let root = data.join("pg");
    let cluster = tokio::task::spawn_blocking(move || {
        ManagedCluster::ensure_started(&root, ClusterOptions::default())
    })
    .await
    .unwrap()
    .unwrap();
    std::fs::remove_file(data.join("pg/started-by")).unwrap();
    let pid = postmaster_pid(data).expect("running");
    let port = free_port();
    let mut server = serve(data, port).await;
    stop_cleanly(&mut server).await;
    assert_eq!(postmaster_pid(data), Some(pid));
    assert!(
        alive(pid),
        "serve left the cluster it did not start running"
    );
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}
