//! Commit statuses through Gitea's API (as an outside CI posts them), who may post, and the
//! `status` webhook event reaching a real receiver.

use super::*;

#[tokio::test]
async fn an_outside_ci_posts_statuses_readers_list_them_and_the_status_event_is_delivered() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let sha = head(&dir).await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.work.path().join("recorder"), port).await;
    create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/status"),
        "",
        json!({"events": ["status"]}),
    )
    .await;
    let post = |token: &str, rev: &str, body: Value| {
        let req = api(
            &app,
            token,
            reqwest::Method::POST,
            &format!("/statuses/{rev}"),
        )
        .json(&body);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };

    let (status, created) = post(
        &token,
        &sha,
        json!({"state": "success", "context": "ci/woodpecker", "description": "build 7 passed",
               "target_url": "https://ci.lab.example/repos/1/7"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "success");
    // Gitea's CommitStatus names it `status` only (no GitHub-style `state` beside it).
    assert!(created.get("state").is_none(), "{created}");
    assert_eq!(created["context"], "ci/woodpecker");
    assert_eq!(created["description"], "build 7 passed");
    assert_eq!(created["target_url"], "https://ci.lab.example/repos/1/7");
    assert_eq!(created["creator"]["login"], "alice");
    assert_eq!(
        created["url"],
        format!("{}/api/v1/repos/alice/dns/statuses/{sha}", app.base)
    );
    // A short id names the commit too; statuses land on the full id.
    let (status, _) = post(
        &token,
        &sha[..8],
        json!({"state": "pending", "context": "ci/lint"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = post(
        &token,
        &sha,
        json!({"state": "failure", "context": "ci/lint"}),
    )
    .await;
    assert_eq!(status, 201);

    let get = |path: String| {
        let req = api(&app, &token, reqwest::Method::GET, &path);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, all) = get(format!("/statuses/{sha}")).await;
    assert_eq!(status, 200);
    let states: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    // One status per context, the latest (ci/lint's pending was replaced by its failure).
    assert_eq!(states, ["failure", "success"], "newest first");
    let (_, by_ref) = get("/commits/main/statuses?state=success".into()).await;
    assert_eq!(by_ref.as_array().unwrap().len(), 1);

    let (status, combined) = get("/commits/main/status".into()).await;
    assert_eq!(status, 200, "{combined}");
    assert_eq!(combined["state"], "failure");
    assert_eq!(combined["sha"], sha.as_str());
    assert_eq!(combined["total_count"], 2);
    let contexts: Vec<(&str, &str)> = combined["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["context"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        contexts,
        [("ci/lint", "failure"), ("ci/woodpecker", "success")]
    );
    assert_eq!(combined["repository"]["full_name"], "alice/dns");
    // Fixed: the combined state turns to success.
    post(
        &token,
        &sha,
        json!({"state": "success", "context": "ci/lint"}),
    )
    .await;
    assert_eq!(
        get("/commits/main/status".into()).await.1["state"],
        "success"
    );

    // Who may post: writers only; a read token, a reader and nobody are refused.
    let read_token = app.create_token("alice", TokenScope::Read).await;
    assert_eq!(
        post(&read_token, &sha, json!({"state": "success"})).await.0,
        403
    );
    app.create_user("bob", "bob-password-long").await;
    app.add_collaborator("alice/dns", "bob", "read").await;
    let bob = app.create_token("bob", TokenScope::Write).await;
    assert_eq!(post(&bob, &sha, json!({"state": "success"})).await.0, 403);
    let (status, bob_reads) = {
        let res = api(&app, &bob, reqwest::Method::GET, "/commits/main/status")
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(
        (status, bob_reads["state"].as_str()),
        (200, Some("success"))
    );
    let anonymous = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/repos/alice/dns/statuses/{sha}",
            app.base
        ))
        .json(&json!({"state": "success"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let hidden = reqwest::get(format!(
        "{}/api/v1/repos/alice/dns/commits/main/status",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(
        hidden.status(),
        404,
        "a private repository's statuses are hidden"
    );

    // Bad fields are named, and nothing is recorded.
    for (body, word) in [
        (json!({"state": "done"}), "state"),
        (
            json!({"state": "success", "target_url": "javascript:alert(1)"}),
            "target_url",
        ),
        (json!({"state": "success", "context": "a\nb"}), "context"),
        (json!({"context": "x"}), "state"),
    ] {
        let (status, said) = post(&token, &sha, body.clone()).await;
        assert_eq!(status, 422, "{body}: {said}");
        assert!(
            said["message"].as_str().unwrap().contains(word),
            "{body}: {said}"
        );
    }
    let (status, said) = post(&token, "deadbeef", json!({"state": "success"})).await;
    assert_eq!(status, 422, "{said}");
    assert_eq!(
        get(format!("/statuses/{sha}"))
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2,
        "the two contexts' latest statuses, nothing more"
    );

    // Each status reached the receiver as Gitea's `status` event.
    let got = eventually(30, "four status deliveries", || async {
        let got = recorded(&out);
        (got.len() >= 4).then_some(got)
    })
    .await;
    let first = &got[0];
    assert_eq!(first["headers"]["x-gitea-event"], "status");
    assert_eq!(first["headers"]["x-github-event"], "status");
    let payload: Value = serde_json::from_str(first["body"].as_str().unwrap()).unwrap();
    assert_eq!(payload["sha"], sha.as_str());
    assert_eq!(payload["state"], "success");
    assert_eq!(payload["context"], "ci/woodpecker");
    assert_eq!(payload["target_url"], "https://ci.lab.example/repos/1/7");
    assert_eq!(payload["commit"]["id"], sha.as_str());
    assert_eq!(payload["repository"]["full_name"], "alice/dns");
    assert_eq!(payload["sender"]["login"], "alice");
    assert!(payload["id"].as_i64().unwrap() > 0);
}
