//! Webhooks end to end: the Gitea-shaped API, real pushes delivered to real receivers (Debian's
//! `webhook`, adnanh/webhook, checking the signature and running a command; a small python3
//! server that records raw requests), retries, the allow list and the settings pages. This file
//! holds the shared helpers and receivers; the tests are in `api.rs`, `delivery.rs`, `pages.rs`.

mod api;
mod delivery;
mod pages;
mod status;

use std::path::{Path, PathBuf};

pub(super) use labforge::model::{RefUpdate, Repo, TokenScope, Username, ZERO_ID};
use labforge::storage::NewPush;
pub(super) use serde_json::{Value, json};

pub(super) use crate::helpers::*;

pub(super) const PW: &str = "alice-password";

/// Loopback receivers are allowed (they are all a test has); retries come after 1 s.
pub(super) const LOOPBACK: &[(&str, &str)] = &[
    ("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "loopback"),
    ("LABFORGE_WEBHOOK_RETRY_BASE_SECS", "1"),
];

/// alice/dns (private) with two commits pushed to main; returns alice's token and the clone.
pub(super) async fn setup(extra: &[(&str, &str)]) -> (TestApp, String, PathBuf) {
    let app = TestApp::spawn_with(extra).await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", true).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let dir = app.workdir("dns");
    local_repo(&dir, 2).await;
    app.push(&dir, ("alice", PW), "alice/dns", &["main"]).await;
    (app, token, dir)
}

pub(super) async fn dns(app: &TestApp) -> Repo {
    app.grant("alice/dns").await.repo().clone()
}

/// What post-receive does: record the push, and in the same transaction queue its webhooks;
/// then wake the worker. Returns how many deliveries were queued.
pub(super) async fn record_push(app: &TestApp, refs: &[RefUpdate]) -> usize {
    let repo = dns(app).await;
    let alice = app
        .forge
        .user(&Username::parse("alice").unwrap())
        .await
        .unwrap();
    let id = app
        .store()
        .await
        .insert_pending_push(NewPush {
            repo_id: repo.id,
            pusher_id: Some(alice.id),
            pusher_name: "alice",
            nonce: &random_hex(8),
            push_options: &[],
            refs,
            checks_skipped: false,
        })
        .await
        .unwrap();
    let mut tx = app.store().await.begin().await.unwrap();
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

pub(super) async fn head(dir: &Path) -> String {
    git_ok(dir, &["rev-parse", "HEAD"]).await.trim().to_owned()
}

pub(super) async fn push_main_created(app: &TestApp, dir: &Path) -> usize {
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

pub(super) fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}/api/v1/repos/alice/dns{path}", app.base))
        .header("Authorization", format!("token {token}"))
}

pub(super) async fn create_hook(
    app: &TestApp,
    token: &str,
    url: &str,
    secret: &str,
    extra: Value,
) -> i64 {
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
pub(super) async fn deliveries(app: &TestApp, token: &str, hook: i64) -> Vec<Value> {
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

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(super) async fn wait_listening(port: u16) {
    eventually(20, "the receiver to listen", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

/// adnanh/webhook on `port`: hook `labforge` checks `X-Hub-Signature-256` against `secret`
/// (refusing a mismatch with an error status) and runs a script that appends `ref after` to `dir/pushed`.
pub(super) async fn start_adnanh(dir: &Path, port: u16, secret: &str) -> tokio::process::Child {
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
pub(super) async fn start_recorder(dir: &Path, port: u16) -> (tokio::process::Child, PathBuf) {
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

pub(super) fn recorded(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(super) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
