//! Bad input is refused whole: each API write endpoint gets one invalid field, answers 4xx with
//! a JSON message, and nothing changed. Also a form post without its CSRF field.

use serde_json::{Value, json};

use crate::helpers::*;

async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}/api/v1/repos/alice/dns{path}", app.base),
        )
        .header("Authorization", format!("token {token}"));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Everything the writes below could change, as the API shows it.
async fn snapshot(app: &TestApp, token: &str) -> Value {
    let mut all = json!({});
    for (key, path) in [
        ("issues", "/issues?state=all"),
        ("issue", "/issues/1"),
        ("comments", "/issues/1/comments"),
        ("labels", "/labels"),
        ("hooks", "/hooks"),
        ("deliveries", "/hooks/1/deliveries"),
    ] {
        let (status, value) = call(app, token, "GET", path, None).await;
        assert_eq!(status, 200, "{path}: {value}");
        all[key] = value;
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn each_write_endpoint_refuses_one_bad_field_and_changes_nothing() {
    let app = TestApp::spawn_with(&[("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "private,external")]).await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", true).await;
    let token = app
        .create_token("alice", labforge::model::TokenScope::Write)
        .await;
    // Something to change: an issue with a comment, a label, a hook.
    for (path, body) in [
        ("/labels", r##"{"name": "bug", "color": "#d73a4a"}"##),
        (
            "/issues",
            r#"{"title": "Resolver down", "body": "since 03:00", "labels": ["bug"]}"#,
        ),
        ("/issues/1/comments", r#"{"body": "looking"}"#),
        (
            "/hooks",
            r#"{"type": "gitea", "config": {"url": "https://ci.lab.invalid/x", "content_type": "json"}, "events": ["push"], "active": true}"#,
        ),
    ] {
        let (status, value) = call(&app, &token, "POST", path, Some(body)).await;
        assert_eq!(status, 201, "{path}: {value}");
    }
    let before = snapshot(&app, &token).await;
    let cases: &[(&str, &str, &str, &str)] = &[
        // (method, path, body, what the message must name)
        (
            "POST",
            "/issues",
            r#"{"title": "Again", "labels": ["nope"]}"#,
            "nope",
        ),
        (
            "POST",
            "/issues",
            r#"{"title": "Again", "labels": ["bug"], "closed": "yes"}"#,
            "closed",
        ),
        ("POST", "/issues", r#"{"title": "", "body": "x"}"#, "title"),
        ("POST", "/issues", r#"{"title": 5}"#, "title"),
        (
            "PATCH",
            "/issues/1",
            r#"{"title": "Renamed", "labels": ["nope"]}"#,
            "nope",
        ),
        (
            "PATCH",
            "/issues/1",
            r#"{"title": "Renamed", "state": "maybe"}"#,
            "maybe",
        ),
        (
            "PATCH",
            "/issues/1",
            r#"{"body": "new", "labels": [99]}"#,
            "99",
        ),
        ("POST", "/issues/1/comments", r#"{"body": ""}"#, "comment"),
        ("POST", "/issues/1/comments", r#"{"text": "x"}"#, "body"),
        (
            "POST",
            "/labels",
            r#"{"name": "dns", "color": "red"}"#,
            "red",
        ),
        (
            "POST",
            "/labels",
            r##"{"name": "a,b", "color": "#000000"}"##,
            "comma",
        ),
        (
            "POST",
            "/hooks",
            r#"{"type": "gitea", "config": {"url": "ftp://ci.lab/x"}, "events": ["push"]}"#,
            "http",
        ),
        (
            "POST",
            "/hooks",
            r#"{"type": "gitea", "config": {"url": "https://ci.lab.invalid/x"}, "events": ["nope"]}"#,
            "nope",
        ),
        (
            "POST",
            "/hooks",
            r#"{"type": "gitea", "config": {"url": "http://127.0.0.1:9/x"}, "events": ["push"]}"#,
            "allowed_hosts",
        ),
        (
            "PATCH",
            "/hooks/1",
            r#"{"events": ["push"], "branch_filter": "[unclosed"}"#,
            "branch filter",
        ),
        (
            "PATCH",
            "/hooks/1",
            r#"{"config": {"content_type": "xml"}}"#,
            "xml",
        ),
        ("POST", "/hooks/1/deliveries/999/redeliver", "", "not found"),
    ];
    for (method, path, body, names) in cases {
        let body = (!body.is_empty()).then_some(*body);
        let (status, value) = call(&app, &token, method, path, body).await;
        assert!(
            (400..500).contains(&status),
            "{method} {path} {body:?}: {status} {value}"
        );
        let message = value["message"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            message.contains(&names.to_ascii_lowercase()),
            "{method} {path} {body:?}: the message names {names}: {value}"
        );
        assert_eq!(
            snapshot(&app, &token).await,
            before,
            "{method} {path} {body:?} changed nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_without_its_csrf_field_gets_a_page_with_a_sentence() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let cookie = crate::web_auth::session(&app, "alice", "alice-password").await;
    let (status, html) = crate::web_auth::post(
        &app,
        &cookie,
        "/new",
        &[("name", "dns"), ("description", "")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        html.contains("<html") || html.contains("<!DOCTYPE"),
        "an HTML page: {html}"
    );
    assert!(html.contains("without its security token"), "{html}");
    assert!(!html.contains("deserialize"), "{html}");
    assert!(
        app.forge.list_repos().await.unwrap().is_empty(),
        "nothing created"
    );

    // With its token the form works; unticked is private, the Public box opens it.
    let (_, html) = crate::web_auth::page(&app, &cookie, "/new").await;
    let csrf = crate::web_auth::hidden(&html, "csrf");
    for (name, public) in [("dns", false), ("docs", true)] {
        let mut form = vec![("csrf", csrf.as_str()), ("name", name), ("description", "")];
        if public {
            form.push(("public", "on"));
        }
        let (status, _) = crate::web_auth::post(&app, &cookie, "/new", &form).await;
        assert_eq!(status, 303);
    }
    let visibility: Vec<(String, bool)> = app
        .forge
        .list_repos()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.is_private))
        .collect();
    assert_eq!(
        visibility,
        [("dns".to_owned(), true), ("docs".to_owned(), false)]
    );
}
