//! Where mirrors and imports may connect, and how: `[mirror] allowed_hosts` at save time and
//! after DNS at each connection, git pinned to the checked address, redirects refused, only
//! known transports, one error text for every unreachable far side, a deadline per sync,
//! parallel syncs, and fsck on what a fetch brings. Far sides are real (git daemon, `git
//! http-backend`, bare TCP listeners) on loopback addresses.

use std::net::IpAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::cli::free_port;
use crate::helpers::*;
use crate::mirrors::{ALLOW_LOOPBACK, api, bare, far_http, far_http_on, refs, wait_address};
use labforge::model::TokenScope;

async fn user_with_repo(app: &TestApp) -> String {
    app.create_user("alice", "alice-password-1").await;
    app.create_repo("alice", "dns", true).await;
    app.create_token("alice", TokenScope::Write).await
}

async fn migrate(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    api(app, token, "POST", "/repos/migrate", body).await
}

async fn add_mirror(app: &TestApp, token: &str, repo: &str, body: Value) -> (u16, Value) {
    api(
        app,
        token,
        "POST",
        &format!("/repos/alice/{repo}/push_mirrors"),
        body,
    )
    .await
}

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_owned()
}

/// A TCP listener on `address` that accepts, counts and holds every connection, never
/// answering: a tarpit, or a decoy that shows whether anything connected.
async fn silent_listener(address: &str, port: u16) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind((address, port)).await.unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    accepted
}

/// Answers whatever arrives first on 127.0.0.1:`port` (an HTTP request, or git daemon's
/// request line) with `response`, then closes.
async fn http_answering(port: u16, response: String) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if !matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {
                    return;
                }
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
}

async fn git_daemon(root: &Path, address: &str, port: u16) -> Child {
    let child = Command::new("git")
        .args(["daemon", "--reuseaddr", "--export-all"])
        .arg(format!("--listen={address}"))
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", root.display()))
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_address(address, port).await;
    child
}

