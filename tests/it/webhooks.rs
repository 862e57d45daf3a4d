//! Webhooks end to end: the Gitea-shaped API, real pushes delivered to real receivers (Debian's
//! `webhook`, adnanh/webhook, checking the signature and running a command; a small python3
//! server that records raw requests), retries, the allow list and the settings pages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use labforge::model::{RefUpdate, Repo, RepoPath, TokenScope, Username, ZERO_ID};
use labforge::storage::NewPush;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::web_auth::{hidden, page, post, session};

const PW: &str = "alice-password";

/// Loopback receivers are allowed (they are all a test has); retries come after 1 s.
const LOOPBACK: &[(&str, &str)] = &[
    ("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "loopback"),
    ("LABFORGE_WEBHOOK_RETRY_BASE_SECS", "1"),
];

/// alice/dns (private) with two commits pushed to main; returns alice's token and the clone.
async fn setup(extra: &[(&str, &str)]) -> (TestApp, String, PathBuf) {
    let app = TestApp::spawn_with(extra).await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", true).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let dir = app.workdir("dns");
    local_repo(&dir, 2).await;
    app.push(&dir, ("alice", PW), "alice/dns", &["main"]).await;
    (app, token, dir)
}

async fn dns(app: &TestApp) -> Repo {
    app.forge
        .access(None, &RepoPath::parse("alice/dns").unwrap())
        .await
        .unwrap()
        .0
}

/// What post-receive does: record the push, and in the same transaction queue its webhooks;
/// then wake the worker. Returns how many deliveries were queued.
async fn record_push(app: &TestApp, refs: &[RefUpdate]) -> usize {
    let repo = dns(app).await;
    let alice = app
        .forge
        .user(&Username::parse("alice").unwrap())
        .await
        .unwrap();
    let id = app
        .forge
        .db
        .insert_pending_push(NewPush {
            repo_id: repo.id,
            pusher_id: Some(alice.id),
            pusher_name: "alice",
            nonce: &random_hex(8),
            push_options: &[],
            refs,
        })
        .await
        .unwrap();
    let mut tx = app.forge.db.begin().await.unwrap();
    let event = tx
        .receive_push(id, refs)
        .await
        .unwrap()
        .expect("pending push");
    let prepared = app
        .forge
        .prepare_push_webhooks(&repo, &event)
        .await
        .unwrap();
    let queued = app
        .forge
        .queue_push_webhooks(&mut tx, &prepared)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.forge.webhook_wakeup();
    queued
}

async fn head(dir: &Path) -> String {
    git_ok(dir, &["rev-parse", "HEAD"]).await.trim().to_owned()
}

async fn push_main_created(app: &TestApp, dir: &Path) -> usize {
    let new = head(dir).await;
    record_push(
        app,
        &[RefUpdate {
            name: "refs/heads/main".into(),
            old: ZERO_ID.into(),
            new,
        }],
    )
    .await
}

fn api(app: &TestApp, token: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}/api/v1/repos/alice/dns{path}", app.base))
        .header("Authorization", format!("token {token}"))
}

