//! The hooks API: lifecycle in Gitea's shape, and who may use it.

use super::*;

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
    let stored = app
        .forge
        .webhook(&app.grant("alice/dns").await, id)
        .await
        .unwrap();
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
