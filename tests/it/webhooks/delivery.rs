//! Deliveries to real receivers: signatures, retries, the allow list, redirects, restarts.

use base64::Engine;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_push_reaches_a_real_receiver_that_checks_the_signature() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/labforge");
    let good = create_hook(&app, &token, &url, "s3cret", json!({})).await;
    let wrong = create_hook(&app, &token, &url, "not-the-secret", json!({})).await;
    let filtered = create_hook(
        &app,
        &token,
        &url,
        "s3cret",
        json!({"branch_filter": "release/*"}),
    )
    .await;
    let recv_dir = app.workdir("receiver");
    let _receiver = start_adnanh(&recv_dir, port, "s3cret").await;

    assert_eq!(
        push_main_created(&app, &dir).await,
        2,
        "the filtered hook is skipped"
    );
    let after = head(&dir).await;
    let pushed = recv_dir.join("pushed");
    let line = eventually(20, "the receiver's command", || {
        let pushed = pushed.clone();
        async move {
            std::fs::read_to_string(&pushed)
                .ok()
                .filter(|s| !s.is_empty())
        }
    })
    .await;
    assert_eq!(line, format!("refs/heads/main {after}\n"));

    let ok = eventually(20, "the good delivery to be logged", || async {
        let d = deliveries(&app, &token, good).await;
        (d.len() == 1 && d[0]["state"] == "delivered").then(|| d[0].clone())
    })
    .await;
    assert_eq!(ok["response_status"], 200);
    assert_eq!(ok["attempts"], 1);
    assert_eq!(ok["event"], "push");
    let headers = ok["request_headers"].as_str().unwrap();
    for h in [
        "X-GitHub-Event: push",
        "X-Gitea-Event: push",
        "X-Hub-Signature-256: sha256=",
        "X-Gitea-Signature: ",
        "webhook-id: ",
        "webhook-timestamp: ",
        "webhook-signature: v1,",
        "User-Agent: labforge/",
    ] {
        assert!(headers.contains(h), "{h} missing from {headers}");
    }
    let payload: Value = serde_json::from_str(ok["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["ref"], "refs/heads/main");
    assert_eq!(payload["before"], ZERO_ID);
    assert_eq!(payload["after"], after);
    assert_eq!(payload["total_commits"], 2);
    assert_eq!(payload["commits"].as_array().unwrap().len(), 2);
    assert_eq!(payload["commits"][0]["message"], "commit 0");
    assert_eq!(payload["commits"][0]["added"], json!(["file0.txt"]));
    assert_eq!(payload["commits"][0]["removed"], json!([]));
    assert_eq!(payload["commits"][1]["added"], json!(["file1.txt"]));
    assert_eq!(payload["commits"][1]["id"], after);
    assert_eq!(payload["head_commit"]["id"], after);
    assert_eq!(payload["head_commit"]["author"]["email"], "author@lab.test");
    assert_eq!(payload["repository"]["full_name"], "alice/dns");
    assert_eq!(payload["repository"]["private"], true);
    assert_eq!(payload["repository"]["owner"]["login"], "alice");
    assert_eq!(
        payload["repository"]["clone_url"],
        format!("{}/alice/dns.git", app.base)
    );
    assert_eq!(payload["pusher"]["login"], "alice");
    assert_eq!(payload["sender"]["login"], "alice");

    // The receiver refused the wrong signature: logged with its answer, and retried.
    let refused = eventually(20, "the refused delivery to be logged", || async {
        let d = deliveries(&app, &token, wrong).await;
        (d.len() == 1
            && d[0]["attempts"].as_i64() >= Some(1)
            && d[0]["state"] != "delivering"
            && d[0]["state"] != "queued")
            .then(|| d[0].clone())
    })
    .await;
    // adnanh/webhook answers a bad signature with 500 and says why in the body.
    assert_eq!(refused["response_status"], 500, "{refused}");
    assert!(
        matches!(refused["state"].as_str(), Some("retrying" | "failed")),
        "{refused}"
    );
    assert_eq!(refused["error"], "HTTP 500");
    assert!(
        refused["response_body"].as_str().unwrap().contains("rules"),
        "{refused}"
    );
    assert!(deliveries(&app, &token, filtered).await.is_empty());
    assert_eq!(std::fs::read_to_string(&pushed).unwrap().lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_retries_until_the_receiver_is_up() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/labforge");
    let hook = create_hook(&app, &token, &url, "s3cret", json!({})).await;
    assert_eq!(push_main_created(&app, &dir).await, 1);

    let failing = eventually(20, "two failed attempts", || async {
        let d = deliveries(&app, &token, hook).await;
        (d.len() == 1 && d[0]["attempts"].as_i64() >= Some(2) && d[0]["state"] == "retrying")
            .then(|| d[0].clone())
    })
    .await;
    assert!(
        failing["error"].as_str().unwrap().contains("onnect"),
        "{failing}"
    );
    assert!(failing["next_attempt_at"].is_string());

    let recv_dir = app.workdir("receiver");
    let _receiver = start_adnanh(&recv_dir, port, "s3cret").await;
    let done = eventually(40, "the retry to arrive", || async {
        let d = deliveries(&app, &token, hook).await;
        (d[0]["state"] == "delivered").then(|| d[0].clone())
    })
    .await;
    assert!(done["attempts"].as_i64().unwrap() >= 3, "{done}");
    assert_eq!(done["response_status"], 200);
    assert_eq!(done["error"], "");
    // adnanh/webhook answers first and runs its command after.
    let pushed = recv_dir.join("pushed");
    let line = eventually(20, "the receiver's command to run", || {
        let pushed = pushed.clone();
        async move { std::fs::read_to_string(pushed).ok() }
    })
    .await;
    assert_eq!(line, format!("refs/heads/main {}\n", head(&dir).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_allow_list_refuses_loopback_and_link_local_when_saved() {
    let (app, token, _dir) = setup(&[("LABFORGE_WEBHOOK_RETRY_BASE_SECS", "1")]).await;
    let targets = [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]:9/hook", "loopback"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
    ];
    for (url, entry) in targets {
        let res = api(&app, &token, reqwest::Method::POST, "/hooks")
            .json(
                &json!({"type": "gitea", "config": {"url": url, "content_type": "json"},
                          "events": ["push"], "active": true}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{url}");
        let message = res.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message
                .contains("allowed_hosts (LABFORGE_WEBHOOK_ALLOWED_HOSTS) is \"private,external\"")
                && message.ends_with(&format!("by adding {entry}")),
            "{url}: {message}"
        );
    }
    let listed = api(&app, &token, reqwest::Method::GET, "/hooks")
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap();
    assert!(listed.is_empty(), "nothing was created: {listed:?}");
    // A name that does not resolve now is accepted: it is checked at each delivery.
    create_hook(&app, &token, "https://ci.lab.invalid/hook", "s", json!({})).await;
    // An update to a refused target is refused too, and changes nothing.
    let id = create_hook(&app, &token, "https://ci.lab.invalid/other", "s", json!({})).await;
    let res = api(
        &app,
        &token,
        reqwest::Method::PATCH,
        &format!("/hooks/{id}"),
    )
    .json(&json!({"config": {"url": "http://127.0.0.1:9/x"}}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let hook = app
        .forge
        .webhook(&app.grant("alice/dns").await, id)
        .await
        .unwrap();
    assert_eq!(hook.url, "https://ci.lab.invalid/other");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_the_allow_list_refuses_fails_at_once_with_the_reason() {
    // Saved while loopback was allowed; then the operator narrowed the list and restarted.
    let (mut app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let hook = create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/hook"),
        "s",
        json!({}),
    )
    .await;
    app.restart_with(&[("LABFORGE_WEBHOOK_RETRY_BASE_SECS", "1")])
        .await;
    assert_eq!(push_main_created(&app, &dir).await, 1);
    let d = eventually(20, "the refusal to be recorded", || async {
        let d = deliveries(&app, &token, hook).await;
        let settled = matches!(
            d.first().and_then(|d| d["state"].as_str()),
            Some("failed" | "retrying" | "delivered")
        );
        settled.then(|| d[0].clone())
    })
    .await;
    assert_eq!(d["state"], "failed", "not retried: {d}");
    assert_eq!(d["attempts"], 1, "{d}");
    assert!(d["next_attempt_at"].is_null(), "{d}");
    let error = d["error"].as_str().unwrap();
    assert!(
        error.starts_with("refused: ")
            && error.contains("allowed_hosts (private,external) does not allow"),
        "{error}"
    );
    assert!(recorded(&out).is_empty(), "nothing reached the listener");
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_verify_forms_are_gitea_shaped_and_redirects_are_not_followed() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let json_hook = create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/json"),
        secret,
        json!({}),
    )
    .await;
    create_hook(
        &app,
        &token,
        &format!("http://localhost:{port}/form"),
        "plain-secret",
        json!({"config": {"url": format!("http://localhost:{port}/form"), "content_type": "form", "secret": "plain-secret"}}),
    )
    .await;
    let redirect_hook = create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/redirect"),
        "",
        json!({}),
    )
    .await;
    assert_eq!(push_main_created(&app, &dir).await, 3);

    let redirected = eventually(20, "the redirect to be logged", || async {
        let d = deliveries(&app, &token, redirect_hook).await;
        (d.len() == 1 && d[0]["state"] == "retrying").then(|| d[0].clone())
    })
    .await;
    assert_eq!(redirected["response_status"], 302);
    assert_eq!(redirected["error"], "HTTP 302: redirects are not followed");
    assert!(
        redirected["response_headers"]
            .as_str()
            .unwrap()
            .contains("/followed")
    );
    assert!(
        !redirected["request_headers"]
            .as_str()
            .unwrap()
            .contains("Signature"),
        "no secret, no signature"
    );

    let requests = eventually(20, "both signed requests", || {
        let out = out.clone();
        async move {
            let r = recorded(&out);
            let json = r.iter().find(|r| r["path"] == "/json").cloned()?;
            let form = r.iter().find(|r| r["path"] == "/form").cloned()?;
            Some((json, form))
        }
    })
    .await;
    let (json_req, form_req) = requests;

    // JSON: GitHub's and Gitea's HMAC of the body with the secret string, and Standard
    // Webhooks' over id.timestamp.body with the whsec_ key decoded, recomputed here.
    let h = &json_req["headers"];
    let body = json_req["body"].as_str().unwrap();
    assert_eq!(h["content-type"], "application/json");
    let hub = hex(&hmac_sha256(secret.as_bytes(), body.as_bytes()));
    assert_eq!(h["x-hub-signature-256"], format!("sha256={hub}"));
    assert_eq!(h["x-gitea-signature"], hub);
    assert_eq!(h["x-github-delivery"], h["webhook-id"]);
    let ts: i64 = h["webhook-timestamp"].as_str().unwrap().parse().unwrap();
    assert!((time::OffsetDateTime::now_utc().unix_timestamp() - ts).abs() < 60);
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!("{}.{ts}.{body}", h["webhook-id"].as_str().unwrap());
    let expected =
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, signed.as_bytes()));
    assert_eq!(h["webhook-signature"], format!("v1,{expected}"));
    let stored = &deliveries(&app, &token, json_hook).await[0];
    assert_eq!(
        stored["payload"].as_str().unwrap(),
        body,
        "the stored payload is the bytes sent"
    );

    // Form: Gitea's `payload=` field, signed as sent.
    let fh = &form_req["headers"];
    let form_body = form_req["body"].as_str().unwrap();
    assert_eq!(fh["content-type"], "application/x-www-form-urlencoded");
    assert!(form_body.starts_with("payload=%7B"), "{form_body}");
    assert_eq!(
        fh["x-hub-signature-256"],
        format!(
            "sha256={}",
            hex(&hmac_sha256(b"plain-secret", form_body.as_bytes()))
        )
    );

    // The redirect's target was never asked for: a followed redirect would have been requested
    // within the attempt that the delivery log above already shows finished with the 302.
    assert!(
        recorded(&out).iter().all(|r| r["path"] != "/followed"),
        "the Location was followed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_cut_off_by_a_stop_is_retried_after_the_restart() {
    let (mut app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let hook = create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/after-restart"),
        "s",
        json!({}),
    )
    .await;
    // Queue without waking the worker and take the delivery first, as a worker that then
    // died would have: it stays `delivering`.
    let repo = dns(&app).await;
    let mut tx = app.store().await.begin().await.unwrap();
    let payload = json!({"ref": "refs/heads/main", "after": head(&dir).await});
    let kind = labforge::model::WebhookEventKind::Push;
    let targets = app
        .forge
        .webhook_targets(&mut tx, &repo, kind, Some("main"))
        .await
        .unwrap();
    let queued = app
        .forge
        .queue_webhook_event(&mut tx, &targets, kind, payload)
        .await
        .unwrap();
    assert_eq!(queued, 1);
    tx.commit().await.unwrap();
    let claimed = app.forge.claim_webhook_deliveries(4).await.unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "the worker was not woken, so the test got it"
    );
    assert_eq!(
        deliveries(&app, &token, hook).await[0]["state"],
        "delivering"
    );

    app.restart().await;
    let done = eventually(20, "the interrupted delivery to arrive", || async {
        let d = deliveries(&app, &token, hook).await;
        (d[0]["state"] == "delivered").then(|| d[0].clone())
    })
    .await;
    assert_eq!(done["attempts"], 2);
    assert_eq!(done["guid"], claimed[0].guid);
    let bodies = recorded(&out);
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["path"], "/after-restart");
}

/// Nothing simulated: `git push` → post-receive → outbox → the receiver runs its command; the
/// deploy the push triggers sends `deploy` events as it runs and ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_real_git_push_and_its_deploy_reach_the_receiver() {
    let conf = tempfile::tempdir().unwrap();
    let deploy = conf.path().join("ok.sh");
    std::fs::write(&deploy, "#!/bin/sh\necho deployed\n").unwrap();
    std::fs::set_permissions(&deploy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = conf.path().join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"ok.sh\"\n",
    )
    .unwrap();
    let mut extra = LOOPBACK.to_vec();
    extra.push(("LABFORGE_CONFIG", file.to_str().unwrap()));
    let (app, token, dir) = setup(&extra).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/labforge");
    let hook = create_hook(
        &app,
        &token,
        &url,
        "s3cret",
        json!({"events": ["push", "deploy"]}),
    )
    .await;
    let recv_dir = app.workdir("receiver");
    let _receiver = start_adnanh(&recv_dir, port, "s3cret").await;

    std::fs::write(dir.join("zone.txt"), "new\n").unwrap();
    git_ok(&dir, &["add", "."]).await;
    git_ok(&dir, &["commit", "-q", "-m", "a change"]).await;
    app.push(&dir, ("alice", PW), "alice/dns", &["main"]).await;
    let after = head(&dir).await;
    let pushed = recv_dir.join("pushed");
    let want = format!("refs/heads/main {after}\n");
    // The receiver's command runs for every event (deploy events have no `ref`: blank lines).
    eventually(20, "the receiver's command", || {
        let (pushed, want) = (pushed.clone(), want.clone());
        async move {
            std::fs::read_to_string(&pushed)
                .ok()
                .filter(|s| s.contains(&want))
        }
    })
    .await;

    // push, then deploy running and deploy succeeded, for this push's commit.
    let this_run = |d: &Value| -> Option<String> {
        let p: Value = serde_json::from_str(d["payload"].as_str()?).ok()?;
        (d["event"] == "deploy" && p["deploy"]["sha"] == after.as_str())
            .then(|| p["action"].as_str().unwrap_or_default().to_owned())
    };
    let all = eventually(20, "the deploy events", || async {
        let d = deliveries(&app, &token, hook).await;
        let done = d.iter().all(|d| d["state"] == "delivered");
        let ended = d.iter().filter_map(this_run).any(|a| a == "succeeded");
        (done && ended).then_some(d)
    })
    .await;
    let actions: Vec<String> = all.iter().filter_map(this_run).collect();
    assert!(actions.contains(&"running".to_owned()), "{actions:?}");
    assert!(actions.contains(&"succeeded".to_owned()), "{actions:?}");
    assert_eq!(
        all.iter().filter(|d| d["event"] == "push").count(),
        1,
        "one push, one delivery"
    );
}

/// Issues raise `issues` and `issue_comment` events through the same outbox, and a commit that
/// closes an issue raises `issues` with action `closed`.
#[tokio::test(flavor = "multi_thread")]
async fn issue_events_reach_the_receiver() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    let url = format!("http://127.0.0.1:{port}/issues");
    create_hook(
        &app,
        &token,
        &url,
        "s3cret",
        json!({"events": ["issues", "issue_comment"]}),
    )
    .await;
    let res = api(&app, &token, reqwest::Method::POST, "/issues")
        .json(&json!({"title": "Resolver down", "body": "since 03:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = api(&app, &token, reqwest::Method::POST, "/issues/1/comments")
        .json(&json!({"body": "looking"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    std::fs::write(dir.join("fix.txt"), "x\n").unwrap();
    git_ok(&dir, &["add", "."]).await;
    git_ok(&dir, &["commit", "-q", "-m", "Fixes #1"]).await;
    app.push(&dir, ("alice", PW), "alice/dns", &["main"]).await;
    let sha = head(&dir).await;

    let got = eventually(20, "three issue events", || {
        let out = out.clone();
        async move {
            let r = recorded(&out);
            (r.len() >= 3).then_some(r)
        }
    })
    .await;
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            (
                r["headers"]["x-gitea-event"].as_str().unwrap().to_owned(),
                body["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("issues", "opened"),
        ("issue_comment", "created"),
        ("issues", "closed"),
    ] {
        assert!(
            seen.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {seen:?}"
        );
    }
    let closed = got
        .iter()
        .find(|r| r["body"].as_str().unwrap().contains("\"closed\""))
        .unwrap();
    let body: Value = serde_json::from_str(closed["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["issue"]["number"], 1);
    assert!(
        closed["body"].as_str().unwrap().contains(&sha),
        "the closing commit is named"
    );
    assert_eq!(body["repository"]["full_name"], "alice/dns");
}

/// Each listed commit says which files it added, removed and modified (receivers filter on
/// them: "deploy only when zones/ changed"), from a real push through the hooks.
#[tokio::test(flavor = "multi_thread")]
async fn push_payloads_list_each_commits_added_removed_and_modified_files() {
    let (app, token, dir) = setup(LOOPBACK).await;
    let port = free_port();
    let (_recorder, out) = start_recorder(&app.workdir("recorder"), port).await;
    create_hook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/json"),
        "",
        json!({}),
    )
    .await;

    std::fs::write(dir.join("file0.txt"), "changed\n").unwrap();
    std::fs::remove_file(dir.join("file1.txt")).unwrap();
    std::fs::create_dir_all(dir.join("zones/lab")).unwrap();
    std::fs::write(
        dir.join("zones/lab/db.lab"),
        "@ IN SOA ns1 admin 1 1 1 1 1\n",
    )
    .unwrap();
    git_ok(&dir, &["add", "-A"]).await;
    git_ok(&dir, &["commit", "-q", "-m", "zones"]).await;
    std::fs::write(
        dir.join("zones/lab/db.lab"),
        "@ IN SOA ns1 admin 2 1 1 1 1\n",
    )
    .unwrap();
    // Committed by someone else than its author (a maintainer applying a patch).
    let committed = git_env(
        &dir,
        &["commit", "-q", "-am", "serial"],
        &[
            ("GIT_COMMITTER_NAME", "Maintainer"),
            ("GIT_COMMITTER_EMAIL", "maint@lab.test"),
        ],
    )
    .await;
    assert!(committed.status.success(), "{}", stderr(&committed));
    app.push(&dir, ("alice", PW), "alice/dns", &["main"]).await;

    let body = eventually(20, "the push delivery", || {
        let out = out.clone();
        async move {
            recorded(&out)
                .into_iter()
                .find(|r| r["headers"]["x-github-event"] == "push")
        }
    })
    .await;
    let payload: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(payload["total_commits"], 2, "{payload}");
    let zones = &payload["commits"][0];
    assert_eq!(zones["message"], "zones");
    assert_eq!(zones["added"], json!(["zones/lab/db.lab"]));
    assert_eq!(zones["removed"], json!(["file1.txt"]));
    assert_eq!(zones["modified"], json!(["file0.txt"]));
    let serial = &payload["commits"][1];
    assert_eq!(serial["added"], json!([]));
    assert_eq!(serial["removed"], json!([]));
    assert_eq!(serial["modified"], json!(["zones/lab/db.lab"]));
    assert_eq!(
        payload["head_commit"]["modified"],
        json!(["zones/lab/db.lab"])
    );
}