async fn create_hook(app: &TestApp, token: &str, url: &str, secret: &str, extra: Value) -> i64 {
    let mut body = json!({
        "type": "gitea",
        "config": {"url": url, "content_type": "json", "secret": secret},
        "events": ["push"],
        "active": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = api(app, token, reqwest::Method::POST, "/hooks")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// The hook's deliveries, newest first, through the API.
async fn deliveries(app: &TestApp, token: &str, hook: i64) -> Vec<Value> {
    let res = api(
        app,
        token,
        reqwest::Method::GET,
        &format!("/hooks/{hook}/deliveries"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Vec<Value>>().await.unwrap()
}

/// Polls `check` until it gives Some, or panics after `secs` with `what`.
async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_listening(port: u16) {
    wait_for(20, "the receiver to listen", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

/// adnanh/webhook on `port`: hook `labforge` checks `X-Hub-Signature-256` against `secret`
/// (refusing a mismatch with an error status) and runs a script that appends `ref after` to `dir/pushed`.
async fn start_adnanh(dir: &Path, port: u16, secret: &str) -> tokio::process::Child {
    let bin = "/usr/bin/webhook";
    assert!(
        Path::new(bin).exists(),
        "Debian's webhook package is needed (apt-get install webhook; .ci/run installs it)"
    );
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("record.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s %s\\n' \"$1\" \"$2\" >> '{}'\n",
            dir.join("pushed").display()
        ),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&script).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let hooks = json!([{
        "id": "labforge",
        "execute-command": script,
        "command-working-directory": dir,
        "pass-arguments-to-command": [
            {"source": "payload", "name": "ref"},
            {"source": "payload", "name": "after"}
        ],
        "trigger-rule-mismatch-http-response-code": 403,
        "trigger-rule": {"match": {
            "type": "payload-hmac-sha256",
            "secret": secret,
            "parameter": {"source": "header", "name": "X-Hub-Signature-256"}
        }}
    }]);
    let file = dir.join("hooks.json");
    std::fs::write(&file, hooks.to_string()).unwrap();
    let child = tokio::process::Command::new(bin)
        .args(["-hooks", file.to_str().unwrap(), "-ip", "127.0.0.1"])
        .args(["-port", &port.to_string(), "-verbose"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("webhook starts");
    wait_listening(port).await;
    child
}

/// A python3 server on `port` that appends every request (method, path, headers, raw body) as
/// a JSON line to `out`, answering 302 to `/redirect` (Location: its own `/followed`) and 200
/// to anything else.
async fn start_recorder(dir: &Path, port: u16) -> (tokio::process::Child, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("recorder.py");
    std::fs::write(
        &script,
        r#"import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def handle_any(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        with open(out, 'a') as f:
            f.write(json.dumps({'method': self.command, 'path': self.path,
                'headers': {k.lower(): v for k, v in self.headers.items()},
                'body': body.decode()}) + '\n')
        if self.path == '/redirect':
            self.send_response(302)
            self.send_header('Location', 'http://127.0.0.1:%d/followed' % port)
        else:
            self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')
    do_POST = handle_any
    do_GET = handle_any
http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()
"#,
    )
    .unwrap();
    let out = dir.join("requests.jsonl");
    let child = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .arg(&out)
        .kill_on_drop(true)
        .spawn()
        .expect("python3 starts");
    wait_listening(port).await;
    (child, out)
}

fn recorded(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_api_lifecycle_and_access() {
    let (app, token, _) = setup(&[]).await;
    app.create_user("bob", "bob-password").await;
    app.create_user("carol", "carol-password").await;
    app.add_collaborator("alice/dns", "bob", "write").await;
    let bob = app.create_token("bob", TokenScope::Write).await;
    let carol = app.create_token("carol", TokenScope::Write).await;
    let alice_read = app.create_token("alice", TokenScope::Read).await;

    let id = create_hook(
        &app,
        &token,
        "https://ci.lab.example/hooks/dns",
        "very-secret",
        json!({"branch_filter": "main"}),
    )
    .await;
    let res = api(&app, &token, reqwest::Method::GET, "/hooks")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(!text.contains("very-secret"), "{text}");
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["type"], "gitea");
    assert_eq!(list[0]["config"]["url"], "https://ci.lab.example/hooks/dns");
    assert_eq!(list[0]["config"]["content_type"], "json");
    assert!(list[0]["config"].get("secret").is_none());
    assert_eq!(list[0]["events"], json!(["push"]));
    assert_eq!(list[0]["branch_filter"], "main");
    assert_eq!(list[0]["active"], true);
    assert!(list[0]["created_at"].as_str().unwrap().starts_with("20"));

    let res = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/hooks/{id}"),
    )
    .json(&json!({"active": false, "branch_filter": "release/*",
                      "events": ["push", "deploy"], "config": {"content_type": "form"}}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let hook: Value = res.json().await.unwrap();
    assert_eq!(hook["active"], false);
    assert_eq!(hook["branch_filter"], "release/*");
    assert_eq!(hook["events"], json!(["push", "deploy"]));
    assert_eq!(hook["config"]["content_type"], "form");
    assert_eq!(hook["config"]["url"], "https://ci.lab.example/hooks/dns");
    let stored = app.forge.webhook(&dns(&app).await, id).await.unwrap();
    assert_eq!(
        stored.secret, "very-secret",
        "a PATCH without a secret keeps it"
    );

    let res = api(&app, &token, reqwest::Method::GET, &format!("/hooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], false);

    // Bad settings are 422 with Gitea's message body.
    for bad in [
        json!({"config": {"url": "ftp://x/y"}, "events": ["push"]}),
        json!({"config": {"url": "https://u:p@x/y"}, "events": ["push"]}),
        json!({"config": {"url": "https://x/y"}, "events": ["pull_request"]}),
        json!({"config": {"url": "https://x/y", "content_type": "xml"}}),
        json!({"config": {"url": "https://x/y"}, "branch_filter": "[oops"}),
    ] {
        let res = api(&app, &token, reqwest::Method::POST, "/hooks")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{bad}");
        assert!(res.text().await.unwrap().contains("\"message\""));
    }

    // A writer and a read token are not admins (403); an outsider sees no private repo (404);
    // nobody anonymous (401).
    for (who, want) in [(&bob, 403), (&alice_read, 403), (&carol, 404)] {
        for (method, path) in [
            (reqwest::Method::GET, "/hooks".to_owned()),
            (reqwest::Method::GET, format!("/hooks/{id}")),
            (reqwest::Method::DELETE, format!("/hooks/{id}")),
            (reqwest::Method::GET, format!("/hooks/{id}/deliveries")),
        ] {
            let res = api(&app, who, method.clone(), &path).send().await.unwrap();
            assert_eq!(res.status(), want, "{method} {path}");
        }
        let res = api(&app, who, reqwest::Method::POST, "/hooks")
            .json(&json!({"config": {"url": "https://x/y"}, "events": ["push"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), want);
    }
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/repos/alice/dns/hooks", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = api(
        &app,
        &token,
        reqwest::Method::DELETE,
        &format!("/hooks/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 204);
    let res = api(&app, &token, reqwest::Method::GET, &format!("/hooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_reaches_a_real_receiver_that_checks_the_signature() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/labforge");
    let good = create_hook(&app, &token, &url, "s3cret", json!({})).await;
    let wrong = create_hook(&app, &token, &url, "not-the-secret", json!({})).await;
    let filtered = create_hook(
        &app,
        &token,
        &url,
        "s3cret",
        json!({"branch_filter": "release/*"}),
    )
    .await;
    let recv_dir = app.workdir("receiver");
    let _receiver = start_adnanh(&recv_dir, port, "s3cret").await;

    assert_eq!(
        push_main_created(&app, &dir).await,
        2,
        "the filtered hook is skipped"
    );
    let after = head(&dir).await;
    let pushed = recv_dir.join("pushed");
    let line = wait_for(20, "the receiver's command", || {
        let pushed = pushed.clone();
        async move {
            std::fs::read_to_string(&pushed)
                .ok()
                .filter(|s| !s.is_empty())
        }
    })
    .await;
    assert_eq!(line, format!("refs/heads/main {after}\n"));

    let ok = wait_for(20, "the good delivery to be logged", || async {
        let d = deliveries(&app, &token, good).await;
        (d.len() == 1 && d[0]["state"] == "delivered").then(|| d[0].clone())
    })
    .await;
    assert_eq!(ok["response_status"], 200);
    assert_eq!(ok["attempts"], 1);
    assert_eq!(ok["event"], "push");
    let headers = ok["request_headers"].as_str().unwrap();
    for h in [
        "X-GitHub-Event: push",
        "X-Gitea-Event: push",
        "X-Hub-Signature-256: sha256=",
        "X-Gitea-Signature: ",
        "webhook-id: ",
        "webhook-timestamp: ",
        "webhook-signature: v1,",
        "User-Agent: labforge/",
    ] {
        assert!(headers.contains(h), "{h} missing from {headers}");
    }
    let payload: Value = serde_json::from_str(ok["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["ref"], "refs/heads/main");
    assert_eq!(payload["before"], ZERO_ID);
    assert_eq!(payload["after"], after);
    assert_eq!(payload["total_commits"], 2);
    assert_eq!(payload["commits"].as_array().unwrap().len(), 2);
    assert_eq!(payload["commits"][0]["message"], "commit 0");
    assert_eq!(payload["commits"][1]["id"], after);
    assert_eq!(payload["head_commit"]["id"], after);
    assert_eq!(payload["head_commit"]["author"]["email"], "author@lab.test");
    assert_eq!(payload["repository"]["full_name"], "alice/dns");
    assert_eq!(payload["repository"]["private"], true);
    assert_eq!(payload["repository"]["owner"]["login"], "alice");
    assert_eq!(
        payload["repository"]["clone_url"],
        format!("{}/alice/dns.git", app.base)
    );
    assert_eq!(payload["pusher"]["login"], "alice");
    assert_eq!(payload["sender"]["login"], "alice");

    // The receiver refused the wrong signature: logged with its answer, and retried.
    let refused = wait_for(20, "the refused delivery to be logged", || async {
        let d = deliveries(&app, &token, wrong).await;
        (d.len() == 1
            && d[0]["attempts"].as_i64() >= Some(1)
            && d[0]["state"] != "delivering"
            && d[0]["state"] != "queued")
            .then(|| d[0].clone())
    })
    .await;
    // adnanh/webhook answers a bad signature with 500 and says why in the body.
    assert_eq!(refused["response_status"], 500, "{refused}");
    assert!(
        matches!(refused["state"].as_str(), Some("retrying" | "failed")),
        "{refused}"
    );
    assert_eq!(refused["error"], "HTTP 500");
    assert!(
        refused["response_body"].as_str().unwrap().contains("rules"),
        "{refused}"
    );
    assert!(deliveries(&app, &token, filtered).await.is_empty());
    assert_eq!(std::fs::read_to_string(&pushed).unwrap().lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_retries_until_the_receiver_is_up() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/labforge");
    let hook = create_hook(&app, &token, &url, "s3cret", json!({})).await;
    assert_eq!(push_main_created(&app, &dir).await, 1);

    let failing = wait_for(20, "two failed attempts", || async {
        let d = deliveries(&app, &token, hook).await;
        (d.len() == 1 && d[0]["attempts"].as_i64() >= Some(2) && d[0]["state"] == "retrying")
            .then(|| d[0].clone())
    })
    .await;
    assert!(
        failing["error"].as_str().unwrap().contains("onnect"),
        "{failing}"
    );
    assert!(failing["next_attempt_at"].is_string());

    let recv_dir = app.workdir("receiver");
    let _receiver = start_adnanh(&recv_dir, port, "s3cret").await;
    let done = wait_for(40, "the retry to arrive", || async {
        let d = deliveries(&app, &token, hook).await;
        (d[0]["state"] == "delivered").then(|| d[0].clone())
    })
    .await;
    assert!(done["attempts"].as_i64().unwrap() >= 3, "{done}");
    assert_eq!(done["response_status"], 200);
    assert_eq!(done["error"], "");
    let line = std::fs::read_to_string(recv_dir.join("pushed")).unwrap();
    assert_eq!(line, format!("refs/heads/main {}\n", head(&dir).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_allow_list_refuses_loopback_and_link_local() {
    let (app, token, dir) = setup(&[("LABFORGE_WEBHOOK_RETRY_BASE_SECS", "1")]).await;
    // Something listens here: a refusal must come from the allow list, not from the port.
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let targets = [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ];
    let mut hooks = Vec::new();
    for url in &targets {
        hooks.push(create_hook(&app, &token, url, "s", json!({})).await);
    }
    assert_eq!(push_main_created(&app, &dir).await, targets.len());
    for (hook, url) in hooks.iter().zip(&targets) {
        let d = wait_for(20, "the refusal to be logged", || async {
            let d = deliveries(&app, &token, *hook).await;
            (d.len() == 1 && d[0]["state"] == "retrying").then(|| d[0].clone())
        })
        .await;
        let error = d["error"].as_str().unwrap();
        assert!(
            error.starts_with("refused: ")
                && error.contains("allowed_hosts (private,external) does not allow"),
            "{url}: {error}"
        );
        assert!(d["response_status"].is_null(), "{url}: {d}");
    }
    assert!(recorded(&out).is_empty(), "nothing reached the listener");
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_verify_forms_are_gitea_shaped_and_redirects_are_not_followed() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let json_hook = create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/json"),
        secret,
        json!({}),
    )
    .await;
    create_hook(
        &app,
        &token,
        &format!("http://localhost:{port}/form"),
        "plain-secret",
        json!({"config": {"url": format!("http://localhost:{port}/form"), "content_type": "form", "secret": "plain-secret"}}),
    )
    .await;
    let redirect_hook = create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/redirect"),
        "",
        json!({}),
    )
    .await;
    assert_eq!(push_main_created(&app, &dir).await, 3);

    let redirected = wait_for(20, "the redirect to be logged", || async {
        let d = deliveries(&app, &token, redirect_hook).await;
        (d.len() == 1 && d[0]["state"] == "retrying").then(|| d[0].clone())
    })
    .await;
    assert_eq!(redirected["response_status"], 302);
    assert_eq!(redirected["error"], "HTTP 302: redirects are not followed");
    assert!(
        redirected["response_headers"]
            .as_str()
            .unwrap()
            .contains("/followed")
    );
    assert!(
        !redirected["request_headers"]
            .as_str()
            .unwrap()
            .contains("Signature"),
        "no secret, no signature"
    );

    let requests = wait_for(20, "both signed requests", || {
        let out = out.clone();
        async move {
            let r = recorded(&out);
            let json = r.iter().find(|r| r["path"] == "/json").cloned()?;
            let form = r.iter().find(|r| r["path"] == "/form").cloned()?;
            Some((json, form))
        }
    })
    .await;
    let (json_req, form_req) = requests;

    // JSON: GitHub's and Gitea's HMAC of the body with the secret string, and Standard
    // Webhooks' over id.timestamp.body with the whsec_ key decoded, recomputed here.
    let h = &json_req["headers"];
    let body = json_req["body"].as_str().unwrap();
    assert_eq!(h["content-type"], "application/json");
    let hub = hex(&hmac_sha256(secret.as_bytes(), body.as_bytes()));
    assert_eq!(h["x-hub-signature-256"], format!("sha256={hub}"));
    assert_eq!(h["x-gitea-signature"], hub);
    assert_eq!(h["x-github-delivery"], h["webhook-id"]);
    let ts: i64 = h["webhook-timestamp"].as_str().unwrap().parse().unwrap();
    assert!((time::OffsetDateTime::now_utc().unix_timestamp() - ts).abs() < 60);
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!("{}.{ts}.{body}", h["webhook-id"].as_str().unwrap());
    let expected =
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, signed.as_bytes()));
    assert_eq!(h["webhook-signature"], format!("v1,{expected}"));
    let stored = &deliveries(&app, &token, json_hook).await[0];
    assert_eq!(
        stored["payload"].as_str().unwrap(),
        body,
        "the stored payload is the bytes sent"
    );

    // Form: Gitea's `payload=` field, signed as sent.
    let fh = &form_req["headers"];
    let form_body = form_req["body"].as_str().unwrap();
    assert_eq!(fh["content-type"], "application/x-www-form-urlencoded");
    assert!(form_body.starts_with("payload=%7B"), "{form_body}");
    assert_eq!(
        fh["x-hub-signature-256"],
        format!(
            "sha256={}",
            hex(&hmac_sha256(b"plain-secret", form_body.as_bytes()))
        )
    );

    // The redirect's target was never asked for.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        recorded(&out).iter().all(|r| r["path"] != "/followed"),
        "the Location was followed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_settings_pages_list_hooks_and_deliveries_and_redeliver() {
    let (app, token, _dir) = setup(LOOPBACK).await;
    app.create_user("bob", "bob-password").await;
    app.add_collaborator("alice/dns", "bob", "write").await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let alice = session(&app, "alice", PW).await;
    let (status, html) = page(&app, &alice, "/alice/dns/settings").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Webhooks") && html.contains("No webhooks yet"),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");

    // Add through the form; a bad URL is refused with a message.
    let (status, html) = post(
        &app,
        &alice,
        "/alice/dns/settings/hooks",
        &[
            ("csrf", &csrf),
            ("url", "gopher://x"),
            ("content_type", "json"),
            ("event_push", "on"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("must start with http:// or https://"),
        "{html}"
    );
    let url = format!("http://127.0.0.1:{port}/from-the-form");
    let (status, _) = post(
        &app,
        &alice,
        "/alice/dns/settings/hooks",
        &[
            ("csrf", &csrf),
            ("url", &url),
            ("secret", "form-secret"),
            ("content_type", "json"),
            ("event_push", "on"),
            ("branch_filter", "main"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let hooks = app.forge.webhooks(&dns(&app).await).await.unwrap();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.secret, "form-secret");
    let (_, html) = page(&app, &alice, "/alice/dns/settings").await;
    assert!(
        html.contains(&url) && html.contains("push") && html.contains("main"),
        "{html}"
    );
    assert!(!html.contains("form-secret"));

    // Gitea's test delivery (through the API), then the page shows it.
    let res = api(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/hooks/{}/tests", hook.id),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 204);
    let first = wait_for(20, "the test delivery", || async {
        let d = deliveries(&app, &token, hook.id).await;
        (d.len() == 1 && d[0]["state"] == "delivered").then(|| d[0].clone())
    })
    .await;
    let hook_page = format!("/alice/dns/settings/hooks/{}", hook.id);
    let (status, html) = page(&app, &alice, &hook_page).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Deliveries") && html.contains("delivered") && html.contains(">200<"),
        "{html}"
    );
    assert!(html.contains(first["guid"].as_str().unwrap()) && html.contains("Redeliver"));
    assert!(
        html.contains("X-Hub-Signature-256: sha256="),
        "the request is shown"
    );
    assert!(!html.contains("form-secret"));

    // Redeliver through the form: a second delivery, same bytes, new guid.
    let redeliver = format!("{hook_page}/deliveries/{}/redeliver", first["id"]);
    let (status, _) = post(&app, &alice, &redeliver, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let both = wait_for(20, "the redelivery", || async {
        let d = deliveries(&app, &token, hook.id).await;
        (d.len() == 2 && d[0]["state"] == "delivered").then_some(d)
    })
    .await;
    assert_eq!(both[0]["payload"], both[1]["payload"]);
    assert_ne!(both[0]["guid"], both[1]["guid"]);
    assert_eq!(both[0]["redelivery_of"], first["id"]);
    let bodies: Vec<String> = recorded(&out)
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1]);
    let payload: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(payload["ref"], "refs/heads/main");
    assert_eq!(payload["sender"]["login"], "alice");
    let (_, html) = page(&app, &alice, &hook_page).await;
    assert!(
        html.contains(&format!("redelivery of #{}", first["id"])),
        "{html}"
    );

    // Edit: deactivate, keep the secret; then delete.
    let (status, html) = post(
        &app,
        &alice,
        &hook_page,
        &[
            ("csrf", &csrf),
            ("url", &url),
            ("secret", ""),
            ("content_type", "form"),
            ("event_push", "on"),
            ("branch_filter", ""),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Saved."), "{html}");
    let edited = app.forge.webhook(&dns(&app).await, hook.id).await.unwrap();
    assert!(!edited.active);
    assert_eq!(edited.secret, "form-secret");
    assert_eq!(edited.content_type.as_str(), "form");

    // A writer gets the settings pages' 404, and cannot redeliver.
    let bob = session(&app, "bob", "bob-password").await;
    let bob_csrf = hidden(&page(&app, &bob, "/").await.1, "csrf");
    assert_eq!(page(&app, &bob, &hook_page).await.0, 404);
    assert_eq!(
        post(&app, &bob, &redeliver, &[("csrf", &bob_csrf)]).await.0,
        404
    );
    assert_eq!(
        post(&app, &alice, &redeliver, &[("csrf", "forged")])
            .await
            .0,
        403
    );

    let (status, _) = post(
        &app,
        &alice,
        &format!("{hook_page}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(page(&app, &alice, &hook_page).await.0, 404);
}
