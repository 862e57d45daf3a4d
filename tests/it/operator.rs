//! The operator's day with the real `labforge admin` beside a running server: a locked-out
//! admin's password, disabling a user (nothing works for them anywhere, sessions end),
//! deleting one, keys, tokens, collaborators, deleting and renaming repositories. Also: a
//! password change on the web ends the user's other sessions.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::helpers::*;
use crate::ssh::{SshClient, user_with_key};
use crate::web_auth::{client, page, post, post_login, session};

const BIN: &str = env!("CARGO_BIN_EXE_labforge");

/// `labforge admin ARGS` on the app's own data and database; returns (ok, stdout, stderr).
pub(crate) async fn admin(app: &TestApp, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LABFORGE_DATA_DIR", app.data.path())
        .env("DATABASE_URL", app.database_url())
        .arg("admin")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
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

pub(crate) async fn admin_ok(app: &TestApp, args: &[&str], stdin: &str) -> String {
    let (ok, out, err) = admin(app, args, stdin).await;
    assert!(ok, "admin {args:?} failed: {err}");
    out
}

/// The status of GET `path` under the API with `token`.
pub(crate) async fn api_status(app: &TestApp, token: &str, path: &str) -> u16 {
    client()
        .get(format!("{}/api/v1{path}", app.base))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn passwd_disable_enable_and_delete_a_user() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", true).await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    let token = app
        .create_token("alice", labforge::model::TokenScope::Write)
        .await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let web = session(&app, "alice", "alice-password").await;
    let other = session(&app, "alice", "alice-password").await;

    // passwd: the only way back for a locked-out admin; every session ends.
    let (ok, _, err) = admin(
        &app,
        &["user", "passwd", "alice", "--password-stdin"],
        "short\n",
    )
    .await;
    assert!(!ok && err.contains("at least 8 characters"), "{err}");
    let (ok, _, err) = admin(
        &app,
        &["user", "passwd", "nobody", "--password-stdin"],
        "long enough\n",
    )
    .await;
    assert!(!ok && err.contains("there is no user 'nobody'"), "{err}");
    admin_ok(
        &app,
        &["user", "passwd", "alice", "--password-stdin"],
        "the-new-password\n",
    )
    .await;
    for cookie in [&web, &other] {
        let (status, html) = page(&app, cookie, "/settings/keys").await;
        assert_eq!(status, 401, "the session ended: {html}");
    }
    assert_eq!(
        post_login(&app, "alice", "alice-password", "/")
            .await
            .status(),
        401
    );
    let web = session(&app, "alice", "the-new-password").await;

    // disable: web, API (token and password), HTTP git and SSH all refuse; sessions end.
    let out = admin_ok(&app, &["user", "disable", "alice"], "").await;
    assert_eq!(out, "", "messages go to stderr");
    let (status, _) = page(&app, &web, "/settings/keys").await;
    assert_eq!(status, 401, "the disabled user's session ended");
    let res = post_login(&app, "alice", "the-new-password", "/").await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("disabled"));
    assert_eq!(api_status(&app, &token, "/user").await, 403);
    let basic = client()
        .get(format!("{}/api/v1/user", app.base))
        .basic_auth("alice", Some("the-new-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 403);
    let clone = app.workdir("clone");
    let out = git(
        app.work.path(),
        &[
            "clone",
            &app.url(Some(("alice", &token)), "alice/dns"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    assert!(!out.status.success(), "HTTP git refused");
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
    let ssh = SshClient::new(&app, &key);
    let out = ssh.run(&["whoami"]).await;
    assert!(!out.status.success(), "SSH refused");
    let out = ssh
        .git(
            app.work.path(),
            &["clone", &ssh.url("alice/dns"), "ssh-clone"],
        )
        .await;
    assert!(!out.status.success(), "git over SSH refused");
    let listed = admin_ok(&app, &["user", "list"], "").await;
    assert_eq!(listed, "alice\talice@lab.test\tuser\tdisabled\n");

    // enable: everything works again.
    admin_ok(&app, &["user", "enable", "alice"], "").await;
    assert_eq!(api_status(&app, &token, "/user").await, 200);
    let out = ssh.run(&["whoami"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(Some(("alice", &token)), "alice/dns"),
            clone.to_str().unwrap(),
        ],
    )
    .await;

    // delete: refused while alice owns a repository, naming it; bob owns none and goes.
    let (ok, _, err) = admin(&app, &["user", "delete", "alice"], "").await;
    assert!(!ok && err.contains("alice owns alice/dns"), "{err}");
    app.create_user("bob", "bob-password").await;
    app.add_collaborator("alice/dns", "bob", "read").await;
    admin_ok(&app, &["user", "delete", "bob"], "").await;
    let listed = admin_ok(&app, &["user", "list"], "").await;
    assert_eq!(listed, "alice\talice@lab.test\tuser\tactive\n");
    assert_eq!(
        admin_ok(&app, &["collaborator", "list", "alice/dns"], "").await,
        ""
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_users_open_ssh_connection_runs_nothing_more() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    let mut ssh = SshClient::new(&app, &key);
    let control = app.work.path().join("control");
    ssh.extra = vec![
        "-o".into(),
        "ControlMaster=auto".into(),
        "-o".into(),
        format!("ControlPath={}", control.display()),
        "-o".into(),
        "ControlPersist=60".into(),
    ];
    let out = ssh.run(&["whoami"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    admin_ok(&app, &["user", "disable", "alice"], "").await;
    let out = ssh.run(&["whoami"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("disabled"), "{}", stderr(&out));
    let _ = tokio::process::Command::new("ssh")
        .args([
            "-o",
            &format!("ControlPath={}", control.display()),
            "-O",
            "exit",
            "x",
        ])
        .output()
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_tokens_collaborators_and_repositories() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    let second = user_with_key(&app, "alice", "rsa").await;

    // key list / remove (by fingerprint and by id); a removed key no longer signs in.
    let keys = admin_ok(&app, &["key", "list", "alice"], "").await;
    let rows: Vec<Vec<&str>> = keys.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{keys}");
    assert!(
        rows[0][1].starts_with("SHA256:") && rows[0][2] == "ssh-ed25519",
        "{keys}"
    );
    assert_eq!(rows[0][5], "never");
    admin_ok(&app, &["key", "remove", "alice", rows[0][1]], "").await;
    admin_ok(&app, &["key", "remove", "alice", rows[1][0]], "").await;
    assert_eq!(admin_ok(&app, &["key", "list", "alice"], "").await, "");
    let (ok, _, err) = admin(&app, &["key", "remove", "alice", "SHA256:nope"], "").await;
    assert!(!ok && err.contains("alice has no key SHA256:nope"), "{err}");
    for k in [&key, &second] {
        let out = SshClient::new(&app, k).run(&["whoami"]).await;
        assert!(!out.status.success(), "a removed key is refused");
    }

    // token list / revoke.
    let token = admin_ok(
        &app,
        &[
            "token", "create", "alice", "--title", "ci", "--scope", "read",
        ],
        "",
    )
    .await
    .trim()
    .to_owned();
    let listed = admin_ok(&app, &["token", "list", "alice"], "").await;
    let row: Vec<&str> = listed.trim().split('\t').collect();
    assert_eq!(
        (row[1], row[2], row[5]),
        ("ci", "read", "never"),
        "{listed}"
    );
    assert_eq!(api_status(&app, &token, "/user").await, 200);
    admin_ok(&app, &["token", "revoke", "alice", row[0]], "").await;
    assert_eq!(api_status(&app, &token, "/user").await, 401);
    let (ok, _, err) = admin(&app, &["token", "revoke", "alice", row[0]], "").await;
    assert!(!ok && err.contains("has no token"), "{err}");

    // collaborator list / remove.
    admin_ok(&app, &["repo", "create", "alice/dns"], "").await;
    admin_ok(
        &app,
        &[
            "collaborator",
            "add",
            "alice/dns",
            "bob",
            "--access",
            "write",
        ],
        "",
    )
    .await;
    assert_eq!(
        admin_ok(&app, &["collaborator", "list", "alice/dns"], "").await,
        "bob\twrite\n"
    );
    admin_ok(&app, &["collaborator", "remove", "alice/dns", "bob"], "").await;
    assert_eq!(
        admin_ok(&app, &["collaborator", "list", "alice/dns"], "").await,
        ""
    );
    let (ok, _, err) = admin(&app, &["collaborator", "remove", "alice/dns", "bob"], "").await;
    assert!(
        !ok && err.contains("bob is not a collaborator on alice/dns"),
        "{err}"
    );

    // repo rename: the folder and its history move with it; the old name is gone.
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    admin_ok(&app, &["repo", "rename", "alice/dns", "zones"], "").await;
    assert!(!app.server_repo("alice/dns").exists());
    let clone = app.workdir("renamed");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(Some(("alice", "alice-password")), "alice/zones"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        git_ok(&clone, &["rev-parse", "HEAD"]).await,
        git_ok(&src, &["rev-parse", "HEAD"]).await
    );
    admin_ok(&app, &["repo", "create", "alice/dns"], "").await;
    let (ok, _, err) = admin(&app, &["repo", "rename", "alice/zones", "dns"], "").await;
    assert!(!ok && err.contains("already exists"), "{err}");
    assert_eq!(
        admin_ok(&app, &["repo", "list"], "").await,
        "alice/dns\tprivate\t\nalice/zones\tprivate\t\n"
    );

    // repo delete: only with --yes, and the folder goes to the trash.
    let (ok, _, err) = admin(&app, &["repo", "delete", "alice/zones"], "").await;
    assert!(!ok && err.contains("--yes"), "{err}");
    admin_ok(&app, &["repo", "delete", "alice/zones", "--yes"], "").await;
    assert_eq!(
        admin_ok(&app, &["repo", "list"], "").await,
        "alice/dns\tprivate\t\n"
    );
    let trash: Vec<String> = std::fs::read_dir(app.data.path().join("repos/.trash"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        trash
            .iter()
            .any(|n| n.ends_with("-deleted-alice-zones.git")),
        "{trash:?}"
    );
    let (ok, _, err) = admin(&app, &["repo", "delete", "alice/nope", "--yes"], "").await;
    assert!(
        !ok && err.contains("there is no repository alice/nope"),
        "{err}"
    );
    let _ = client;
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_on_the_web_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let here = session(&app, "alice", "alice-password").await;
    let laptop = session(&app, "alice", "alice-password").await;
    let (_, html) = page(&app, &here, "/settings/password").await;
    let csrf = crate::web_auth::hidden(&html, "csrf");
    let (status, html) = post(
        &app,
        &here,
        "/settings/password",
        &[
            ("csrf", &csrf),
            ("current", "alice-password"),
            ("new", "a-better-password"),
            ("confirm", "a-better-password"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Your password was changed."), "{html}");
    assert_eq!(
        page(&app, &here, "/settings/keys").await.0,
        200,
        "this one stays"
    );
    assert_eq!(
        page(&app, &laptop, "/settings/keys").await.0,
        401,
        "the other ended"
    );
}