/// An upstream bare repository `root/NAME.git` with `commits` commits on main.
async fn upstream(app: &TestApp, root: &Path, name: &str, commits: usize) -> std::path::PathBuf {
    let repo = root.join(format!("{name}.git"));
    bare(&repo).await;
    let src = app.workdir(&format!("{name}-work"));
    local_repo(&src, commits).await;
    git_ok(&src, &["push", "-q", repo.to_str().unwrap(), "main"]).await;
    repo
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_in_every_spelling_and_transport_is_refused_when_saved() {
    let app = TestApp::spawn().await;
    let token = user_with_repo(&app).await;
    for host in [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0",
        "127.1",
        "[::ffff:127.0.0.1]",
        "localhost",
    ] {
        let imports = [
            format!("http://{host}:3000/x.git"),
            format!("https://{host}/x.git"),
            format!("git://{host}/x.git"),
        ];
        for url in imports {
            let (status, body) = migrate(
                &app,
                &token,
                json!({"clone_addr": url, "repo_name": "imported"}),
            )
            .await;
            assert_eq!(status, 422, "{url}: {body}");
            let m = message(&body);
            assert!(
                m.contains("mirrors and imports may not go to")
                    && m.contains("[mirror] allowed_hosts (LABFORGE_MIRROR_ALLOWED_HOSTS) is \"private,external\""),
                "{url}: {m}"
            );
        }
        let mirrors = [
            (format!("http://{host}:3000/x.git"), false),
            (format!("https://{host}:3000/x.git"), false),
            (format!("ssh://git@{host}/x.git"), true),
            (format!("git@{host}:x.git"), true),
        ];
        for (url, use_ssh) in mirrors {
            let (status, body) = add_mirror(
                &app,
                &token,
                "dns",
                json!({"remote_address": url, "use_ssh": use_ssh,
                       "remote_username": "u", "remote_password": "t"}),
            )
            .await;
            assert_eq!(status, 422, "{url}: {body}");
            assert!(
                message(&body).contains("[mirror] allowed_hosts"),
                "{url}: {body}"
            );
        }
    }
    assert!(
        !app.server_repo("alice/imported").exists(),
        "no repository is left behind"
    );
    let (_, list) = api(
        &app,
        &token,
        "GET",
        "/repos/alice/dns/push_mirrors",
        Value::Null,
    )
    .await;
    assert_eq!(list, json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_transports_are_refused_with_the_list_of_accepted_ones() {
    let app = TestApp::spawn_with(&[("LABFORGE_MIRROR_ALLOWED_HOSTS", "*")]).await;
    let token = user_with_repo(&app).await;
    for url in [
        "ext::sh",
        "fd::0",
        "fd::0,1",
        "file:///etc",
        "/srv/git/x.git",
        "ftp://h/x.git",
    ] {
        let (status, body) =
            migrate(&app, &token, json!({"clone_addr": url, "repo_name": "x"})).await;
        assert_eq!(status, 422, "{url}: {body}");
        let (status, mirror) = add_mirror(
            &app,
            &token,
            "dns",
            json!({"remote_address": url, "use_ssh": true}),
        )
        .await;
        assert_eq!(status, 422, "{url}: {mirror}");
        for m in [message(&body), message(&mirror)] {
            assert!(
                m.contains("https://host/path, http://host/path, ssh://[user@]host[:port]/path, user@host:path or git://host/path"),
                "{url}: {m}"
            );
        }
    }
    // A push mirror over git:// is refused, naming exactly what push mirrors take.
    let (status, body) = add_mirror(
        &app,
        &token,
        "dns",
        json!({"remote_address": "git://far.lab/x.git", "use_ssh": true}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        message(&body).contains(
            "https://host/path, http://host/path, ssh://[user@]host[:port]/path or user@host:path"
        ),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_not_followed_and_unreachable_far_sides_read_alike() {
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let token = user_with_repo(&app).await;
    // A redirect to another port (no credentials given: the case git used to follow).
    let target = free_port();
    let reached = silent_listener("127.0.0.1", target).await;
    let redirector = free_port();
    http_answering(
        redirector,
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{target}/x.git/info/refs?service=git-upload-pack\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    let (status, body) = migrate(
        &app,
        &token,
        json!({"clone_addr": format!("http://127.0.0.1:{redirector}/x.git"), "repo_name": "r"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );

    // A closed port, a web server that is not git, a redirect: one text, over http and git://.
    let web = free_port();
    http_answering(
        web,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".into(),
    )
    .await;
    let closed = free_port();
    let mut texts = vec![message(&body).replace(&redirector.to_string(), "PORT")];
    // (A name each: a failed import's folder goes to the trash under a name with the second.)
    for (i, (scheme, port)) in [
        ("http", closed),
        ("http", web),
        ("git", closed),
        ("git", web),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = migrate(
            &app,
            &token,
            json!({"clone_addr": format!("{scheme}://127.0.0.1:{port}/x.git"), "repo_name": format!("r{i}")}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        texts.push(
            message(&body)
                .replace(&port.to_string(), "PORT")
                .replace("git://", "http://"),
        );
    }
    assert!(
        texts[0].contains("no git repository at that address"),
        "{texts:?}"
    );
    assert!(texts.iter().all(|t| *t == texts[0]), "{texts:#?}");
    for name in ["r", "r0", "r1", "r2", "r3"] {
        assert!(
            !app.server_repo(&format!("alice/{name}")).exists(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn git_connects_only_to_the_checked_address_and_each_sync_checks_again() {
    // Only 127.0.0.2 is allowed. The check's resolver answers `localhost` with 127.0.0.2; the
    // system (/etc/hosts), which an unpinned git would ask itself, says 127.0.0.1, where a
    // decoy listens on the same port. Reaching the far side and never the decoy shows git used
    // the checked address, not a second lookup: what a rebinding DNS server would exploit.
    let app = TestApp::spawn_with(&[("LABFORGE_MIRROR_ALLOWED_HOSTS", "127.0.0.2/32")]).await;
    let token = user_with_repo(&app).await;
    let system: Vec<IpAddr> = tokio::net::lookup_host(("localhost", 0))
        .await
        .unwrap()
        .map(|a| a.ip())
        .collect();
    assert!(
        !system.contains(&"127.0.0.2".parse::<IpAddr>().unwrap()),
        "{system:?}"
    );
    app.forge
        .egress()
        .answer_name("localhost", vec!["127.0.0.2".parse().unwrap()]);
    let far = tempfile::tempdir().unwrap();
    let fw = upstream(&app, far.path(), "fw", 2).await;

    // git:// (the URL given to git names the address)
    let port = free_port();
    let decoy = silent_listener("127.0.0.1", port).await;
    let _daemon = git_daemon(far.path(), "127.0.0.2", port).await;
    let (status, body) = migrate(
        &app,
        &token,
        json!({"clone_addr": format!("git://localhost:{port}/fw.git"), "repo_name": "fw"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(refs(&app.server_repo("alice/fw")).await, refs(&fw).await);

    // http:// (http.curloptResolve), as a pull mirror
    let http_port = free_port();
    let http_decoy = silent_listener("127.0.0.1", http_port).await;
    let _far_http = far_http_on(far.path(), "127.0.0.2", http_port, "puller", "pull-token-1").await;
    let (status, body) = migrate(
        &app,
        &token,
        json!({"clone_addr": format!("http://localhost:{http_port}/fw.git"), "repo_name": "fw2",
               "mirror": true, "auth_username": "puller", "auth_token": "pull-token-1"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(refs(&app.server_repo("alice/fw2")).await, refs(&fw).await);
    assert_eq!(
        decoy.load(Ordering::SeqCst),
        0,
        "git:// never reached 127.0.0.1"
    );
    assert_eq!(
        http_decoy.load(Ordering::SeqCst),
        0,
        "http never reached 127.0.0.1"
    );

    // The name now points elsewhere: the next sync is refused before git starts.
    app.forge
        .egress()
        .answer_name("localhost", vec!["127.0.0.1".parse().unwrap()]);
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/fw2/mirror-sync",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let grant = app.grant("alice/fw2").await;
    let error = eventually(30, "the refused sync", || async {
        let m = app.forge.pull_mirror(&grant).await.unwrap().unwrap();
        (!m.last_error.is_empty()).then_some(m.last_error)
    })
    .await;
    assert!(
        error.contains("localhost resolves to 127.0.0.1, which mirror allowed_hosts (127.0.0.2/32) does not allow"),
        "{error}"
    );
    assert_eq!(http_decoy.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tarpit_mirror_does_not_hold_other_repositories_and_meets_its_deadline() {
    let app =
        TestApp::spawn_with(&[ALLOW_LOOPBACK, ("LABFORGE_MIRROR_SYNC_TIMEOUT_SECS", "20")]).await;
    let token = user_with_repo(&app).await;
    app.create_repo("alice", "slow", true).await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    app.push(&src, ("alice", &token), "alice/dns", &["main"])
        .await;
    app.push(&src, ("alice", &token), "alice/slow", &["main"])
        .await;

    let tarpit_port = free_port();
    let tarpit = silent_listener("127.0.0.1", tarpit_port).await;
    let (status, body) = add_mirror(
        &app,
        &token,
        "slow",
        json!({"remote_address": format!("http://127.0.0.1:{tarpit_port}/x.git"),
               "remote_username": "u", "remote_password": "t"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    eventually_true(30, "the tarpit's connection", || {
        tarpit.load(Ordering::SeqCst) > 0
    })
    .await;

    let far = tempfile::tempdir().unwrap();
    let far_dns = far.path().join("dns.git");
    bare(&far_dns).await;
    let port = free_port();
    let _far = far_http(far.path(), port, "mirror", "token-1").await;
    let (status, body) = add_mirror(
        &app,
        &token,
        "dns",
        json!({"remote_address": format!("http://127.0.0.1:{port}/dns.git"),
               "remote_username": "mirror", "remote_password": "token-1"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let server = app.server_repo("alice/dns");
    eventually(
        15,
        "the other repository's sync beside the tarpit",
        || async { (refs(&far_dns).await == refs(&server).await).then_some(()) },
    )
    .await;
    let slow = app.grant("alice/slow").await;
    let held = app.forge.push_mirrors(&slow).await.unwrap().remove(0);
    assert!(held.syncing && held.last_error.is_empty(), "{held:?}");

    // The deadline (20 s here) ends the tarpit's sync with the usual text.
    let failed = eventually(50, "the tarpit sync's deadline", || async {
        let m = app.forge.push_mirrors(&slow).await.unwrap().remove(0);
        (!m.last_error.is_empty()).then_some(m)
    })
    .await;
    assert!(
        failed
            .last_error
            .contains("no git repository at that address"),
        "{failed:?}"
    );
}

/// Commits a tree holding `entry` (`.git/hooks/post-checkout` or `..`) on main in `repo`
/// through plumbing, which, unlike a push, does not run fsck.
async fn commit_bad_tree(repo: &Path, entry: &str) -> String {
    let hook = git_stdin(
        repo,
        &["hash-object", "-w", "--stdin"],
        "#!/bin/sh\ntouch /tmp/owned\n",
    )
    .await;
    let hooks = git_stdin(
        repo,
        &["mktree"],
        &format!("100755 blob {hook}\tpost-checkout\n"),
    )
    .await;
    let tree = match entry {
        ".git" => {
            let inner =
                git_stdin(repo, &["mktree"], &format!("040000 tree {hooks}\thooks\n")).await;
            git_stdin(repo, &["mktree"], &format!("040000 tree {inner}\t.git\n")).await
        }
        _ => git_stdin(repo, &["mktree"], &format!("040000 tree {hooks}\t..\n")).await,
    };
    let parent = git_ok(repo, &["rev-parse", "refs/heads/main"]).await;
    let commit = git_ok(
        repo,
        &["commit-tree", "-p", parent.trim(), "-m", "bad", &tree],
    )
    .await;
    git_ok(repo, &["update-ref", "refs/heads/main", commit.trim()]).await;
    commit.trim().to_owned()
}

async fn git_stdin(dir: &Path, args: &[&str], input: &str) -> String {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_and_pull_mirrors_refuse_trees_that_fsck_refuses() {
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let token = user_with_repo(&app).await;
    let far = tempfile::tempdir().unwrap();
    let dotgit = upstream(&app, far.path(), "dotgit", 1).await;
    commit_bad_tree(&dotgit, ".git").await;
    let dotdot = upstream(&app, far.path(), "dotdot", 1).await;
    commit_bad_tree(&dotdot, "..").await;
    let good = upstream(&app, far.path(), "good", 1).await;
    let port = free_port();
    let _daemon = git_daemon(far.path(), "127.0.0.1", port).await;

    for (name, check) in [("dotgit", "hasDotgit"), ("dotdot", "hasDotdot")] {
        let (status, body) = migrate(
            &app,
            &token,
            json!({"clone_addr": format!("git://127.0.0.1:{port}/{name}.git"), "repo_name": name}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(message(&body).contains(check), "{body}");
        assert!(!app.server_repo(&format!("alice/{name}")).exists());
    }

    // A pull mirror whose upstream later gains such a tree keeps what it had.
    let (status, body) = migrate(
        &app,
        &token,
        json!({"clone_addr": format!("git://127.0.0.1:{port}/good.git"), "repo_name": "good",
               "mirror": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let server = app.server_repo("alice/good");
    let before = refs(&server).await;
    commit_bad_tree(&good, ".git").await;
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/good/mirror-sync",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let grant = app.grant("alice/good").await;
    let error = eventually(30, "the refused sync", || async {
        let m = app.forge.pull_mirror(&grant).await.unwrap().unwrap();
        (!m.last_error.is_empty()).then_some(m.last_error)
    })
    .await;
    assert!(error.contains("hasDotgit"), "{error}");
    assert_eq!(
        refs(&server).await,
        before,
        "nothing of the bad commit landed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_push_mirrors_connect_only_to_the_checked_address() {
    // As above, over SSH: the far sshd listens on 127.0.0.2, a decoy on 127.0.0.1 (where the
    // system resolves `localhost`), and only ssh's `HostName` pin can reach the far side.
    let app = TestApp::spawn_with(&[("LABFORGE_MIRROR_ALLOWED_HOSTS", "127.0.0.2/32")]).await;
    let token = user_with_repo(&app).await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    app.push(&src, ("alice", &token), "alice/dns", &["main"])
        .await;
    app.forge
        .egress()
        .answer_name("localhost", vec!["127.0.0.2".parse().unwrap()]);
    let far = tempfile::tempdir().unwrap();
    let far_dns = far.path().join("dns.git");
    bare(&far_dns).await;
    let host_key = far.path().join("host");
    crate::mirrors::keygen(&host_key);
    std::fs::write(far.path().join("authorized_keys"), "").unwrap();
    let port = free_port();
    let decoy = silent_listener("127.0.0.1", port).await;
    let _sshd = crate::mirrors::far_sshd_on(far.path(), "127.0.0.2", port, &host_key).await;
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    let (status, made) = add_mirror(
        &app,
        &token,
        "dns",
        json!({"remote_address": format!("ssh://{user}@localhost:{port}{}", far_dns.display()),
               "use_ssh": true}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let public = made["public_key"].as_str().unwrap();
    std::fs::write(far.path().join("authorized_keys"), format!("{public}\n")).unwrap();
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/push_mirrors-sync",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let server = app.server_repo("alice/dns");
    eventually(30, "the sync over the pinned address", || async {
        (refs(&far_dns).await == refs(&server).await).then_some(())
    })
    .await;
    assert_eq!(
        decoy.load(Ordering::SeqCst),
        0,
        "ssh never reached 127.0.0.1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_one_parallel_sync_the_next_waits_and_the_low_speed_limit_ends_a_tarpit() {
    // One sync at a time, a 3 s low-speed window and the default 600 s deadline: the tarpit's
    // sync ends within seconds (only the low-speed limit can end it), and the other
    // repository's sync runs only after it (the bound holds).
    let app = TestApp::spawn_with(&[
        ALLOW_LOOPBACK,
        ("LABFORGE_MIRROR_PARALLEL_SYNCS", "1"),
        ("LABFORGE_MIRROR_LOW_SPEED_SECS", "3"),
    ])
    .await;
    let token = user_with_repo(&app).await;
    app.create_repo("alice", "slow", true).await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    app.push(&src, ("alice", &token), "alice/dns", &["main"])
        .await;
    app.push(&src, ("alice", &token), "alice/slow", &["main"])
        .await;
    let tarpit_port = free_port();
    let tarpit = silent_listener("127.0.0.1", tarpit_port).await;
    let (status, body) = add_mirror(
        &app,
        &token,
        "slow",
        json!({"remote_address": format!("http://127.0.0.1:{tarpit_port}/x.git"),
               "remote_username": "u", "remote_password": "t"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    eventually_true(30, "the tarpit's connection", || {
        tarpit.load(Ordering::SeqCst) > 0
    })
    .await;
    let far = tempfile::tempdir().unwrap();
    let far_dns = far.path().join("dns.git");
    bare(&far_dns).await;
    let port = free_port();
    let _far = far_http(far.path(), port, "mirror", "token-1").await;
    let (status, body) = add_mirror(
        &app,
        &token,
        "dns",
        json!({"remote_address": format!("http://127.0.0.1:{port}/dns.git"),
               "remote_username": "mirror", "remote_password": "token-1"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let slow = app.grant("alice/slow").await;
    let server = app.server_repo("alice/dns");
    let tarpit_error = eventually(30, "the other sync, after the tarpit's", || async {
        let synced = refs(&far_dns).await == refs(&server).await;
        let held = app.forge.push_mirrors(&slow).await.unwrap().remove(0);
        if synced {
            assert!(
                !held.last_error.is_empty(),
                "synced beside a running sync: {held:?}"
            );
            Some(held.last_error)
        } else {
            None
        }
    })
    .await;
    assert!(
        tarpit_error.contains("no git repository at that address"),
        "{tarpit_error}"
    );
}
