//! Item 1: a commit of a dozen objects whose tree nests ten folders ten wide nine deep (10^10
//! paths). The push with a push webhook, the commit page, the patch and the hook test answer in
//! seconds, cut with a notice, in bounded memory.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

/// Builds the bomb with git's plumbing in `dir`; returns the commit id.
pub async fn tree_bomb(dir: &Path) -> String {
    git_ok(dir, &["init", "-q", "-b", "main"]).await;
    let blob = git_with_stdin(dir, &["hash-object", "-w", "--stdin"], "boom\n").await;
    let files: String = (0..10)
        .map(|i| format!("100644 blob {blob}\tf{i}\n"))
        .collect();
    let mut tree = git_with_stdin(dir, &["mktree"], &files).await;
    for _ in 0..9 {
        let folders: String = (0..10)
            .map(|i| format!("040000 tree {tree}\td{i}\n"))
            .collect();
        tree = git_with_stdin(dir, &["mktree"], &folders).await;
    }
    let commit = git_ok(dir, &["commit-tree", &tree, "-m", "bomb"]).await;
    let commit = commit.trim().to_owned();
    git_ok(dir, &["update-ref", "refs/heads/main", &commit]).await;
    commit
}

async fn git_with_stdin(dir: &Path, args: &[&str], input: &str) -> String {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@lab.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@lab.test")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
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
async fn a_tree_bomb_is_cut_everywhere_in_bounded_time_and_memory() {
    let server = Served::start(&[("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "loopback")]).await;
    let token = server.alice_with_repo("bomb").await;
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1/repos/alice/bomb{path}", server.base);
    let hook: Value = client
        .post(api("/hooks"))
        .header("Authorization", format!("token {token}"))
        .json(&json!({"type": "gitea", "events": ["push"], "active": true,
                      "config": {"url": "http://127.0.0.1:9/hook", "content_type": "json"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook = hook["id"].as_i64().expect("hook id");
    let local = server.data.path().join("local");
    let commit = tree_bomb(&local).await;
    let idle = server.rss_mib();
    let watch = Watch::start(server.port, server.pid());

    let started = Instant::now();
    git_ok(&local, &["push", "-q", &server.url("alice/bomb"), "main"]).await;
    assert!(started.elapsed() < Duration::from_secs(60), "the push hung");

    let get = |path: String| {
        let client = client.clone();
        async move {
            let started = Instant::now();
            let res = client.get(path).send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            (status, text, started.elapsed())
        }
    };
    let page = format!("{}/alice/bomb/commit/{commit}", server.base);
    let (pages, patch) = tokio::join!(
        futures_util::future::join_all((0..3).map(|_| get(page.clone()))),
        get(format!("{page}.patch")),
    );
    for (status, text, took) in pages {
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(30), "{took:?}");
        assert!(text.contains("changes more files than one page reads"));
    }
    let (status, text, took) = patch;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(text.contains("labforge: this patch is cut"));

    let res = client
        .post(api(&format!("/hooks/{hook}/tests")))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let deliveries: Vec<Value> = client
        .get(api(&format!("/hooks/{hook}/deliveries")))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 2, "the push's and the test's");
    for d in &deliveries {
        let payload: Value = serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
        let listed = &payload["commits"][0];
        assert_eq!(listed["changes_truncated"], true, "{listed}");
        assert_eq!(listed["added"].as_array().unwrap().len(), 1000);
    }
    let report = watch.finish().await;
    // Unbounded, three requests reached 11.6 GB; the cut walk holds a few MiB of paths.
    assert!(
        report.peak_rss_mib < idle + 400,
        "RSS grew from {idle} MiB to {} MiB",
        report.peak_rss_mib
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_of_thousands_of_entries_lists_the_first_and_says_so() {
    let server = Served::start(&[]).await;
    server.alice_with_repo("wide").await;
    let local = server.data.path().join("local");
    git_ok(&local, &["init", "-q", "-b", "main"]).await;
    let blob = git_with_stdin(&local, &["hash-object", "-w", "--stdin"], "x\n").await;
    let entries: String = (0..6_000)
        .map(|i| format!("100644 blob {blob}\tf{i:05}\n"))
        .collect();
    let tree = git_with_stdin(&local, &["mktree"], &entries).await;
    let commit = git_ok(&local, &["commit-tree", &tree, "-m", "wide"]).await;
    git_ok(&local, &["update-ref", "refs/heads/main", commit.trim()]).await;
    git_ok(&local, &["push", "-q", &server.url("alice/wide"), "main"]).await;
    let started = Instant::now();
    let html = reqwest::get(format!("{}/alice/wide/tree/main", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(html.contains("only the first 5000 are shown"), "the notice");
    assert!(html.contains("f04999") && !html.contains("f05000"));
}
