//! Issue 21, items 2 and 13: archives of a tree bomb are refused before git starts (web `.tar.gz`
//! and `.zip`, and `git archive --remote` over SSH) while `/healthz` answers; a normal archive is
//! git's own, byte for byte; git's memory is bounded by the mechanism picked at start (a clone
//! and an upkeep of a long history still succeed under it); and a multiplexed SSH connection
//! (OpenSSH ControlMaster) counts open sessions, not opened ones.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::bounds::tree_bomb::tree_bomb;
use crate::bounds::{Served, Watch};
use crate::helpers::*;
use crate::ssh::{SshClient, keygen, public_key, stdout, user_with_key};

/// How long a refusal may take: the count stops at 300,000 entries, well under a second of
/// work; the rest is room for a machine shared with other builds.
const REFUSAL_BOUND: Duration = Duration::from_secs(20);

/// Processes whose command line names `what` (a repository path) and runs an archive.
fn archive_processes(what: &Path) -> usize {
    let needle = what.to_str().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmd| {
            let cmd = String::from_utf8_lossy(cmd);
            cmd.contains("archive") && cmd.contains(needle)
        })
        .count()
}

/// `git archive ARGS` run locally in `dir`: the bytes git itself makes.
async fn local_archive(dir: &Path, args: &[&str]) -> Vec<u8> {
    let mut all = vec!["archive"];
    all.extend_from_slice(args);
    let out = git(dir, &all).await;
    assert!(out.status.success(), "git {all:?}: {}", stderr(&out));
    out.stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn archives_of_a_tree_bomb_are_refused_at_once_and_normal_ones_are_gits_own() {
    let server = Served::start(&[]).await;
    server.alice_with_repo("bomb").await;
    server
        .admin(&["repo", "create", "alice/small", "--public"], "")
        .await;
    let work = server.data.path().join("work");
    let key = keygen(&work.join("keys"), "alice", "ed25519");
    server
        .admin(
            &["key", "add", "alice", "--title", "laptop"],
            &public_key(&key),
        )
        .await;
    let ssh = SshClient::at(server.data.path(), &work, server.ssh_port, &key);
    // The memory mechanism is picked at start and named in the log.
    let log = server.log_text();
    assert!(
        log.contains("git children's memory: bounded by a cgroup v2 memory controller")
            || log.contains("git children's memory: no cgroup v2 memory controller here"),
        "{log}"
    );

    let local = work.join("bomb");
    tree_bomb(&local).await;
    git_ok(&local, &["push", "-q", &server.url("alice/bomb"), "main"]).await;

    let watch = Watch::start(server.port, server.pid());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let started = Instant::now();
    let http = |ext: &str| {
        let (client, url) = (
            client.clone(),
            format!("{}/alice/bomb/archive/main.{ext}", server.base),
        );
        async move {
            let res = client.get(url).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let remote = format!("--remote={}", ssh.url("alice/bomb"));
    let over_ssh = || async {
        ssh.git(&work, &["archive", &remote, "--format=tar", "main"])
            .await
    };
    // Three of each at once: more than one core's worth, as an attacker would send them.
    let (webs, sshs) = tokio::join!(
        futures_util::future::join_all(
            ["tar.gz", "zip", "tar.gz", "zip", "tar.gz", "zip"].map(http)
        ),
        futures_util::future::join_all((0..3).map(|_| over_ssh())),
    );
    let took = started.elapsed();
    for (status, text) in webs {
        assert_eq!(status, 400, "{text}");
        assert!(
            text.contains("more than 300000 files and folders, too many for an archive here"),
            "{text}"
        );
    }
    for out in sshs {
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("NACK"), "{err}");
        assert!(err.contains("too many for an archive here"), "{err}");
    }
    assert!(took < REFUSAL_BOUND, "refusals took {took:?}");
    // Refused before git started: no archive process of the bomb runs (or ran on).
    let bomb_repo = server.data.path().join("repos/alice/bomb.git");
    assert_eq!(archive_processes(&bomb_repo), 0);
    watch.finish().await;

    // A normal archive is exactly what git makes of the same commit.
    let small = work.join("small");
    local_repo(&small, 3).await;
    git_ok(&small, &["push", "-q", &server.url("alice/small"), "main"]).await;
    for (ext, format) in [("tar.gz", "--format=tar.gz"), ("zip", "--format=zip")] {
        let res = client
            .get(format!("{}/alice/small/archive/main.{ext}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let served = res.bytes().await.unwrap();
        let own = local_archive(&small, &[format, "--prefix=small-main/", "main"]).await;
        assert!(!own.is_empty());
        assert!(served == own, "the {ext} archive differs from git's own");
    }
    let remote = format!("--remote={}", ssh.url("alice/small"));
    let out = ssh
        .git(&small, &["archive", &remote, "--format=tar", "main"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout == local_archive(&small, &["--format=tar", "main"]).await);
    // Options git would read differently from the check are refused, with the reason.
    let out = ssh
        .git(&small, &["archive", &remote, "--pref=x/", "main"])
        .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not accepted here"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nine_and_more_sessions_on_one_controlmaster_connection_all_succeed() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let control = app.work.path().join("cm");
    let mut direct = SshClient::new(&app, &key);
    direct.extra = vec!["-o".into(), format!("ControlPath={}", control.display())];
    // The master: one connection, no session of its own, in the background once signed in.
    let mut master = std::process::Command::new("ssh");
    master
        .args(direct.options())
        .args([
            "-M",
            "-N",
            "-f",
            "-p",
            &app.ssh_port.to_string(),
            "git@127.0.0.1",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    assert!(master.status().unwrap().success());
    // Every later client rides on it: it names a closed port, so a client that fell back to a
    // connection of its own (OpenSSH does when the master refuses a session) would fail.
    let mut ssh = SshClient::at(
        app.data.path(),
        app.work.path(),
        crate::cli::free_port(),
        &key,
    );
    ssh.extra = vec![
        "-o".into(),
        format!("ControlPath={}", control.display()),
        "-o".into(),
        "ControlMaster=no".into(),
    ];
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    ssh.git_ok(&src, &["push", "-q", &ssh.url("alice/dns"), "main"])
        .await;
    // Sessions the server closes first (a command's, a git service's), well past the cap of 8.
    for i in 0..12 {
        let out = ssh.run(&["whoami"]).await;
        assert!(out.status.success(), "session {i}: {}", stderr(&out));
        assert!(stdout(&out).contains("alice"), "session {i}");
        let refs = ssh
            .git_ok(&src, &["ls-remote", &ssh.url("alice/dns")])
            .await;
        assert!(refs.contains("refs/heads/main"), "session {i}");
    }
    // The master connection is still up.
    let check = |op: &str| {
        std::process::Command::new("ssh")
            .args(direct.options())
            .args(["-O", op, "-p", &app.ssh_port.to_string(), "git@127.0.0.1"])
            .output()
            .unwrap()
    };
    assert!(check("check").status.success());
    assert!(check("exit").status.success());
}

/// A fast-import stream of `n` commits on main, each changing one of 50 files.
fn history(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let msg = format!("commit {i}\n");
        let body = format!("line {i}\n{}\n", "x".repeat(i % 200));
        s.push_str(&format!(
            "commit refs/heads/main\ncommitter T <t@lab.test> {} +0000\ndata {}\n{msg}M 100644 inline f{}.txt\ndata {}\n{body}\n",
            1_700_000_000 + i,
            msg.len(),
            i % 50,
            body.len(),
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clone_and_an_upkeep_of_a_long_history_succeed_under_the_memory_cap() {
    const COMMITS: usize = 3_000;
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "long", false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    let mut import = tokio::process::Command::new("git")
        .current_dir(&src)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", &src)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut import.stdin.take().unwrap(),
        history(COMMITS).as_bytes(),
    )
    .await
    .unwrap();
    assert!(import.wait().await.unwrap().success());
    app.push(&src, ("alice", "alice-password"), "alice/long", &["main"])
        .await;
    // Upkeep (repack with bitmaps, commit-graph, pack-refs: its last step) runs under the cap.
    let server = app.server_repo("alice/long");
    eventually_true(120, "upkeep to finish its last step", || {
        let bitmap = std::fs::read_dir(server.join("objects/pack"))
            .unwrap()
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "bitmap"));
        bitmap
            && server.join("objects/info/commit-graph").exists()
            && server.join("packed-refs").exists()
    })
    .await;
    let clone = app.workdir("clone");
    let url = app.url(None, "alice/long");
    git_ok(
        app.work.path(),
        &["clone", "-q", &url, clone.to_str().unwrap()],
    )
    .await;
    let count = git_ok(&clone, &["rev-list", "--count", "main"]).await;
    assert_eq!(count.trim(), COMMITS.to_string());
    git_ok(&clone, &["fsck", "--no-progress"]).await;
    // And the repository on the server is whole after its repack.
    let out = std::process::Command::new("git")
        .args([
            "--git-dir",
            server.to_str().unwrap(),
            "fsck",
            "--no-progress",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
