//! Item 2: an issue body of 60,000 `>` and a README of deep lists, viewed by several anonymous
//! visitors at once: each view answers in seconds, a second view comes from the memo, and
//! `/healthz` keeps answering.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_markdown_renders_in_bounded_time_off_the_async_threads() {
    let server = Served::start(&[]).await;
    let token = server.alice_with_repo("notes").await;
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/repos/alice/notes/issues", server.base))
        .header("Authorization", format!("token {token}"))
        .json(&json!({"title": "quotes", "body": ">".repeat(60_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let readme = "- ".repeat(20_000) + "x\n\n" + &"*a _b ".repeat(10_000);
    let local = server.data.path().join("local");
    repo_with(&local, &[("README.md", readme.as_bytes())]).await;
    git_ok(&local, &["push", "-q", &server.url("alice/notes"), "main"]).await;

    let watch = Watch::start(server.port, server.pid());
    let view = |path: &'static str| {
        let url = format!("{}{path}", server.base);
        async move {
            let started = Instant::now();
            let res = reqwest::get(url).await.unwrap();
            assert_eq!(res.status(), 200);
            let html = res.text().await.unwrap();
            (html, started.elapsed())
        }
    };
    let first = futures_util::future::join_all(
        (0..4).flat_map(|_| [view("/alice/notes/issues/1"), view("/alice/notes")]),
    )
    .await;
    for (html, took) in &first {
        assert!(*took < Duration::from_secs(20), "a view took {took:?}");
        assert!(html.matches("<blockquote>").count() <= 32);
    }
    let (html, again) = view("/alice/notes/issues/1").await;
    assert!(
        html.contains("&gt;&gt;&gt;"),
        "deep levels are shown as text"
    );
    assert!(again < Duration::from_secs(2), "memoised: {again:?}");
    watch.finish().await;
}
