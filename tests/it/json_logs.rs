//! `LABFORGE_LOG_FORMAT=json` on the real binary through a busy run (a push that creates its
//! repository, a clone, a page, a failed login, a stop): every line is one JSON object, and the
//! lines carry what the text lines do: the request's id (the one on the answer), the client's
//! address, the user and the repository of a git operation.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::cli::{free_port, labforge};
use crate::helpers::*;

const PW: &str = "correct-horse-battery";

/// Every span's fields and the event's own, flattened: what a shipper indexes.
fn fields(line: &Value) -> serde_json::Map<String, Value> {
    let mut all = serde_json::Map::new();
    for span in line["spans"].as_array().into_iter().flatten() {
        all.extend(span.as_object().cloned().unwrap_or_default());
    }
    all.extend(line["fields"].as_object().cloned().unwrap_or_default());
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn every_line_of_a_busy_run_is_json_with_the_text_lines_fields() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = data.path().join("serve.log");
    let url = fresh_database_url().await;
    let mut serve = labforge(&data.path().join("data"), port)
        .env("DATABASE_URL", &url)
        .env("LABFORGE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("serve starts");
    wait_healthy(port).await;
    let mut admin = labforge(&data.path().join("data"), 0)
        .env("DATABASE_URL", &url)
        .args([
            "admin",
            "user",
            "create",
            "alice",
            "--email",
            "alice@lab.test",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = admin.stdin.take().unwrap();
        stdin.write_all(format!("{PW}\n").as_bytes()).await.unwrap();
    }
    assert!(admin.wait().await.unwrap().success());

    let base = format!("http://127.0.0.1:{port}");
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("dns");
    local_repo(&local, 2).await;
    let remote = format!("http://alice:{PW}@127.0.0.1:{port}/alice/dns.git");
    git_ok(&local, &["push", "-q", &remote, "main"]).await;
    let clone = work.path().join("clone");
    git_ok(
        work.path(),
        &["clone", "-q", &remote, clone.to_str().unwrap()],
    )
    .await;
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    let page_id = page.headers()["x-request-id"].to_str().unwrap().to_owned();
    let wrong = format!("http://alice:wrong@127.0.0.1:{port}/alice/dns.git");
    assert!(
        !git(work.path(), &["ls-remote", &wrong])
            .await
            .status
            .success()
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), serve.wait())
        .await
        .expect("serve stops")
        .unwrap();
    assert!(status.success());

    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 10, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string())
    );
    let all: Vec<_> = lines.iter().map(fields).collect();
    // The page's lines carry the id its answer had, and the client's address.
    let page_lines: Vec<_> = all
        .iter()
        .filter(|f| f.get("request_id") == Some(&Value::from(page_id.clone())))
        .collect();
    assert!(
        !page_lines.is_empty(),
        "no line has request_id {page_id}:\n{text}"
    );
    assert!(
        page_lines.iter().all(|f| f["addr"] == "127.0.0.1"),
        "{page_lines:?}"
    );
    // The push's lines: its user and its repository (in the URI), with an id.
    let push = all
        .iter()
        .find(|f| {
            f.get("user") == Some(&Value::from("alice"))
                && f.get("uri")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.contains("/alice/dns.git/git-receive-pack"))
        })
        .unwrap_or_else(|| panic!("no line of the push names alice:\n{text}"));
    assert_eq!(push["request_id"].as_str().map(str::len), Some(16));
    // The failed login: the message the text line has, naming the address and the transport.
    assert!(
        all.iter().any(
            |f| f.get("message").and_then(Value::as_str).is_some_and(|m| {
                m.starts_with("authentication failed from 127.0.0.1 via http-git")
            })
        ),
        "{text}"
    );
}
