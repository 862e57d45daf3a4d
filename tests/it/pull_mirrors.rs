//! Pull mirrors and imports against real far sides on loopback: `git http-backend` behind basic
//! auth and `git daemon`.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use tokio::process::Command;

use crate::cli::free_port;
use crate::helpers::*;
use crate::mirrors::{api, bare, far_http, refs, wait_port};
use labforge::model::TokenScope;

/// Pushes `refs` from the work folder `src` straight into the far side's bare repository.
async fn push_upstream(src: &Path, far_repo: &Path, refs: &[&str]) {
    let mut args = vec!["push", "-q", "--force", far_repo.to_str().unwrap()];
    args.extend_from_slice(refs);
    git_ok(src, &args).await;
}

async fn commit(src: &Path, file: &str, text: &str) {
    std::fs::write(src.join(file), text).unwrap();
    git_ok(src, &["add", "."]).await;
    git_ok(src, &["commit", "-qm", text]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_mirror_follows_upstream_runs_the_deploy_once_and_refuses_pushes() {
    let etc = tempfile::tempdir().unwrap();
    let ran = etc.path().join("ran.txt");
    let script = etc.path().join("deploy.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$LABFORGE_NEW\" >> {}\n", ran.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = etc.path().join("labforge.toml");
    std::fs::write(
        &config,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&[
        ("LABFORGE_CONFIG", config.to_str().unwrap()),
        crate::mirrors::ALLOW_LOOPBACK,
    ])
    .await;
    app.create_user("alice", "alice-password-1").await;
    let token = app.create_token("alice", TokenScope::Write).await;

    let far = tempfile::tempdir().unwrap();
    let upstream = far.path().join("dns.git");
    bare(&upstream).await;
    let src = app.workdir("upstream-work");
    local_repo(&src, 2).await;
    git_ok(&src, &["branch", "topic"]).await;
    git_ok(&src, &["tag", "v1"]).await;
    push_upstream(&src, &upstream, &["main", "topic", "v1"]).await;
    let port = free_port();
    let mut far_side = far_http(far.path(), port, "puller", "pull-token-1").await;
    let clone_addr = format!("http://127.0.0.1:{port}/dns.git");

    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/migrate",
        serde_json::json!({
        "clone_addr": clone_addr, "repo_name": "dns", "mirror": true, "mirror_interval": "5m"}),
    )
    .await;
    assert!(status >= 400, "an interval under 10m is refused");
    let (status, made) = api(
        &app,
        &token,
        "POST",
        "/repos/migrate",
        serde_json::json!({
        "clone_addr": clone_addr, "repo_name": "dns", "mirror": true, "mirror_interval": "10m0s",
        "auth_username": "puller", "auth_token": "pull-token-1"}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["mirror"], true);
    let server = app.server_repo("alice/dns");
    assert_eq!(
        refs(&server).await,
        refs(&upstream).await,
        "imported as the remote has it"
    );
    assert!(!ran.exists(), "an import deploys nothing");

    // Pushes to the mirror are refused, with where to push instead.
    commit(&src, "zone.txt", "upstream change").await;
    let out = git(
        &src,
        &[
            "push",
            "-q",
            &app.url(Some(("alice", &token)), "alice/dns"),
            "main",
        ],
    )
    .await;
    assert!(
        !out.status.success() && stderr(&out).contains("mirrors"),
        "{}",
        stderr(&out)
    );

    // Upstream moves on, rewrites a branch and deletes a tag; a sync follows it exactly.
    git_ok(&src, &["branch", "-f", "topic", "HEAD~2"]).await;
    push_upstream(&src, &upstream, &["main", "topic", ":refs/tags/v1"]).await;
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/mirror-sync",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    eventually(30, "the sync", || async {
        (refs(&server).await == refs(&upstream).await).then_some(())
    })
    .await;
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await;
    eventually_true(30, "the deploy of the synced commit", || {
        std::fs::read_to_string(&ran).is_ok_and(|t| t == head)
    })
    .await;
    let grant = app.grant("alice/dns").await;
    let runs = app.forge.deploy_runs(&grant, 0).await.unwrap();
    assert_eq!(runs.len(), 1, "one deploy for one sync");
    assert_eq!(runs[0].triggered_by_name, "mirror");

    // Upstream unreachable: the error is shown; back again: the next sync succeeds.
    far_side.kill().await.unwrap();
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/mirror-sync",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let cookie = crate::web_auth::session(&app, "alice", "alice-password-1").await;
    eventually(30, "the error on the settings page", || async {
        let (_, page) = crate::web_auth::page(&app, &cookie, "/alice/dns/settings/mirrors").await;
        page.contains("git fetch failed").then_some(())
    })
    .await;
    let (_, page) = crate::web_auth::page(&app, &cookie, "/alice/dns/settings/mirrors").await;
    assert!(!page.contains("pull-token-1"), "the token is never shown");
    let _far_side = far_http(far.path(), port, "puller", "pull-token-1").await;
    commit(&src, "zone.txt", "while it was down").await;
    push_upstream(&src, &upstream, &["main"]).await;
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/mirror-sync",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let grant = app.grant("alice/dns").await;
    eventually(30, "the sync after the outage", || async {
        let mirror = app.forge.pull_mirror(&grant).await.unwrap().unwrap();
        (refs(&server).await == refs(&upstream).await && mirror.last_error.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_once_from_git_daemon_and_from_the_new_page() {
    let app = TestApp::spawn_with(&[crate::mirrors::ALLOW_LOOPBACK]).await;
    app.create_user("alice", "alice-password-1").await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let far = tempfile::tempdir().unwrap();
    let upstream = far.path().join("fw.git");
    bare(&upstream).await;
    let src = app.workdir("upstream-work");
    local_repo(&src, 3).await;
    push_upstream(&src, &upstream, &["main"]).await;
    let port = free_port();
    let _daemon = Command::new("git")
        .args([
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", far.path().display()))
        .arg(far.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_port(port).await;
    let (status, made) = api(
        &app,
        &token,
        "POST",
        "/repos/migrate",
        serde_json::json!({
        "clone_addr": format!("git://127.0.0.1:{port}/fw.git"), "repo_name": "fw"}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["mirror"], false);
    assert_eq!(
        refs(&app.server_repo("alice/fw")).await,
        refs(&upstream).await
    );
    // Not a mirror: it takes pushes.
    commit(&src, "rules.txt", "local change").await;
    app.push(&src, ("alice", &token), "alice/fw", &["main"])
        .await;

    // The /new page imports too; a bad URL says why and leaves no repository.
    let cookie = crate::web_auth::session(&app, "alice", "alice-password-1").await;
    let (_, form) = crate::web_auth::page(&app, &cookie, "/new").await;
    let csrf = crate::web_auth::hidden(&form, "csrf");
    let (status, page) = crate::web_auth::post(
        &app,
        &cookie,
        "/new",
        &[
            ("csrf", &csrf),
            ("name", "broken"),
            ("description", ""),
            ("clone_addr", &format!("git://127.0.0.1:{port}/missing.git")),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("importing git://"), "{page}");
    assert!(!app.server_repo("alice/broken").exists());
    let (status, _) = crate::web_auth::post(
        &app,
        &cookie,
        "/new",
        &[
            ("csrf", &csrf),
            ("name", "fw2"),
            ("description", ""),
            ("clone_addr", &format!("git://127.0.0.1:{port}/fw.git")),
            ("mirror", "on"),
            ("mirror_interval", "1h"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let mirror = app
        .forge
        .pull_mirror(&app.grant("alice/fw2").await)
        .await
        .unwrap()
        .expect("a pull mirror");
    assert_eq!(mirror.interval.as_secs(), 3600);
}
