//! `/-/admin`, the site administration pages: a user disabled there is refused at every door;
//! what the page does the CLI sees and the reverse (the same domain functions); the
//! configuration page shows no secret; the audit log names who did what; listings are paged
//! and capped; an admin cannot lock themselves out; a forged form changes nothing.

use labforge::model::{Email, TokenScope, Username};

use crate::helpers::*;
use crate::operator::{admin, admin_ok, api_status};
use crate::ssh::{SshClient, user_with_key};
use crate::web_auth::{client, hidden, page, post, post_login, session};

/// An app with the site admin `root` signed in; returns the app and root's session cookie.
async fn with_root(extra: &[(&str, &str)]) -> (TestApp, String) {
    let app = TestApp::spawn_with(extra).await;
    app.forge
        .create_user(
            &Username::parse("root").unwrap(),
            &Email::parse("root@lab.test").unwrap(),
            "root-password",
            true,
        )
        .await
        .expect("create the admin");
    let cookie = session(&app, "root", "root-password").await;
    (app, cookie)
}

/// Posts an admin form with the session's CSRF token (read from the users page).
async fn act(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let (status, html) = page(app, cookie, "/-/admin/users").await;
    assert_eq!(status, 200, "{html}");
    let csrf = hidden(&html, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    post(app, cookie, path, &form).await
}

/// The users page's row for `name`: its text between `<tr>` and `</tr>`.
async fn user_row(app: &TestApp, cookie: &str, name: &str) -> Option<String> {
    let (_, html) = page(app, cookie, "/-/admin/users").await;
    html.split("<tr>")
        .find(|row| row.contains(&format!("<a href=\"/{name}\">{name}</a>")))
        .map(|row| row.split("</tr>").next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_disabled_on_the_page_is_refused_at_every_door() {
    let (app, root) = with_root(&[]).await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", true).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let web = session(&app, "alice", "alice-password").await;

    let (status, html) = act(&app, &root, "/-/admin/users/alice/disable", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("alice is disabled"), "{html}");

    // Web: the session ended, and signing in again is refused, saying why.
    let (status, _) = page(&app, &web, "/settings/keys").await;
    assert_eq!(status, 401, "the disabled user's session ended");
    let res = post_login(&app, "alice", "alice-password", "/").await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("disabled"));
    // API: a token and a password alike.
    assert_eq!(api_status(&app, &token, "/user").await, 403);
    let basic = client()
        .get(format!("{}/api/v1/user", app.base))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 403);
    // HTTP git: with a token and with the password.
    for secret in [token.as_str(), "alice-password"] {
        let clone = app.workdir(&format!("clone-{}", secret.len()));
        let out = git(
            app.work.path(),
            &[
                "clone",
                &app.url(Some(("alice", secret)), "alice/dns"),
                clone.to_str().unwrap(),
            ],
        )
        .await;
        assert!(!out.status.success(), "HTTP git refused");
        assert!(stderr(&out).contains("403"), "{}", stderr(&out));
    }
    // SSH: a command and git alike.
    let ssh = SshClient::new(&app, &key);
    let out = ssh.run(&["whoami"]).await;
    assert!(!out.status.success(), "SSH refused");
    assert!(
        stderr(&out).contains("Permission denied"),
        "the key no longer signs in: {}",
        stderr(&out)
    );
    let out = ssh
        .git(
            app.work.path(),
            &["clone", &ssh.url("alice/dns"), "ssh-clone"],
        )
        .await;
    assert!(!out.status.success(), "git over SSH refused");

    // Enabled on the page: every door opens again.
    let (status, html) = act(&app, &root, "/-/admin/users/alice/enable", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(api_status(&app, &token, "/user").await, 200);
    let out = ssh.run(&["whoami"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    session(&app, "alice", "alice-password").await;
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(Some(("alice", &token)), "alice/dns"),
            app.workdir("clone-again").to_str().unwrap(),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_and_the_cli_see_each_others_changes_and_the_audit_log_names_both() {
    let (app, root) = with_root(&[]).await;

    // Page → CLI: a new user, made admin.
    let (status, html) = act(
        &app,
        &root,
        "/-/admin/users",
        &[
            ("name", "carol"),
            ("email", "carol@lab.test"),
            ("password", "carol-password"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Created carol."), "{html}");
    act(&app, &root, "/-/admin/users/carol/make-admin", &[]).await;
    let listed = admin_ok(&app, &["user", "list"], "").await;
    assert!(
        listed.contains("carol\tcarol@lab.test\tadmin\tactive\n"),
        "{listed}"
    );

    // CLI → page: disabled and admin revoked at the command line, seen on the page.
    admin_ok(&app, &["user", "disable", "carol"], "").await;
    admin_ok(&app, &["user", "revoke-admin", "carol"], "").await;
    let row = user_row(&app, &root, "carol").await.expect("carol listed");
    assert!(
        row.contains("disabled") && !row.contains(">admin<"),
        "{row}"
    );
    // Page → CLI again: enabled, the password reset (the new one signs in).
    act(&app, &root, "/-/admin/users/carol/enable", &[]).await;
    let (status, html) = act(
        &app,
        &root,
        "/-/admin/users/carol/password",
        &[("password", "carols-new-password")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The password of carol is changed"), "{html}");
    session(&app, "carol", "carols-new-password").await;
    let listed = admin_ok(&app, &["user", "list"], "").await;
    assert!(
        listed.contains("carol\tcarol@lab.test\tuser\tactive\n"),
        "{listed}"
    );

    // Delete: refused while carol owns a repository, naming it; done once she owns nothing.
    app.create_repo("carol", "notes", true).await;
    let (status, html) = act(&app, &root, "/-/admin/users/carol/delete", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("carol owns carol/notes"), "{html}");
    admin_ok(&app, &["repo", "delete", "carol/notes", "--yes"], "").await;
    let (_, html) = act(&app, &root, "/-/admin/users/carol/delete", &[]).await;
    assert!(html.contains("Deleted carol."), "{html}");
    let listed = admin_ok(&app, &["user", "list"], "").await;
    assert!(!listed.contains("carol"), "{listed}");
    // CLI-made user appears on the page.
    admin_ok(
        &app,
        &[
            "user",
            "create",
            "dave",
            "--email",
            "dave@lab.test",
            "--password-stdin",
        ],
        "dave-password\n",
    )
    .await;
    assert!(user_row(&app, &root, "dave").await.is_some());

    // The audit log: root's page actions and the operator's commands, newest first.
    let (status, html) = page(&app, &root, "/-/admin/audit").await;
    assert_eq!(status, 200, "{html}");
    let order = [
        ("operator", "create user <strong>dave</strong>"),
        ("root", "delete user <strong>carol</strong>"),
        ("root", "reset password <strong>carol</strong>"),
        ("root", "enable user <strong>carol</strong>"),
        ("operator", "revoke admin <strong>carol</strong>"),
        ("operator", "disable user <strong>carol</strong>"),
        ("root", "make admin <strong>carol</strong>"),
        ("root", "create user <strong>carol</strong>"),
    ];
    let mut at = 0;
    for (who, what) in order {
        let found = html[at..]
            .find(&format!("<td>{who}</td><td>{what}"))
            .unwrap_or_else(|| panic!("no '{who} {what}' after byte {at} in {html}"));
        at += found + 1;
    }
    // The refused deletion is not an action taken: it is not recorded.
    assert_eq!(html.matches("delete user").count(), 1, "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_configuration_page_shows_no_secret() {
    let conf = tempfile::tempdir().unwrap();
    let run = conf.path().join("deploy.sh");
    std::fs::write(&run, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let toml = r#"[[deploy]]
name = "dns"
repo = "alice/dns"
branch = "main"
run = "deploy.sh"
args = ["--key", "hunter2-in-args"]
env = { TARGET = "hunter2-plain-env" }
secret_env = { TSIG = "hunter2-in-args", TOKEN = "hunter2-secret-env" }

[[check]]
name = "lint"
repo = "alice/*"
branch = "*"
run = "deploy.sh"
"#;
    let file = conf.path().join("labforge.toml");
    std::fs::write(&file, toml).unwrap();
    let (app, root) = with_root(&[
        ("LABFORGE_CONFIG", file.to_str().unwrap()),
        (
            "DATABASE_URL",
            "postgres://lab:hunter2-db-password@db.invalid/labforge",
        ),
        ("LABFORGE_METRICS_ENABLED", "true"),
        ("LABFORGE_METRICS_TOKEN", "hunter2-metrics-token"),
    ])
    .await;
    let (status, html) = page(&app, &root, "/-/admin/config").await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("hunter2"), "a secret shows: {html}");
    assert!(html.contains("LABFORGE_METRICS_TOKEN"), "{html}");
    assert_eq!(html.matches("set (redacted)").count(), 2, "{html}");
    // The deploy and the check are listed, the environment by name only.
    assert!(html.contains("<strong>dns</strong>") && html.contains("<strong>lint</strong>"));
    let env = html
        .split("environment: ")
        .nth(1)
        .expect("the environment's names");
    let env = env.split('<').next().unwrap();
    for name in ["TARGET", "TSIG", "TOKEN"] {
        assert!(env.contains(name), "{env}");
    }
    assert!(html.contains("--key [redacted]"), "{html}");
    // The overview says the database is external without its address.
    let (status, html) = page(&app, &root, "/-/admin").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("external") && !html.contains("db.invalid"),
        "{html}"
    );
    assert!(html.contains(env!("CARGO_PKG_VERSION")), "{html}");
    assert!(html.contains("No scheduled backups"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn listings_are_paged_and_capped() {
    let (app, root) = with_root(&[]).await;
    let db = app.store().await;
    // 60 users besides root, straight into the table (hashing 60 passwords takes long).
    for i in 0..60 {
        db.insert_user(labforge::storage::NewUser {
            name: &format!("user{i:02}"),
            email: &format!("user{i:02}@lab.test"),
            password_hash: "not-a-hash",
            is_admin: false,
        })
        .await
        .unwrap();
        db.insert_audit("root", "test", &format!("entry{i:02}"), "")
            .await
            .unwrap();
    }
    let rows = |html: &str| html.matches("<details><summary>Actions").count();
    let (_, first) = page(&app, &root, "/-/admin/users").await;
    assert_eq!(rows(&first), labforge::domain::ADMIN_PAGE_ROWS as usize);
    assert!(
        first.contains("1–50 of 61") && first.contains("?page=2"),
        "{first}"
    );
    let (_, second) = page(&app, &root, "/-/admin/users?page=2").await;
    assert_eq!(rows(&second), 11);
    assert!(second.contains("51–61 of 61") && !second.contains("?page=3"));
    // A page beyond the cap is the last page served (no unbounded skip); nonsense is page 1.
    let (status, far) = page(&app, &root, "/-/admin/users?page=4000000000").await;
    assert_eq!(status, 200);
    assert!(
        far.contains("61 in all") && far.contains("?page=999"),
        "{far}"
    );
    let (_, junk) = page(&app, &root, "/-/admin/users?page=x").await;
    assert_eq!(rows(&junk), 50);
    let (_, audit) = page(&app, &root, "/-/admin/audit").await;
    assert_eq!(audit.matches("<td>root</td><td>test").count(), 50);
    assert!(
        audit.contains("entry59") && !audit.contains("entry09"),
        "newest first"
    );
    let (_, audit) = page(&app, &root, "/-/admin/audit?page=2").await;
    assert_eq!(audit.matches("<td>root</td><td>test").count(), 10);

    // Repositories: size on disk, last push, visibility, mirror state.
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", false).await;
    app.create_repo("alice", "vault", true).await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let (status, html) = page(&app, &root, "/-/admin/repos").await;
    assert_eq!(status, 200, "{html}");
    let row = |name: &str| {
        html.split("<tr>")
            .find(|r| r.contains(&format!(">alice/{name}</a>")))
            .unwrap_or_else(|| panic!("{name} listed: {html}"))
            .to_owned()
    };
    let dns = row("dns");
    assert!(
        dns.contains("public") && dns.contains("KiB") && !dns.contains("never"),
        "{dns}"
    );
    let vault = row("vault");
    assert!(
        vault.contains("private") && vault.contains("never"),
        "{vault}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_cannot_lock_themselves_out_and_a_forged_form_changes_nothing() {
    let (app, root) = with_root(&[]).await;
    app.create_user("alice", "alice-password").await;
    for action in ["disable", "revoke-admin", "delete"] {
        let (status, html) = act(&app, &root, &format!("/-/admin/users/root/{action}"), &[]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("your own account"), "{action}: {html}");
    }
    let listed = admin_ok(&app, &["user", "list"], "").await;
    assert!(
        listed.contains("root\troot@lab.test\tadmin\tactive"),
        "{listed}"
    );
    // A forged token: refused, alice stays enabled, nothing is recorded.
    let (status, _) = post(
        &app,
        &root,
        "/-/admin/users/alice/disable",
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(status, 403);
    let (ok, _, _) = admin(&app, &["user", "list"], "").await;
    assert!(ok);
    assert!(
        !user_row(&app, &root, "alice")
            .await
            .unwrap()
            .contains("disabled")
    );
    let (_, audit) = page(&app, &root, "/-/admin/audit").await;
    assert!(audit.contains("Nothing recorded yet."), "{audit}");
    // Revoked admins lose the pages at their next request; another admin's session sees a 404.
    admin_ok(&app, &["user", "make-admin", "alice"], "").await;
    let alice = session(&app, "alice", "alice-password").await;
    assert_eq!(page(&app, &alice, "/-/admin").await.0, 200);
    act(&app, &root, "/-/admin/users/alice/revoke-admin", &[]).await;
    assert_eq!(page(&app, &alice, "/-/admin").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_and_tokens_changed_on_the_page_or_at_the_command_line_are_seen_by_both() {
    let (app, root) = with_root(&[]).await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    let token = app.create_token("alice", TokenScope::Read).await;
    let (status, html) = page(&app, &root, "/-/admin/users/alice").await;
    assert_eq!(status, 200, "{html}");
    let keys = admin_ok(&app, &["key", "list", "alice"], "").await;
    let key_id = keys.split('\t').next().unwrap().to_owned();
    let fingerprint = keys.split('\t').nth(1).unwrap().to_owned();
    assert!(html.contains(&fingerprint), "{html}");
    let tokens = admin_ok(&app, &["token", "list", "alice"], "").await;
    let token_id = tokens.split('\t').next().unwrap().to_owned();
    assert!(
        html.contains(&format!("/-/admin/users/alice/tokens/{token_id}/delete")),
        "{html}"
    );

    // The key, removed on the page: gone from the CLI's list, and SSH refuses it.
    let (status, html) = act(
        &app,
        &root,
        &format!("/-/admin/users/alice/keys/{key_id}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Removed the key") && html.contains("No SSH keys."),
        "{html}"
    );
    assert_eq!(admin_ok(&app, &["key", "list", "alice"], "").await, "");
    assert!(
        !SshClient::new(&app, &key)
            .run(&["whoami"])
            .await
            .status
            .success()
    );

    // The token, revoked at the command line: gone from the page, and refused.
    admin_ok(&app, &["token", "revoke", "alice", &token_id], "").await;
    let (_, html) = page(&app, &root, "/-/admin/users/alice").await;
    assert!(html.contains("No access tokens."), "{html}");
    assert_eq!(api_status(&app, &token, "/user").await, 401);
    // A second revocation on the page says there is no such token, and changes nothing.
    let (status, html) = act(
        &app,
        &root,
        &format!("/-/admin/users/alice/tokens/{token_id}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("alice has no token {token_id}")),
        "{html}"
    );

    let (_, audit) = page(&app, &root, "/-/admin/audit").await;
    assert!(
        audit.contains("<td>operator</td><td>revoke token <strong>alice</strong>"),
        "{audit}"
    );
    assert!(
        audit.contains(&format!(
            "<td>root</td><td>remove SSH key <strong>alice</strong> <span class=\"muted\">({fingerprint})"
        )),
        "{audit}"
    );
    // Added on the page: the key is in the CLI's list and signs in; the token, shown once,
    // works and is in the CLI's list.
    let line = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let (status, html) = act(
        &app,
        &root,
        "/-/admin/users/alice/keys",
        &[("title", "again"), ("key", line.trim())],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&format!("Added the key {fingerprint}.")),
        "{html}"
    );
    assert!(
        admin_ok(&app, &["key", "list", "alice"], "")
            .await
            .contains("\tagain\t")
    );
    let out = SshClient::new(&app, &key).run(&["whoami"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (status, html) = act(
        &app,
        &root,
        "/-/admin/users/alice/tokens",
        &[
            ("title", "ci"),
            ("scope", "read"),
            ("expires_in_days", "30"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let secret = html
        .split("<code>lf_")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .map(|hex| format!("lf_{hex}"))
        .unwrap_or_else(|| panic!("the new token is shown: {html}"));
    assert_eq!(api_status(&app, &secret, "/user").await, 200);
    assert!(
        admin_ok(&app, &["token", "list", "alice"], "")
            .await
            .contains("\tci\tread\t")
    );
    let (_, audit) = page(&app, &root, "/-/admin/audit").await;
    assert!(
        audit.contains(
            "<td>root</td><td>create token <strong>alice</strong> <span class=\"muted\">(ci (read))"
        ),
        "{audit}"
    );
    assert!(
        audit.contains("<td>root</td><td>add SSH key <strong>alice</strong>"),
        "{audit}"
    );
    // The secret is in no page after this one.
    let (_, html) = page(&app, &root, "/-/admin/users/alice").await;
    assert!(!html.contains(&secret));

    // A user who does not exist has no page.
    assert_eq!(page(&app, &root, "/-/admin/users/nobody").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_shows_the_scheduled_backups_last_outcome() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().join("lab");
    let (app, root) = with_root(&[("LABFORGE_BACKUP_DIR", dir.to_str().unwrap())]).await;
    // The first scheduled backup runs at start (the folder holds none yet).
    let html = eventually(60, "the backup's outcome on the overview", || async {
        let (status, html) = page(&app, &root, "/-/admin").await;
        assert_eq!(status, 200, "{html}");
        html.contains("labforge-").then_some(html)
    })
    .await;
    let file = html
        .split("<code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(
        file.starts_with(dir.to_str().unwrap()) && file.ends_with(".tar.zst"),
        "{html}"
    );
    assert!(std::path::Path::new(file).exists());
    assert!(
        html.contains("<td>Failures in a row</td><td>0</td>"),
        "{html}"
    );
    assert!(
        !html.contains("not scheduled"),
        "the next one is scheduled: {html}"
    );
}

/// A revoked admin's SSH connection kept open (ControlMaster) loses the admin's reach at the
/// next command: each one reads the user again.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_admins_open_ssh_connection_loses_admin_access() {
    let (app, _root) = with_root(&[]).await;
    let key = user_with_key(&app, "root", "ed25519").await;
    app.create_user("bob", "bob-password").await;
    app.create_repo("bob", "secret", true).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, ("bob", "bob-password"), "bob/secret", &["main"])
        .await;
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
    ssh.git_ok(
        app.work.path(),
        &["clone", "-q", &ssh.url("bob/secret"), "first"],
    )
    .await;
    admin_ok(&app, &["user", "revoke-admin", "root"], "").await;
    let out = ssh
        .git(
            app.work.path(),
            &["clone", &ssh.url("bob/secret"), "second"],
        )
        .await;
    assert!(
        !out.status.success(),
        "the revoked admin reads bob's private repository"
    );
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
