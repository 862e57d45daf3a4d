//! The issue API in Gitea's shape, with tokens: lifecycle, filters, search and who may do what.

use labforge::model::TokenScope;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::issues::users;

struct Api<'a> {
    app: &'a TestApp,
    token: Option<String>,
}

impl Api<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/api/v1{path}", self.app.base);
        let client = reqwest::Client::new();
        let mut req = client.request(method.parse().unwrap(), url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("token {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", path, Some(body)).await
    }
}

fn numbers(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|i| i["number"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn issue_lifecycle_filters_and_search_through_the_api() {
    let app = TestApp::spawn().await;
    users(&app, &["alice", "bob"]).await;
    app.create_repo("alice", "dns", false).await;
    let alice = Api {
        app: &app,
        token: Some(app.create_token("alice", TokenScope::Write).await),
    };
    let bob = Api {
        app: &app,
        token: Some(app.create_token("bob", TokenScope::Write).await),
    };
    let anon = Api {
        app: &app,
        token: None,
    };

    let (s, label) = alice
        .post(
            "/repos/alice/dns/labels",
            json!({"name": "bug", "color": "#D73A4A"}),
        )
        .await;
    assert_eq!(s, 201, "{label}");
    assert_eq!(
        (label["name"].as_str(), label["color"].as_str()),
        (Some("bug"), Some("d73a4a"))
    );
    let (s, _) = bob
        .post(
            "/repos/alice/dns/labels",
            json!({"name": "x", "color": "000000"}),
        )
        .await;
    assert_eq!(s, 403, "labels are for writers");
    let (s, _) = alice
        .post(
            "/repos/alice/dns/labels",
            json!({"name": "Bug", "color": "000000"}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, labels) = anon.get("/repos/alice/dns/labels").await;
    assert_eq!((s, labels.as_array().unwrap().len()), (200, 1));

    let (s, issue) = bob
        .post(
            "/repos/alice/dns/issues",
            json!({"title": "Resolver crashes", "body": "unbound dies at night"}),
        )
        .await;
    assert_eq!(s, 201, "{issue}");
    assert_eq!(issue["number"], 1);
    assert_eq!(issue["title"], "Resolver crashes");
    assert_eq!(issue["body"], "unbound dies at night");
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["user"]["login"], "bob");
    assert_eq!(issue["comments"], 0);
    assert_eq!(issue["closed_at"], Value::Null);
    assert_eq!(
        issue["html_url"],
        format!("{}/alice/dns/issues/1", app.base)
    );
    assert!(
        issue["created_at"].as_str().unwrap().ends_with('Z'),
        "{issue}"
    );
    let (s, _) = bob
        .post(
            "/repos/alice/dns/issues",
            json!({"title": "Labelled", "labels": [label["id"]]}),
        )
        .await;
    assert_eq!(s, 403, "setting labels needs write access");
    let (s, issue2) = alice
        .post(
            "/repos/alice/dns/issues",
            json!({"title": "Zone serial", "body": "SOA serial stays", "labels": ["bug"]}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(issue2["labels"][0]["name"], "bug");
    let (s, _) = alice
        .post("/repos/alice/dns/issues", json!({"title": "  "}))
        .await;
    assert_eq!(s, 422);

    // Comments.
    let (s, comment) = alice
        .post(
            "/repos/alice/dns/issues/1/comments",
            json!({"body": "Same with wireguard up"}),
        )
        .await;
    assert_eq!(s, 201, "{comment}");
    assert_eq!(comment["user"]["login"], "alice");
    assert_eq!(comment["body"], "Same with wireguard up");
    assert_eq!(
        comment["html_url"],
        format!(
            "{}/alice/dns/issues/1#issuecomment-{}",
            app.base, comment["id"]
        )
    );
    let (s, comments) = anon.get("/repos/alice/dns/issues/1/comments").await;
    assert_eq!(s, 200);
    assert_eq!(comments[0]["id"], comment["id"]);
    let (_, issue) = anon.get("/repos/alice/dns/issues/1").await;
    assert_eq!(issue["comments"], 1);

    // Filters, search (title, body, comments) and pages.
    let (_, list) = anon.get("/repos/alice/dns/issues").await;
    assert_eq!(numbers(&list), vec![2, 1]);
    let (_, list) = anon.get("/repos/alice/dns/issues?labels=bug").await;
    assert_eq!(numbers(&list), vec![2]);
    let (_, list) = anon.get("/repos/alice/dns/issues?q=crash").await;
    assert_eq!(numbers(&list), vec![1]);
    let (_, list) = anon.get("/repos/alice/dns/issues?q=wireguard").await;
    assert_eq!(numbers(&list), vec![1], "found in a comment");
    let (_, list) = anon.get("/repos/alice/dns/issues?created_by=alice").await;
    assert_eq!(numbers(&list), vec![2]);
    let (_, list) = anon.get("/repos/alice/dns/issues?limit=1&page=2").await;
    assert_eq!(numbers(&list), vec![1]);

    // Edits: the author closes their issue; title and labels by a writer.
    let (s, closed) = bob
        .patch("/repos/alice/dns/issues/1", json!({"state": "closed"}))
        .await;
    assert_eq!(s, 201, "{closed}");
    assert_eq!(closed["state"], "closed");
    assert!(closed["closed_at"].is_string(), "{closed}");
    let (_, list) = anon.get("/repos/alice/dns/issues?state=closed").await;
    assert_eq!(numbers(&list), vec![1]);
    let (_, list) = anon.get("/repos/alice/dns/issues?state=all").await;
    assert_eq!(numbers(&list), vec![2, 1]);
    let (s, _) = bob
        .patch("/repos/alice/dns/issues/2", json!({"state": "closed"}))
        .await;
    assert_eq!(s, 403, "not bob's issue");
    let (s, edited) = alice
        .patch(
            "/repos/alice/dns/issues/1",
            json!({"title": "Resolver crashes at 03:00", "labels": ["bug"], "state": "open"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(edited["title"], "Resolver crashes at 03:00");
    assert_eq!(edited["labels"][0]["name"], "bug");
    assert_eq!(edited["state"], "open");
    let (s, _) = alice
        .patch("/repos/alice/dns/issues/1", json!({"labels": ["nosuch"]}))
        .await;
    assert_eq!(s, 422);
    let (s, _) = alice.get("/repos/alice/dns/issues/99").await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_permissions_on_public_and_private_repositories() {
    let app = TestApp::spawn().await;
    users(&app, &["alice", "carol", "dave", "erin"]).await;
    app.create_repo("alice", "pub", false).await;
    app.create_repo("alice", "priv", true).await;
    for repo in ["alice/pub", "alice/priv"] {
        app.add_collaborator(repo, "dave", "read").await;
        app.add_collaborator(repo, "erin", "write").await;
    }
    let token = |u: &str, scope| {
        let app = &app;
        let u = u.to_owned();
        async move {
            Api {
                app,
                token: Some(app.create_token(&u, scope).await),
            }
        }
    };
    let owner = token("alice", TokenScope::Write).await;
    for repo in ["alice/pub", "alice/priv"] {
        let (s, _) = owner
            .post(&format!("/repos/{repo}/issues"), json!({"title": "First"}))
            .await;
        assert_eq!(s, 201);
    }
    let roles = [
        (
            "anonymous",
            Api {
                app: &app,
                token: None,
            },
        ),
        ("outsider", token("carol", TokenScope::Write).await),
        ("reader", token("dave", TokenScope::Write).await),
        ("writer", token("erin", TokenScope::Write).await),
        (
            "read-only token of the owner",
            token("alice", TokenScope::Read).await,
        ),
    ];
    // view, open, comment, close someone else's issue, create a label
    let public = [
        [200, 401, 401, 401, 401],
        [200, 201, 201, 403, 403],
        [200, 201, 201, 403, 403],
        [200, 201, 201, 201, 201],
        [200, 403, 403, 403, 403],
    ];
    let private = [
        [404, 401, 401, 401, 401],
        [404, 404, 404, 404, 404],
        [200, 201, 201, 403, 403],
        [200, 201, 201, 201, 201],
        [200, 403, 403, 403, 403],
    ];
    for (repo, expected) in [("alice/pub", public), ("alice/priv", private)] {
        for ((role, api), want) in roles.iter().zip(expected) {
            let got = [
                api.get(&format!("/repos/{repo}/issues/1")).await.0,
                api.post(&format!("/repos/{repo}/issues"), json!({"title": "Mine"}))
                    .await
                    .0,
                api.post(
                    &format!("/repos/{repo}/issues/1/comments"),
                    json!({"body": "hi"}),
                )
                .await
                .0,
                api.patch(
                    &format!("/repos/{repo}/issues/1"),
                    json!({"state": "closed"}),
                )
                .await
                .0,
                api.post(
                    &format!("/repos/{repo}/labels"),
                    json!({"name": format!("l-{}", random_hex(3)), "color": "123456"}),
                )
                .await
                .0,
            ];
            assert_eq!(
                got, want,
                "{role} on {repo}: view, open, comment, close, label"
            );
            let (s, _) = owner
                .patch(&format!("/repos/{repo}/issues/1"), json!({"state": "open"}))
                .await;
            assert_eq!(s, 201);
        }
        let (s, list) = roles[1]
            .1
            .get(&format!("/repos/{repo}/issues?state=all"))
            .await;
        if repo == "alice/priv" {
            assert_eq!(s, 404, "outsiders do not see private issues: {list}");
        }
    }
}
