//! Organizations and teams (issue 24, section 1), set up with the real `labforge admin org|team`
//! commands and exercised over real git (HTTP and SSH), the web pages and the API.

use crate::helpers::*;
use crate::ssh::{SshClient, stdout, user_with_key};
use crate::web_auth::{client, session};

/// `labforge admin ARGS` on the app's database; (success, stdout, stderr).
async fn admin(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_labforge"))
        .arg("admin")
        .args(args)
        .env("DATABASE_URL", app.database_url())
        .env("LABFORGE_DATA_DIR", app.data.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("labforge runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn admin_ok(app: &TestApp, args: &[&str]) -> String {
    let (ok, out, err) = admin(app, args).await;
    assert!(ok, "admin {args:?} failed: {err}");
    out
}

/// `lab` with alice as its owner, three private repositories, and bob in `lab/deployers`
/// with write on two of them.
async fn lab(app: &TestApp) {
    for u in ["alice", "bob", "carol"] {
        app.create_user(u, &format!("{u}-password")).await;
    }
    admin_ok(
        app,
        &["org", "create", "lab", "--description", "the homelab"],
    )
    .await;
    admin_ok(app, &["org", "member", "add", "lab", "alice", "--owner"]).await;
    for r in ["lab/dns", "lab/compose", "lab/ansible"] {
        admin_ok(app, &["repo", "create", r]).await;
    }
    admin_ok(
        app,
        &[
            "team",
            "create",
            "lab/deployers",
            "--access",
            "write",
            "--repo",
            "lab/dns",
            "--repo",
            "compose",
        ],
    )
    .await;
    admin_ok(app, &["team", "member", "add", "lab/deployers", "bob"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_with_write_on_two_repositories_pushes_to_them_over_http_and_ssh_not_a_third() {
    let app = TestApp::spawn().await;
    lab(&app).await;
    let members = admin_ok(&app, &["org", "member", "list", "lab"]).await;
    assert_eq!(members, "alice\towner\nbob\tmember\n");
    let teams = admin_ok(&app, &["team", "list", "lab"]).await;
    assert_eq!(teams, "deployers\twrite\tcompose,dns\t-\tbob\n");
    let orgs = admin_ok(&app, &["org", "list"]).await;
    assert_eq!(orgs, "lab\tpublic\tthe homelab\n");

    let src = app.workdir("src");
    local_repo(&src, 2).await;
    let bob = ("bob", "bob-password");
    for repo in ["lab/dns", "lab/compose"] {
        app.push(&src, bob, repo, &["main"]).await;
    }
    let refused = git(
        &src,
        &["push", "-q", &app.url(Some(bob), "lab/ansible"), "main"],
    )
    .await;
    assert!(!refused.status.success(), "a third repository refuses bob");
    assert!(
        !app.server_repo("lab/ansible")
            .join("refs/heads/main")
            .exists(),
        "nothing landed"
    );

    let key = user_with_key(&app, "bob", "ed25519").await;
    let ssh = SshClient::new(&app, &key);
    git_ok(&src, &["commit", "-q", "--allow-empty", "-m", "over ssh"]).await;
    for repo in ["lab/dns", "lab/compose"] {
        ssh.git_ok(&src, &["push", "-q", &ssh.url(repo), "main"])
            .await;
    }
    let refused = ssh
        .git(&src, &["push", "-q", &ssh.url("lab/ansible"), "main"])
        .await;
    assert!(!refused.status.success(), "{}", stderr(&refused));

    // Creating under the organization needs an owner or a team that may create.
    let denied = ssh.run(&["repo", "create", "lab/infra"]).await;
    assert!(!denied.status.success());
    assert!(
        stderr(&denied).contains("you may not create repositories under lab"),
        "{}",
        stderr(&denied)
    );
    let pushed = git(
        &src,
        &["push", "-q", &app.url(Some(bob), "lab/made"), "main"],
    )
    .await;
    assert!(!pushed.status.success(), "no push-to-create for bob yet");
    admin_ok(
        &app,
        &[
            "team",
            "create",
            "lab/makers",
            "--access",
            "write",
            "--can-create",
        ],
    )
    .await;
    admin_ok(&app, &["team", "member", "add", "lab/makers", "bob"]).await;
    let made = ssh.run(&["repo", "create", "lab/infra"]).await;
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(stdout(&made).starts_with("created lab/infra\n"));
    app.push(&src, bob, "lab/made", &["main"]).await;
    assert!(app.server_repo("lab/made").join("refs/heads/main").exists());
    // What bob created joined his creating team's list (as Gitea does), and nothing else's.
    let teams = admin_ok(&app, &["team", "list", "lab"]).await;
    assert_eq!(
        teams,
        "deployers\twrite\tcompose,dns\t-\tbob\nmakers\twrite\tinfra,made\tcreate\tbob\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_member_ends_their_access_at_once() {
    let app = TestApp::spawn().await;
    lab(&app).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, ("alice", "alice-password"), "lab/dns", &["main"])
        .await;
    let url = app.url(Some(("bob", "bob-password")), "lab/dns");
    git_ok(&src, &["ls-remote", &url]).await;
    let key = user_with_key(&app, "bob", "ed25519").await;
    // One SSH connection kept open (OpenSSH's ControlMaster) carries every command below.
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
    ssh.git_ok(&src, &["ls-remote", &ssh.url("lab/dns")]).await;
    assert!(control.exists(), "the connection stays open");

    admin_ok(&app, &["org", "member", "remove", "lab", "bob"]).await;
    let http = git(&src, &["ls-remote", &url]).await;
    assert!(!http.status.success(), "HTTP still answers bob");
    let over_ssh = ssh.git(&src, &["ls-remote", &ssh.url("lab/dns")]).await;
    assert!(
        !over_ssh.status.success(),
        "the open SSH connection still answers bob"
    );
    assert!(control.exists(), "over the same connection");
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
    let teams = admin_ok(&app, &["team", "list", "lab"]).await;
    assert_eq!(
        teams, "deployers\twrite\tcompose,dns\t-\t\n",
        "gone from the team"
    );
    // The last owner stays.
    let (ok, _, err) = admin(&app, &["org", "member", "remove", "lab", "alice"]).await;
    assert!(
        !ok && err.contains("alice is the last owner of lab"),
        "{err}"
    );
}

/// What an outsider gets for `path`, and for the same path in a missing place.
async fn answers(app: &TestApp, cookie: Option<&str>, path: &str) -> (u16, String) {
    let mut req = client().get(format!("{}{path}", app.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_orgs_repository_answers_outsiders_exactly_like_a_missing_one() {
    let app = TestApp::spawn().await;
    for u in ["alice", "outsider"] {
        app.create_user(u, &format!("{u}-password")).await;
    }
    admin_ok(
        &app,
        &["org", "create", "hidden", "--visibility", "private"],
    )
    .await;
    admin_ok(
        &app,
        &["org", "member", "add", "hidden", "alice", "--owner"],
    )
    .await;
    // Public by its own setting, yet invisible: the organization is private.
    admin_ok(&app, &["repo", "create", "hidden/dns", "--public"]).await;
    let outsider = session(&app, "outsider", "outsider-password").await;
    let alice = session(&app, "alice", "alice-password").await;
    for cookie in [None, Some(outsider.as_str())] {
        for (path, missing) in [
            ("/hidden/dns", "/nobody/dns"),
            ("/hidden/dns/issues", "/nobody/dns/issues"),
            ("/hidden", "/nobody"),
            ("/api/v1/repos/hidden/dns", "/api/v1/repos/nobody/dns"),
        ] {
            let seen = answers(&app, cookie, path).await;
            let (status, body) = answers(&app, cookie, missing).await;
            let body = body.replace("nobody", "hidden");
            assert_eq!(seen, (status, body), "{path} as {cookie:?}");
            assert_eq!(seen.0, 404, "{path}");
        }
        let listed = answers(&app, cookie, "/").await.1;
        assert!(!listed.contains("hidden/dns"), "listed on the front page");
    }
    let clone = git(
        &app.workdir(""),
        &["ls-remote", &app.url(None, "hidden/dns")],
    )
    .await;
    assert!(!clone.status.success());
    let (status, body) = answers(&app, Some(&alice), "/hidden/dns").await;
    assert_eq!(status, 200, "a member sees it");
    assert!(body.contains("hidden/dns") || body.contains("dns"));
    assert_eq!(answers(&app, Some(&alice), "/hidden").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_org_that_owns_a_repository_is_refused_with_its_names() {
    let app = TestApp::spawn().await;
    lab(&app).await;
    let (ok, _, err) = admin(&app, &["org", "delete", "lab"]).await;
    assert!(!ok, "refused");
    assert!(
        err.contains("lab still owns lab/ansible, lab/compose, lab/dns"),
        "{err}"
    );
    for r in ["lab/dns", "lab/compose", "lab/ansible"] {
        admin_ok(&app, &["repo", "delete", r, "--yes"]).await;
    }
    admin_ok(&app, &["org", "delete", "lab"]).await;
    assert_eq!(admin_ok(&app, &["org", "list"]).await, "");
    // The name is free again; the members are still users.
    admin_ok(&app, &["org", "create", "lab"]).await;
    assert!(admin_ok(&app, &["user", "list"]).await.contains("bob\t"));
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_names_the_routes_use_are_refused_for_orgs_and_users() {
    let app = TestApp::spawn().await;
    for name in ["new", "api", "Settings", "explore", "org"] {
        let (ok, _, err) = admin(&app, &["org", "create", name]).await;
        assert!(
            !ok && err.contains("a word the site's own addresses use"),
            "{name}: {err}"
        );
    }
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_labforge"))
        .args([
            "admin",
            "user",
            "create",
            "login",
            "--email",
            "l@lab.test",
            "--password-stdin",
        ])
        .env("DATABASE_URL", app.database_url())
        .env("LABFORGE_DATA_DIR", app.data.path())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("a word the site's own addresses use"));
    // A user and an organization share one name space.
    app.create_user("alice", "alice-password").await;
    let (ok, _, err) = admin(&app, &["org", "create", "ALICE"]).await;
    assert!(!ok && err.contains("already exists"), "{err}");
}

/// The form at `path`'s CSRF token, posted with `fields`; (status, body, location).
async fn submit(app: &TestApp, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let (status, html) = crate::web_auth::page(app, cookie, path).await;
    assert_eq!(status, 200, "{path}: {html}");
    let csrf = crate::web_auth::hidden(&html, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    crate::web_auth::post(app, cookie, path, &form).await
}

#[tokio::test(flavor = "multi_thread")]
async fn orgs_on_the_web_creation_settings_teams_new_repo_dashboard_and_deletion() {
    let conf = tempfile::tempdir().unwrap();
    let file = conf.path().join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"zones\"\nrepo = \"ops/dns\"\nbranch = \"main\"\nrun = \"/bin/true\"\n",
    )
    .unwrap();
    let mut app = TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await;
    for u in ["alice", "bob"] {
        app.create_user(u, &format!("{u}-password")).await;
    }
    let alice = session(&app, "alice", "alice-password").await;
    // Site admins only, by default.
    let (status, body) = submit(
        &app,
        &alice,
        "/org/new",
        &[("name", "lab"), ("visibility", "public")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("only site administrators may create organizations"),
        "{body}"
    );

    app.restart_with(&[
        ("LABFORGE_CONFIG", file.to_str().unwrap()),
        ("LABFORGE_USERS_MAY_CREATE_ORGS", "true"),
    ])
    .await;
    let alice = session(&app, "alice", "alice-password").await;
    let (_, body) = submit(
        &app,
        &alice,
        "/org/new",
        &[("name", "settings"), ("visibility", "public")],
    )
    .await;
    assert!(
        body.contains("is a word the site&#39;s own addresses use"),
        "{body}"
    );
    // An owner name the operator's [[deploy]] refers to is a site admin's to take.
    let (_, body) = submit(
        &app,
        &alice,
        "/org/new",
        &[("name", "ops"), ("visibility", "public")],
    )
    .await;
    assert!(
        body.contains("only a site administrator may create it"),
        "{body}"
    );
    let (status, _) = submit(
        &app,
        &alice,
        "/org/new",
        &[
            ("name", "lab"),
            ("description", "home lab"),
            ("visibility", "limited"),
        ],
    )
    .await;
    assert_eq!(status, 303, "created");

    let settings = "/org/lab/settings";
    let (_, body) = submit(
        &app,
        &alice,
        settings,
        &[("action", "add_member"), ("user", "bob")],
    )
    .await;
    assert!(body.contains("bob is a member."), "{body}");
    let (_, body) = submit(
        &app,
        &alice,
        settings,
        &[
            ("action", "create_team"),
            ("name", "deployers"),
            ("access", "write"),
            ("can_create", "on"),
        ],
    )
    .await;
    assert!(body.contains("Team deployers created."), "{body}");
    let team = "/org/lab/teams/deployers";
    let (_, body) = submit(
        &app,
        &alice,
        team,
        &[("action", "add_member"), ("user", "bob")],
    )
    .await;
    assert!(body.contains("bob is in deployers."), "{body}");

    // bob may create under lab (his team may), so /new offers it; what he creates there his
    // team reaches, and his dashboard lists it.
    let bob = session(&app, "bob", "bob-password").await;
    let (_, new) = crate::web_auth::page(&app, &bob, "/new").await;
    assert!(new.contains("<option value=\"lab\""), "{new}");
    let (status, _) = submit(
        &app,
        &bob,
        "/new",
        &[("owner", "lab"), ("name", "dns"), ("description", "")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, body) = crate::web_auth::page(&app, &alice, team).await;
    assert!(body.contains("/lab/dns"), "the team covers it: {body}");
    let (_, dash) = crate::web_auth::page(&app, &bob, "/").await;
    assert!(dash.contains("lab/dns"), "{dash}");
    // alice's own team page list, and the organization's page, as members see them.
    let (status, page) = crate::web_auth::page(&app, &bob, "/lab").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("lab/dns") && page.contains("deployers") && page.contains("home lab"),
        "{page}"
    );
    // bob is no owner: the settings are a 404 to him.
    assert_eq!(crate::web_auth::page(&app, &bob, settings).await.0, 404);
    // limited: signed-out visitors do not see it.
    assert_eq!(answers(&app, None, "/lab").await.0, 404);

    // Deletion is refused while the organization owns a repository, naming it.
    let (status, body) = submit(
        &app,
        &alice,
        settings,
        &[("action", "delete"), ("confirm", "lab")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("lab still owns lab/dns"), "{body}");
    let (status, _) = submit(
        &app,
        &alice,
        "/lab/dns/settings/delete",
        &[("confirm", "lab/dns")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, _) = submit(
        &app,
        &alice,
        settings,
        &[("action", "delete"), ("confirm", "lab")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(crate::web_auth::page(&app, &alice, "/lab").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_reads_organizations_in_giteas_shapes() {
    let app = TestApp::spawn().await;
    lab(&app).await;
    let token = app
        .create_token("bob", labforge::model::TokenScope::Write)
        .await;
    let get = |path: String| {
        let token = token.clone();
        let base = app.base.clone();
        async move {
            let res = client()
                .get(format!("{base}/api/v1{path}"))
                .header("authorization", format!("token {token}"))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, org) = get("/orgs/lab".into()).await;
    assert_eq!(status, 200);
    assert_eq!(org["username"], "lab");
    assert_eq!(org["description"], "the homelab");
    assert_eq!(org["visibility"], "public");
    let (_, repos) = get("/orgs/lab/repos".into()).await;
    let names: Vec<(&str, bool)> = repos
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["full_name"].as_str().unwrap(),
                r["permissions"]["push"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("lab/compose", true), ("lab/dns", true)],
        "not lab/ansible"
    );
    assert_eq!(repos[0]["owner"]["login"], "lab");
    let (_, page2) = get("/orgs/lab/repos?limit=1&page=2".into()).await;
    assert_eq!(page2[0]["full_name"], "lab/dns");
    let (_, mine) = get("/user/orgs".into()).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["username"], "lab");
    let (status, missing) = get("/orgs/nope".into()).await;
    assert_eq!(status, 404, "{missing}");
}
