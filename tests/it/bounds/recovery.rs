//! Item 1, start-up: a push whose post-receive never arrived is settled in the background after
//! a `kill -9`, with a budget per event; the restarted server answers `/healthz` meanwhile, and
//! an event that fails or runs out of budget is marked failed with the reason.

use std::str::FromStr;
use std::time::{Duration, Instant};

use labforge::model::{RefUpdate, ZERO_ID};
use labforge::storage::{Db, NewPush};
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;

use super::tree_bomb::tree_bomb;
use super::*;

async fn pending(db: &Db, repo_id: i64, nonce: &str, update: RefUpdate) -> i64 {
    db.insert_pending_push(NewPush {
        repo_id,
        pusher_id: None,
        pusher_name: "alice",
        nonce,
        push_options: &[],
        refs: std::slice::from_ref(&update),
        checks_skipped: false,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_tree_bomb_push_is_settled_after_kill_9_while_healthz_answers() {
    let mut server = Served::start(&[("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "loopback")]).await;
    let token = server.alice_with_repo("bomb").await;
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/repos/alice/bomb/hooks", server.base))
        .header("Authorization", format!("token {token}"))
        .json(&json!({"type": "gitea", "events": ["push"], "active": true,
                      "config": {"url": "http://127.0.0.1:9/hook", "content_type": "json"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let local = server.data.path().join("local");
    let commit = tree_bomb(&local).await;
    git_ok(
        &local,
        &["push", "-q", &server.url("alice/bomb"), "main:other"],
    )
    .await;
    // As if the server died between git moving `held` and post-receive.
    git_ok(
        &local,
        &["push", "-q", &server.url("alice/bomb"), "main:held"],
    )
    .await;
    let db = Db::connect(PgConnectOptions::from_str(&server.db_url).unwrap())
        .await
        .unwrap();
    let repo = db.repo_by_path("alice", "bomb").await.unwrap().unwrap();
    let update = RefUpdate {
        name: "refs/heads/held".into(),
        old: ZERO_ID.into(),
        new: commit.clone(),
    };
    let id = pending(&db, repo.id, "n-bomb", update).await;

    server.kill_and_restart().await;
    let started = Instant::now();
    wait_healthy(server.port).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the restart waited for recovery: {:?}",
        started.elapsed()
    );
    let watch = Watch::start(server.port, server.pid());
    let state = eventually(120, "the pending push to be settled", || {
        let db = &db;
        async move {
            let (state, _) = db.push_recovery(id).await.unwrap()?;
            (state != "pending").then_some(state)
        }
    })
    .await;
    assert_eq!(state, "received");
    watch.finish().await;
    let deliveries: Vec<Value> = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/repos/alice/bomb/hooks/1/deliveries",
            server.base
        ))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        deliveries.len(),
        3,
        "other, held (settled) and nothing twice"
    );
    db.close().await;
}

#[tokio::test]
async fn an_event_past_its_budget_is_marked_failed_with_the_reason() {
    let app = TestApp::spawn().await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let local = app.workdir("dns");
    local_repo(&local, 1).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main:held"])
        .await;
    let head = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let repo = app
        .store()
        .await
        .repo_by_path("alice", "dns")
        .await
        .unwrap()
        .unwrap();
    let update = RefUpdate {
        name: "refs/heads/held".into(),
        old: ZERO_ID.into(),
        new: head,
    };
    let id = pending(&app.store().await, repo.id, "n-slow", update).await;
    app.forge
        .settle_pending_pushes(Duration::ZERO)
        .await
        .unwrap();
    let (state, reason) = app.store().await.push_recovery(id).await.unwrap().unwrap();
    assert_eq!(state, "failed");
    assert!(
        reason.is_some_and(|r| r.contains("longer than 0 s")),
        "the reason is kept"
    );
    assert!(
        app.store().await.pending_pushes().await.unwrap().is_empty(),
        "and it is not tried again"
    );
}

#[tokio::test]
async fn quarantine_folders_a_killed_push_left_are_removed_at_start() {
    let mut app = TestApp::spawn().await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let objects = app.server_repo("alice/dns").join("objects");
    for stale in ["tmp_objdir-incoming-AbC123", "incoming-XyZ"] {
        std::fs::create_dir_all(objects.join(stale).join("pack")).unwrap();
        std::fs::write(objects.join(stale).join("pack/x.pack"), vec![0u8; 4096]).unwrap();
    }
    app.restart().await;
    for stale in ["tmp_objdir-incoming-AbC123", "incoming-XyZ"] {
        assert!(!objects.join(stale).exists(), "{stale} is gone");
    }
    assert!(
        objects.join("pack").exists(),
        "the repository's own objects stay"
    );
}
