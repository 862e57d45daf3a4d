//! Renames and transfers: records stay with the repository (they hang on its id), old web
//! addresses answer 301 to readers and the missing repository's answer to everyone else, old
//! git addresses keep working over HTTP and SSH with a warning, until the name is taken again.

use crate::helpers::*;
use crate::ssh::{SshClient, user_with_key};
use crate::web_auth::session;

/// `labforge admin …` against the running app's database and data folder; must succeed.
fn admin(app: &TestApp, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labforge"))
        .arg("admin")
        .args(args)
        .env("DATABASE_URL", app.database_url())
        .env("LABFORGE_DATA_DIR", app.data.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "admin {args:?}: {said}");
    said
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Status, `Location` and body of a web GET with an optional session cookie.
async fn get(app: &TestApp, cookie: Option<&str>, path: &str) -> (u16, String, String) {
    let mut req = client().get(format!("{}{path}", app.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), location, res.text().await.unwrap())
}

/// The same status, location and body, once the missing path's name (`never-was`, which the
/// 404 page repeats in its sign-in link) reads as `name`.
fn same_answer(old: &(u16, String, String), missing: &(u16, String, String), name: &str) -> bool {
    old.0 == missing.0 && old.1 == missing.1 && old.2 == missing.2.replace("never-was", name)
}

async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = client()
        .request(method, format!("{}/api/v1{path}", app.base))
        .header("authorization", format!("token {token}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn renames_and_transfers_keep_records_and_old_addresses_lead_to_readers_only() {
    let app = TestApp::spawn().await;
    let alice_key = user_with_key(&app, "alice", "ed25519").await;
    for u in ["reader", "outsider", "other"] {
        app.create_user(u, &format!("{u}-password")).await;
    }
    app.create_repo("alice", "dns", true).await;
    app.add_collaborator("alice/dns", "reader", "read").await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    let alice_token = app
        .create_token("alice", labforge::model::TokenScope::Write)
        .await;
    let alice_pw = ("alice", alice_token.as_str());
    app.push(&src, alice_pw, "alice/dns", &["main"]).await;
    let (s, _) = api(
        &app,
        &alice_token,
        reqwest::Method::POST,
        "/repos/alice/dns/issues",
        Some(serde_json::json!({"title": "zone transfer fails"})),
    )
    .await;
    assert_eq!(s, 201, "issue opened");
    let (s, _) = api(
        &app,
        &alice_token,
        reqwest::Method::POST,
        "/repos/alice/dns/hooks",
        Some(
            serde_json::json!({"type": "gitea", "active": true, "events": ["push"],
            "config": {"url": "https://ci.lab.invalid/x", "content_type": "json"}}),
        ),
    )
    .await;
    assert_eq!(s, 201, "webhook added");

    // Rename through Gitea's PATCH.
    let (s, body) = api(
        &app,
        &alice_token,
        reqwest::Method::PATCH,
        "/repos/alice/dns",
        Some(serde_json::json!({"name": "zones"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let reader = session(&app, "reader", "reader-password").await;
    let outsider = session(&app, "outsider", "outsider-password").await;
    let (s, loc, _) = get(&app, Some(&reader), "/alice/dns/issues?state=open").await;
    assert_eq!((s, loc.as_str()), (301, "/alice/zones/issues?state=open"));
    // An outsider and an anonymous visitor get exactly the missing repository's answer.
    for who in [Some(outsider.as_str()), None] {
        let old = get(&app, who, "/alice/dns/issues").await;
        let missing = get(&app, who, "/alice/never-was/issues").await;
        assert_eq!(old.0, 404);
        assert!(
            same_answer(&old, &missing, "dns"),
            "an old private path leaks nothing"
        );
    }

    // Old git address over HTTP: git follows the 301 and says so.
    let out = git(
        app.work.path(),
        &[
            "clone",
            &app.url(Some(("reader", "reader-password")), "alice/dns"),
            "by-http",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("redirecting to"), "{}", stderr(&out));
    assert!(app.workdir("by-http").join("file1.txt").exists());

    // Transfer to an organization alice owns, with the CLI.
    admin(&app, &["org", "create", "lab"]);
    admin(&app, &["org", "member", "add", "lab", "alice", "--owner"]);
    let said = admin(&app, &["repo", "transfer", "alice/zones", "lab"]);
    assert!(
        said.contains("transferred alice/zones to lab/zones"),
        "{said}"
    );
    assert!(app.server_repo("lab/zones").exists());
    assert!(!app.server_repo("alice/zones").exists());
    let (s, issue) = api(
        &app,
        &alice_token,
        reqwest::Method::GET,
        "/repos/lab/zones/issues/1",
        None,
    )
    .await;
    assert_eq!(
        (s, issue["title"].as_str()),
        (200, Some("zone transfer fails"))
    );
    let (s, hooks) = api(
        &app,
        &alice_token,
        reqwest::Method::GET,
        "/repos/lab/zones/hooks",
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(hooks.as_array().map(Vec::len), Some(1), "{hooks}");
    // Both old paths lead to the new one, by id (no chain).
    for old in ["/alice/dns", "/alice/zones"] {
        let (s, loc, _) = get(&app, Some(&reader), old).await;
        assert_eq!((s, loc.as_str()), (301, "/lab/zones"), "{old}");
    }

    // The start-up warning for `[[deploy]]`/`[[check]]` entries names the new path.
    let moved = app
        .forge
        .moved_for_operator(
            &app.system_key,
            &labforge::model::RepoPath::parse("alice/dns").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(moved.map(|p| p.to_string()).as_deref(), Some("lab/zones"));

    // Old git address over SSH: works, with the warning on stderr.
    let ssh = SshClient::new(&app, &alice_key);
    let out = ssh
        .git(app.work.path(), &["clone", &ssh.url("alice/dns"), "by-ssh"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: this repository moved to lab/zones; update your remote"),
        "{}",
        stderr(&out)
    );
    assert!(app.workdir("by-ssh").join("file1.txt").exists());

    // The API transfers to an organization the caller owns and refuses another user.
    let (s, body) = api(
        &app,
        &alice_token,
        reqwest::Method::POST,
        "/repos/lab/zones/transfer",
        Some(serde_json::json!({"new_owner": "other"})),
    )
    .await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("acceptance"),
        "{body}"
    );
    let (s, body) = api(
        &app,
        &alice_token,
        reqwest::Method::POST,
        "/repos/lab/zones/transfer",
        Some(serde_json::json!({"new_owner": "alice"})),
    )
    .await;
    assert_eq!(
        (s, body["full_name"].as_str()),
        (202, Some("alice/zones")),
        "{body}"
    );

    // Taking the old name again ends its redirect.
    app.create_repo("alice", "dns", false).await;
    let (s, _, _) = get(&app, Some(&reader), "/alice/dns").await;
    assert_eq!(s, 200, "the new alice/dns answers");
    let (s, loc, _) = get(&app, Some(&reader), "/lab/zones").await;
    assert_eq!(
        (s, loc.as_str()),
        (301, "/alice/zones"),
        "other old paths still lead"
    );

    // Renaming the owner: every old path redirects, until someone takes the name.
    admin(&app, &["user", "rename", "alice", "alicia"]);
    let (s, loc, _) = get(&app, Some(&reader), "/alice/zones/issues/1").await;
    assert_eq!((s, loc.as_str()), (301, "/alicia/zones/issues/1"));
    assert!(app.server_repo("alicia/zones").exists());
    let (s, loc, _) = get(&app, None, "/alice?q=zo").await;
    assert_eq!(
        (s, loc.as_str()),
        (301, "/alicia?q=zo"),
        "the profile follows"
    );
    admin(&app, &["org", "create", "alice"]);
    let old = get(&app, Some(&reader), "/alice/zones").await;
    let missing = get(&app, Some(&reader), "/alice/never-was").await;
    assert_eq!(old.0, 404, "the new alice's name space is hers");
    assert!(same_answer(&old, &missing, "zones"));
    let (s, _, _) = get(&app, None, "/alice").await;
    assert_eq!(s, 200, "the new alice's own page");
}
