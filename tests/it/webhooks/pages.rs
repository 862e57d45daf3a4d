//! The settings pages: the hook list, a hook's deliveries, redeliver, edit and delete.

use super::*;
use crate::web_auth::{hidden, page, post, session};

#[tokio::test(flavor = "multi_thread")]
async fn the_settings_pages_list_hooks_and_deliveries_and_redeliver() {
    let (app, token, _dir) = setup(LOOPBACK).await;
    app.create_user("bob", "bob-password").await;
    app.add_collaborator("alice/dns", "bob", "write").await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let alice = session(&app, "alice", PW).await;
    let (status, html) = page(&app, &alice, "/alice/dns/settings/hooks").await;
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
    // A host the instance's allow list refuses: the message names the setting to change.
    let (status, html) = post(
        &app,
        &alice,
        "/alice/dns/settings/hooks",
        &[
            ("csrf", &csrf),
            ("url", "http://169.254.169.254/latest/meta-data/"),
            ("content_type", "json"),
            ("event_push", "on"),
            ("active", "on"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("[webhook] allowed_hosts (LABFORGE_WEBHOOK_ALLOWED_HOSTS)")
            && html.contains("by adding 169.254.169.254"),
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
    let hooks = app
        .forge
        .webhooks(&app.grant("alice/dns").await)
        .await
        .unwrap();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.secret, "form-secret");
    let (_, html) = page(&app, &alice, "/alice/dns/settings/hooks").await;
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
    let first = eventually(20, "the test delivery", || async {
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
    let both = eventually(20, "the redelivery", || async {
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
    let edited = app
        .forge
        .webhook(&app.grant("alice/dns").await, hook.id)
        .await
        .unwrap();
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
