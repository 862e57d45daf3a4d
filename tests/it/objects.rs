//! Bounds on what a repository's readers can reach: a commit keeps one status per context and
//! at most `max_status_contexts` contexts (12,000 made its page 41 MB), labforge's own contexts
//! cannot be posted from outside, and a deleted branch's commits are not served by any id,
//! short or full, over any page or the API, and are gone from disk after
//! `labforge admin repo purge`.

use std::process::Stdio;

use futures_util::stream::{self, StreamExt};
use labforge::model::TokenScope;
use serde_json::{Value, json};

use crate::helpers::*;

const PW: &str = "objects-test-pw-1";
/// The cap these tests run with (the default, 1,000, is checked in config's unit tests).
const CAP: usize = 300;
/// Statuses posted: well past the cap.
const POSTED: usize = 2_000;

async fn post_status(app: &TestApp, token: &str, sha: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/repos/alice/app/statuses/{sha}",
            app.base
        ))
        .header("Authorization", format!("token {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let res = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// alice's public `alice/app` with `main` pushed from a local clone; returns the clone.
async fn setup(app: &TestApp) -> std::path::PathBuf {
    app.create_user("alice", PW).await;
    app.create_repo("alice", "app", false).await;
    let local = app.workdir("app");
    local_repo(&local, 2).await;
    app.push(&local, ("alice", PW), "alice/app", &["main"])
        .await;
    local
}

#[tokio::test(flavor = "multi_thread")]
async fn statuses_keep_one_per_context_up_to_the_cap_and_pages_stay_small() {
    let cap = CAP.to_string();
    let app = TestApp::spawn_with(&[("LABFORGE_MAX_STATUS_CONTEXTS", cap.as_str())]).await;
    let local = setup(&app).await;
    let head = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let token = app.create_token("alice", TokenScope::Write).await;

    // 2,000 contexts, eight at a time: exactly the cap is accepted, the rest refused.
    let outcomes: Vec<(u16, Value)> = stream::iter(0..POSTED)
        .map(|i| {
            let (app, token, head) = (&app, &token, &head);
            async move {
                let body = json!({"state": "success", "context": format!("ci/job-{i:04}"),
                                  "description": "a job"});
                post_status(app, token, head, body).await
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let accepted = outcomes.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(accepted, CAP, "accepted up to the cap");
    let refused: Vec<&Value> = outcomes
        .iter()
        .filter(|(s, _)| *s == 422)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(refused.len(), POSTED - CAP, "every other one refused");
    let message = refused[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("already has statuses for {CAP} contexts")),
        "{message}"
    );

    // Posting a context it has again replaces that context's status (also at the cap).
    let known = outcomes
        .iter()
        .find(|(s, _)| *s == 201)
        .map(|(_, v)| v["context"].as_str().unwrap().to_owned())
        .unwrap();
    let (status, _) = post_status(
        &app,
        &token,
        &head,
        json!({"state": "failure", "context": known, "description": "second run"}),
    )
    .await;
    assert_eq!(status, 201, "an update at the cap");
    let list: Vec<Value> = reqwest::get(format!(
        "{}/api/v1/repos/alice/app/commits/{head}/statuses?limit=50",
        app.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let same: Vec<&Value> = list.iter().filter(|s| s["context"] == known).collect();
    assert_eq!(same.len(), 1, "one row per context: {list:?}");
    assert_eq!(same[0]["status"], "failure", "the latest");
    assert_eq!(same[0]["description"], "second run");
    let combined: Value = reqwest::get(format!(
        "{}/api/v1/repos/alice/app/commits/{head}/status",
        app.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(combined["total_count"], CAP);
    assert_eq!(combined["state"], "failure");
    assert_eq!(combined["statuses"][0]["context"], known, "failures first");
    assert_eq!(combined["statuses"].as_array().unwrap().len(), 100);

    // labforge's own contexts cannot be posted from outside.
    for context in ["check/x", "deploy/x"] {
        let (status, body) = post_status(
            &app,
            &token,
            &head,
            json!({"state": "success", "context": context}),
        )
        .await;
        assert_eq!(status, 422, "{context}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("reserved for labforge"), "{message}");
    }

    // The pages list a bounded number and count the rest.
    let (status, commit_page) = get(&app, &format!("/alice/app/commit/{head}")).await;
    assert_eq!(status, 200);
    assert!(
        commit_page.len() < 100_000,
        "commit page: {} bytes",
        commit_page.len()
    );
    assert!(
        commit_page.contains(&format!("{} more statuses", CAP - 100)),
        "{commit_page}"
    );
    for path in [
        "/alice/app",
        "/alice/app/commits/main",
        "/alice/app/branches",
    ] {
        let (status, html) = get(&app, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.len() < 30_000, "{path}: {} bytes", html.len());
        assert!(
            html.contains(&format!("and {} more", CAP - 10)),
            "{path}: {html}"
        );
        assert!(html.contains("class=\"mark mark-failure\""), "{path}");
    }
}

/// `labforge admin ARGS` on the app's data and database; returns (ok, stderr).
async fn admin(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_labforge"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LABFORGE_DATA_DIR", app.data.path())
        .env("DATABASE_URL", app.database_url())
        .arg("admin")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every way a page or the API names an object by id, for `id` (a commit, short or full).
fn by_id(id: &str) -> Vec<String> {
    vec![
        format!("/alice/app/raw/{id}/creds.txt"),
        format!("/alice/app/blob/{id}/creds.txt"),
        format!("/alice/app/tree/{id}"),
        format!("/alice/app/commit/{id}"),
        format!("/alice/app/commit/{id}.patch"),
        format!("/alice/app/commits/{id}"),
        format!("/api/v1/repos/alice/app/commits/{id}/status"),
        format!("/api/v1/repos/alice/app/commits/{id}/statuses"),
    ]
}

async fn cat_file(repo: &std::path::Path, id: &str) -> bool {
    git(repo, &["cat-file", "-e", id]).await.status.success()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_branch_is_not_served_by_any_id_and_purge_deletes_it() {
    let app = TestApp::spawn().await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/app");
    git_ok(&local, &["checkout", "-q", "-b", "leak"]).await;
    std::fs::write(local.join("creds.txt"), "hunter2\n").unwrap();
    git_ok(&local, &["add", "creds.txt"]).await;
    git_ok(&local, &["commit", "-q", "-m", "oops"]).await;
    let secret = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let blob = git_ok(&local, &["rev-parse", "HEAD:creds.txt"])
        .await
        .trim()
        .to_owned();
    let tree = git_ok(&local, &["rev-parse", "HEAD^{tree}"])
        .await
        .trim()
        .to_owned();
    let main = git_ok(&local, &["rev-parse", "main"])
        .await
        .trim()
        .to_owned();
    git_ok(&local, &["push", "-q", &url, "leak"]).await;

    // While the branch exists: served by a 7-character id, never by a shorter one.
    let (status, body) = get(&app, &format!("/alice/app/raw/{}/creds.txt", &secret[..7])).await;
    assert_eq!((status, body.as_str()), (200, "hunter2\n"));
    for n in 4..7 {
        let path = format!("/alice/app/raw/{}/creds.txt", &secret[..n]);
        assert_eq!(get(&app, &path).await.0, 404, "{path}");
    }

    git_ok(&local, &["push", "-q", &url, ":leak"]).await;
    let server = app.server_repo("alice/app");
    assert!(cat_file(&server, &secret).await, "still on disk");
    for n in [4, 5, 6, 7, 12, 40] {
        for path in by_id(&secret[..n]) {
            assert_eq!(get(&app, &path).await.0, 404, "{path}");
        }
    }
    // Trees and blobs by their own ids: routes take commits only.
    for id in [&blob, &tree] {
        for path in [
            format!("/alice/app/raw/{id}"),
            format!("/alice/app/tree/{id}"),
            format!("/alice/app/blob/{id}"),
            format!("/alice/app/commit/{id}"),
        ] {
            assert_eq!(get(&app, &path).await.0, 404, "{path}");
        }
    }
    let token = app.create_token("alice", TokenScope::Write).await;
    let (status, _) = post_status(&app, &token, &secret, json!({"state": "success"})).await;
    assert_eq!(status, 422, "no status on a commit the refs do not reach");
    // What the refs reach is still served by id.
    for path in [
        format!("/alice/app/commit/{}", &main[..7]),
        format!("/alice/app/raw/{main}/file0.txt"),
    ] {
        assert_eq!(get(&app, &path).await.0, 200, "{path}");
    }

    // The purge, beside the running server (its upkeep held off meanwhile).
    let repo = app.grant("alice/app").await.repo().clone();
    let dir = app.forge.repo_dir(&repo).unwrap();
    let held = app.forge.upkeep().hold(&dir).await;
    let (ok, err) = admin(&app, &["repo", "purge", "alice/app"]).await;
    assert!(ok, "{err}");
    assert!(err.contains("purged alice/app"), "{err}");
    drop(held);
    for id in [&secret, &blob] {
        assert!(!cat_file(&server, id).await, "{id} is gone from disk");
    }
    assert!(cat_file(&server, &main).await, "main stays");
    for path in by_id(&secret) {
        assert_eq!(get(&app, &path).await.0, 404, "{path}");
    }
    assert_eq!(
        get(&app, &format!("/alice/app/raw/{main}/file0.txt")).await,
        (200, "content 0\n".to_owned())
    );
    let (ok, err) = admin(&app, &["repo", "purge", "alice/nothing"]).await;
    assert!(
        !ok && err.contains("there is no repository alice/nothing"),
        "{err}"
    );
}

/// The migration to one status per context keeps each context's latest row, and the unique
/// index it adds holds from then on.
#[tokio::test(flavor = "multi_thread")]
async fn the_migration_keeps_the_latest_status_per_context() {
    use sqlx::migrate::Migrator;
    let db = fresh_database().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_with(db)
        .await
        .unwrap();
    let earlier: Vec<_> = labforge::storage::MIGRATOR
        .iter()
        .filter(|m| m.version < 20261207210600)
        .cloned()
        .collect();
    Migrator::with_migrations(earlier).run(&pool).await.unwrap();
    let sha = "a".repeat(40);
    for sql in [
        "INSERT INTO users (name, email, password_hash, is_admin)
         VALUES ('alice', 'alice@lab.test', 'x', false)"
            .to_owned(),
        "INSERT INTO repositories (owner_id, name) VALUES (1, 'app')".to_owned(),
        format!(
            "INSERT INTO commit_statuses (repo_id, sha, context, state, description, creator_name)
             VALUES (1, '{sha}', 'ci/a', 'pending', 'first', 'alice'),
                    (1, '{sha}', 'ci/b', 'success', 'only', 'alice'),
                    (1, '{sha}', 'ci/a', 'failure', 'second', 'alice'),
                    (1, '{sha}', 'ci/a', 'success', 'third', 'alice')"
        ),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    labforge::storage::MIGRATOR.run(&pool).await.unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT context, state, description FROM commit_statuses ORDER BY context")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected = [("ci/a", "success", "third"), ("ci/b", "success", "only")]
        .map(|(c, s, d)| (c.to_owned(), s.to_owned(), d.to_owned()));
    assert_eq!(rows, expected);
    let again = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO commit_statuses (repo_id, sha, context, state, creator_name)
         VALUES (1, '{sha}', 'ci/a', 'pending', 'alice')"
    )))
    .execute(&pool)
    .await;
    assert!(again.is_err(), "one row per context from now on");
}
