//! File edits as pushes (web and API): an edit runs the configured `[[check]]` and `[[deploy]]`
//! exactly as a push by its user would (a failing check refuses it with the check's output and
//! writes nothing; a passing one lands, deploys, delivers the push webhook and closes the issue
//! it fixes), paths that could escape the tree are refused, two edits with the same `sha` race
//! to one winner and one told loser, a read-scoped token cannot edit, and an edit can make an
//! empty repository's first commit.

use std::path::Path;

use base64::Engine;
use labforge::model::TokenScope;
use serde_json::{Value, json};

use crate::checks::{PW, app_with, script, server_ref};
use crate::helpers::*;
use crate::web_auth::{client, hidden, session};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The blob id git gives `text`.
fn blob_id(text: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .args(["hash-object", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Whether the server's repository holds object `id` at all (reachable or not).
fn server_has(app: &TestApp, repo: &str, id: &str) -> bool {
    std::process::Command::new("git")
        .args(["--git-dir", app.server_repo(repo).to_str().unwrap()])
        .args(["cat-file", "-e", id])
        .status()
        .unwrap()
        .success()
}

const GOOD_ZONE: &str = "lab. IN SOA ns1.lab. admin.lab. 1 2 3 4 5\n";

/// A zone check (each zone needs an SOA record) and a deploy that records the commit it ran,
/// both on alice/dns main; alice's repository pushed with a zone, a README and a symlinked
/// folder `link -> zones`. Returns (app, the deploy's record file, the config folder).
async fn lab(check_sleep: u32) -> (TestApp, std::path::PathBuf, tempfile::TempDir) {
    let conf = tempfile::tempdir().unwrap();
    let record = conf.path().join("deployed");
    script(
        conf.path(),
        "zones.sh",
        &format!(
            "sleep {check_sleep}\nfor f in zones/*.zone; do grep -q SOA \"$f\" || {{ echo \"$f: zone has no SOA record\"; exit 1; }}; done; echo zones fine"
        ),
    );
    script(
        conf.path(),
        "deploy.sh",
        &format!("echo \"$LABFORGE_NEW\" >> {}", record.display()),
    );
    let app = app_with(
        conf.path(),
        r#"
[webhook]
allowed_hosts = "loopback"

[[check]]
name = "zones"
repo = "alice/dns"
branch = "main"
paths = ["zones/**"]
run = "zones.sh"
sandbox = false

[[deploy]]
name = "dns"
repo = "alice/dns"
branch = "main"
run = "deploy.sh"
"#,
    )
    .await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let local = app.workdir("dns");
    git_ok(&local, &["init", "-q", "-b", "main"]).await;
    std::fs::create_dir_all(local.join("zones")).unwrap();
    std::fs::write(local.join("zones/lab.zone"), GOOD_ZONE).unwrap();
    std::fs::write(local.join("README.md"), "# dns\n").unwrap();
    std::os::unix::fs::symlink("zones", local.join("link")).unwrap();
    git_ok(&local, &["add", "-A"]).await;
    git_ok(&local, &["commit", "-q", "-m", "first zone"]).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    crate::hooks::settled_runs(&app, "alice/dns").await;
    (app, record, conf)
}

async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let res = client()
        .request(
            method,
            format!("{}/api/v1/repos/alice/dns/{path}", app.base),
        )
        .header("authorization", format!("token {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A webhook receiver on loopback: each request's body arrives on the channel; it answers 200.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        // A test's few deliveries at most.
        for _ in 0..20 {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                let n = conn.read(&mut chunk).await.unwrap_or(0);
                if n == 0 || buf.len() > 4 << 20 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            if let Some(body) = body {
                let _ = tx.send(body);
            }
        }
    });
    (url, rx)
}

fn recorded(record: &Path) -> Vec<String> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_edit_is_checked_deployed_and_closes_issues_as_a_push() {
    let (app, record, _conf) = lab(0).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let before = server_ref(&app, "alice/dns", "refs/heads/main");
    let zone_sha = blob_id(GOOD_ZONE);
    let deploys_before = recorded(&record).len();
    let (hook_url, mut delivered) = receiver().await;
    let (status, hook) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "hooks",
        json!({"type": "gitea", "config": {"url": hook_url, "content_type": "json"}, "events": ["push"], "active": true}),
    )
    .await;
    assert_eq!(status, 201, "{hook}");

    // A broken zone: the check refuses the edit with its own words, nothing is written.
    let bad = "www IN A 10.0.0.5\n";
    let (status, body) = api(
        &app,
        &token,
        reqwest::Method::PUT,
        "contents/zones/lab.zone",
        json!({"content": b64(bad), "sha": zone_sha, "message": "break it"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("zones/lab.zone: zone has no SOA record"),
        "{message}"
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);
    assert!(
        !server_has(&app, "alice/dns", &blob_id(bad)),
        "the refused blob is not in the repository"
    );
    assert_eq!(
        recorded(&record).len(),
        deploys_before,
        "no deploy for a refused edit"
    );

    // An issue the next edit fixes.
    let (status, issue) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "issues",
        json!({"title": "zone serial"}),
    )
    .await;
    assert_eq!(status, 201, "{issue}");
    let number = issue["number"].as_i64().unwrap();

    // A good zone: it lands as alice's push, deploys, and closes the issue.
    let good = "lab. IN SOA ns1.lab. admin.lab. 2 2 3 4 5\n";
    let (status, body) = api(
        &app,
        &token,
        reqwest::Method::PUT,
        "contents/zones/lab.zone",
        json!({"content": b64(good), "sha": zone_sha, "message": format!("bump serial, fixes #{number}")}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let head = server_ref(&app, "alice/dns", "refs/heads/main");
    assert_ne!(head, before);
    assert_eq!(body["commit"]["sha"], head.as_str());
    assert_eq!(body["commit"]["parents"][0]["sha"], before.as_str());
    assert_eq!(body["commit"]["author"]["name"], "alice");
    assert_eq!(body["content"]["sha"], blob_id(good).as_str());
    assert_eq!(body["content"]["path"], "zones/lab.zone");
    assert_eq!(body["content"]["type"], "file");
    assert_eq!(body["content"]["content"], b64(good).as_str());
    assert_eq!(body["verification"]["verified"], false);
    let runs = crate::hooks::settled_runs(&app, "alice/dns").await;
    assert_eq!(runs[0].status.as_str(), "succeeded", "{runs:?}");
    assert_eq!(
        recorded(&record).last(),
        Some(&head),
        "the deploy ran the edit's commit"
    );
    let payload = tokio::time::timeout(std::time::Duration::from_secs(20), delivered.recv())
        .await
        .expect("the push webhook is delivered")
        .unwrap();
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["after"], head.as_str(), "{payload}");
    assert_eq!(payload["pusher"]["login"], "alice", "{payload}");
    let issue = eventually(10, "the issue to close", || async {
        let (_, issue) = api(
            &app,
            &token,
            reqwest::Method::GET,
            &format!("issues/{number}"),
            Value::Null,
        )
        .await;
        (issue["state"] == "closed").then_some(issue)
    })
    .await;
    assert_eq!(issue["state"], "closed");

    // The old sha is stale now: Gitea's 422 and words, with the current sha.
    let (status, body) = api(
        &app,
        &token,
        reqwest::Method::PUT,
        "contents/zones/lab.zone",
        json!({"content": b64(GOOD_ZONE), "sha": zone_sha}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"],
        format!(
            "sha does not match [given: {zone_sha}, expected: {}]",
            blob_id(good)
        )
        .as_str()
    );

    // Several files in one commit, to a new branch, then a delete.
    let (status, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "contents",
        json!({"new_branch": "notes", "message": "notes", "files": [
            {"operation": "create", "path": "notes/a.md", "content": b64("a\n")},
            {"operation": "update", "path": "README.md", "content": b64("# dns!\n"), "sha": blob_id("# dns\n")},
        ]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["files"].as_array().unwrap().len(), 2);
    assert_eq!(body["files"][0]["path"], "notes/a.md");
    assert_eq!(
        server_ref(&app, "alice/dns", "refs/heads/notes"),
        body["commit"]["sha"].as_str().unwrap()
    );
    assert_eq!(
        server_ref(&app, "alice/dns", "refs/heads/main"),
        head,
        "main unchanged"
    );
    let (status, body) = api(
        &app,
        &token,
        reqwest::Method::DELETE,
        "contents/notes/a.md",
        json!({"branch": "notes", "sha": blob_id("a\n")}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"], Value::Null);
    let (status, body) = api(
        &app,
        &token,
        reqwest::Method::DELETE,
        "contents/notes/a.md",
        json!({"branch": "notes", "sha": blob_id("a\n")}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_that_leave_the_tree_or_follow_a_symlink_are_refused() {
    let (app, _record, _conf) = lab(0).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let before = server_ref(&app, "alice/dns", "refs/heads/main");
    for path in [
        "../x",
        "zones/../../x",
        ".git/config",
        ".GIT/hooks/pre-receive",
        "zones/.Git/x",
        "/etc/passwd",
        "a\u{0}b",
        "link/new.zone",
    ] {
        let (status, body) = api(
            &app,
            &token,
            reqwest::Method::POST,
            "contents",
            json!({"files": [{"operation": "create", "path": path, "content": b64(GOOD_ZONE)}]}),
        )
        .await;
        assert_eq!(status, 422, "{path:?}: {body}");
    }
    // Updating a file through the symlinked folder is refused too, as is the link itself.
    for path in ["link/lab.zone", "link"] {
        let (status, body) = api(
            &app,
            &token,
            reqwest::Method::PUT,
            &format!("contents/{path}"),
            json!({"content": b64(GOOD_ZONE), "sha": blob_id(GOOD_ZONE)}),
        )
        .await;
        assert!(matches!(status, 422 | 404), "{path}: {status} {body}");
        assert!(
            body["message"].as_str().unwrap().contains("symbolic link"),
            "{path}: {body}"
        );
    }
    // In the URL: a NUL and `.git`.
    for path in ["a%00b", ".git/config", "zones/.GIT/x"] {
        let (status, body) = api(
            &app,
            &token,
            reqwest::Method::POST,
            &format!("contents/{path}"),
            json!({"content": b64("x")}),
        )
        .await;
        assert_eq!(status, 422, "{path}: {body}");
    }
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_edits_with_the_same_sha_one_lands_the_other_is_told() {
    // The check takes a second, so both edits have read the branch before either lands.
    let (app, _record, _conf) = lab(1).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let zone_sha = blob_id(GOOD_ZONE);
    let texts = [
        "lab. IN SOA ns1.lab. admin.lab. 10 2 3 4 5\n",
        "lab. IN SOA ns1.lab. admin.lab. 20 2 3 4 5\n",
    ];
    let edit = |text: &'static str| {
        let (app, token) = (&app, &token);
        let sha = zone_sha.clone();
        async move {
            api(
                app,
                token,
                reqwest::Method::PUT,
                "contents/zones/lab.zone",
                json!({"content": b64(text), "sha": sha}),
            )
            .await
        }
    };
    let (a, b) = tokio::join!(edit(texts[0]), edit(texts[1]));
    let answers = [a, b];
    let won: Vec<usize> = (0..2).filter(|&i| answers[i].0 == 200).collect();
    assert_eq!(won.len(), 1, "exactly one lands: {answers:?}");
    let (winner, loser) = (won[0], 1 - won[0]);
    assert_eq!(answers[loser].0, 409, "{answers:?}");
    let head = server_ref(&app, "alice/dns", "refs/heads/main");
    assert!(
        answers[loser].1["message"]
            .as_str()
            .unwrap()
            .contains(&head),
        "{answers:?}"
    );
    // The winner's text is on the branch; the loser's request is refused whole, so its
    // client still holds its text and is told where the branch is now.
    let raw = client()
        .get(format!("{}/alice/dns/raw/main/zones/lab.zone", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(raw, texts[winner]);
    assert_eq!(answers[winner].1["commit"]["sha"], head.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_scoped_token_cannot_edit_a_write_token_makes_a_first_commit() {
    let (app, _record, _conf) = lab(0).await;
    let token = app.create_token("alice", TokenScope::Read).await;
    let before = server_ref(&app, "alice/dns", "refs/heads/main");
    let (status, body) = api(
        &app,
        &token,
        reqwest::Method::POST,
        "contents/new.txt",
        json!({"content": b64("x")}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);

    // A write token may: here, the first commit of an empty repository.
    app.create_repo("alice", "empty", false).await;
    let write = app.create_token("alice", TokenScope::Write).await;
    let res = client()
        .post(format!(
            "{}/api/v1/repos/alice/empty/contents/README.md",
            app.base
        ))
        .header("authorization", format!("token {write}"))
        .json(&json!({"content": b64("# empty no more\n")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["commit"]["parents"], json!([]));
    assert_eq!(body["commit"]["message"], "Add README.md\n");
    assert_eq!(
        server_ref(&app, "alice/empty", "refs/heads/main"),
        body["commit"]["sha"].as_str().unwrap()
    );
}

/// Posts the edit form at `action` as the browser would, with `fields` after the CSRF token.
async fn post_form(
    app: &TestApp,
    cookie: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let html = client()
        .get(format!("{}{action}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let res = client()
        .post(format!("{}{action}", app.base))
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_edit_is_checked_and_deployed_as_a_push() {
    let (app, record, _conf) = lab(0).await;
    let cookie = session(&app, "alice", PW).await;
    let base = app.base.clone();
    let get = |path: String| {
        let (cookie, base) = (cookie.clone(), base.clone());
        async move {
            client()
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    // The blob page offers the edit, the tree page a new file; the form holds the file.
    let blob = get("/alice/dns/blob/main/zones/lab.zone".into()).await;
    assert!(
        blob.contains("/alice/dns/_edit/main/zones/lab.zone"),
        "{blob}"
    );
    let tree = get("/alice/dns/tree/main/zones".into()).await;
    assert!(tree.contains("/alice/dns/_new/main/zones"), "{tree}");
    let action = "/alice/dns/_edit/main/zones/lab.zone";
    let form = get(action.into()).await;
    assert_eq!(hidden(&form, "sha"), blob_id(GOOD_ZONE));
    assert!(form.contains(GOOD_ZONE.trim()), "{form}");
    let before = server_ref(&app, "alice/dns", "refs/heads/main");
    let deploys_before = recorded(&record).len();
    let sha = blob_id(GOOD_ZONE);

    // A broken zone: refused with the check's output on the page, the text kept.
    let (status, _, page) = post_form(
        &app,
        &cookie,
        action,
        &[
            ("sha", &sha),
            ("content", "www IN A 10.0.0.5\r\nmy-unsaved-line\r\n"),
            ("message", "break it"),
            ("target", "branch"),
        ],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("zones/lab.zone: zone has no SOA record"),
        "{page}"
    );
    assert!(page.contains("my-unsaved-line"), "the text is kept: {page}");
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);
    assert_eq!(recorded(&record).len(), deploys_before);

    // A good zone lands, with the file's own line ends, and deploys.
    let good = "lab. IN SOA ns1.lab. admin.lab. 3 2 3 4 5\n";
    let (status, location, page) = post_form(
        &app,
        &cookie,
        action,
        &[
            ("sha", &sha),
            ("content", &good.replace('\n', "\r\n")),
            ("message", ""),
            ("target", "branch"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(location, "/alice/dns/blob/main/zones/lab.zone");
    let head = server_ref(&app, "alice/dns", "refs/heads/main");
    assert_ne!(head, before);
    let raw = get("/alice/dns/raw/main/zones/lab.zone".into()).await;
    assert_eq!(raw, good);
    let runs = crate::hooks::settled_runs(&app, "alice/dns").await;
    assert_eq!(runs[0].status.as_str(), "succeeded", "{runs:?}");
    assert_eq!(recorded(&record).last(), Some(&head));
    let subject = git_ok(
        &app.server_repo("alice/dns"),
        &["log", "-1", "--format=%an %s", "main"],
    )
    .await;
    assert_eq!(subject.trim(), "alice Update zones/lab.zone");

    // The same form again: its sha is stale now, nothing is overwritten, the text is kept.
    let (status, _, page) = post_form(
        &app,
        &cookie,
        action,
        &[
            ("sha", &sha),
            ("content", "stale-text"),
            ("target", "branch"),
        ],
    )
    .await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("stale-text") && page.contains("changed since you opened it"),
        "{page}"
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), head);

    // A new file on a new branch; `..` in its name is refused on the page.
    let (status, _, page) = post_form(
        &app,
        &cookie,
        "/alice/dns/_new/main/zones",
        &[
            ("path", "zones/../../x"),
            ("content", "x"),
            ("target", "branch"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    let (status, location, page) = post_form(
        &app,
        &cookie,
        "/alice/dns/_new/main/zones",
        &[
            ("path", "zones/extra.zone"),
            ("content", GOOD_ZONE),
            ("target", "new"),
            ("new_branch", "web-edit"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(location, "/alice/dns/blob/web-edit/zones/extra.zone");
    assert!(!server_ref(&app, "alice/dns", "refs/heads/web-edit").is_empty());
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), head);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_branch_refuses_an_edit_as_it_refuses_a_push() {
    let (app, _record, _conf) = lab(0).await;
    app.create_user("bob", "bob-password").await;
    app.add_collaborator("alice/dns", "bob", "write").await;
    app.forge
        .protect_branch(&app.grant("alice/dns").await, "main", true)
        .await
        .unwrap();
    let before = server_ref(&app, "alice/dns", "refs/heads/main");
    let edit = json!({"content": b64("# dns, edited\n"), "sha": blob_id("# dns\n")});
    let bob = app.create_token("bob", TokenScope::Write).await;
    let (status, body) = api(
        &app,
        &bob,
        reqwest::Method::PUT,
        "contents/README.md",
        edit.clone(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("only repository admins may push here"),
        "{body}"
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);
    // bob may still edit on a branch of his own; alice, an admin, on main.
    let mut on_branch = edit.clone();
    on_branch["new_branch"] = json!("bob-readme");
    let (status, body) = api(
        &app,
        &bob,
        reqwest::Method::PUT,
        "contents/README.md",
        on_branch,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let alice = app.create_token("alice", TokenScope::Write).await;
    let (status, body) = api(
        &app,
        &alice,
        reqwest::Method::PUT,
        "contents/README.md",
        edit,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(server_ref(&app, "alice/dns", "refs/heads/main"), before);
}
