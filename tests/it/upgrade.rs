//! Upgrades keep data. A database built at exactly the first seven migrations (the schema the
//! first release shipped), filled with rows of every table as the code of that time wrote them,
//! and a repository on disk; then today's labforge starts on it: every later migration runs and
//! every row and ref is still there and still works.
//!
//! Each new migration is covered by this test as it lands. One that moves data says how in a
//! comment, and adds its check of the moved data below.

use std::path::Path;

use sha2::Digest;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::helpers::*;

/// The last migration of the first release.
const BASELINE: i64 = 20261126000007;

/// Every table of the baseline schema; each gets at least one row.
const TABLES: &[&str] = &[
    "users",
    "ssh_keys",
    "access_tokens",
    "repositories",
    "collaborators",
    "sessions",
    "push_events",
    "push_event_refs",
    "protected_branches",
    "deploy_runs",
    "deploy_log",
    "webhooks",
    "webhook_deliveries",
    "issue_counters",
    "issues",
    "labels",
    "issue_labels",
    "issue_comments",
    "issue_events",
];

fn argon2_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"upgrade-test-salt").unwrap();
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// The rows, as the baseline code's INSERTs wrote them (ids from identity columns, in order;
/// deploy log lines numbered from 1).
fn baseline_rows(token: &str, key_line: &str, fingerprint: &str, head: &str) -> Vec<String> {
    let token_hash: String = sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let lookup = &token["lf_".len().."lf_".len() + 12];
    let zero = "0".repeat(40);
    vec![
        format!(
            "INSERT INTO users (name, email, password_hash, is_admin) VALUES
             ('alice', 'alice@lab.test', '{}', true), ('bob', 'bob@lab.test', '{}', false)",
            argon2_hash("alice-password-1"),
            argon2_hash("bob-password-1")
        ),
        format!(
            "INSERT INTO ssh_keys (user_id, title, algorithm, public_key, fingerprint)
             VALUES (2, 'laptop', 'ssh-ed25519', '{key_line}', '{fingerprint}')"
        ),
        format!(
            "INSERT INTO access_tokens (user_id, title, lookup, token_hash, scope)
             VALUES (1, 'laptop', '{lookup}', '\\x{token_hash}', 'write')"
        ),
        "INSERT INTO repositories (owner_id, name, description, is_private, default_branch, pushed_at)
         VALUES (1, 'dns', 'DNS zones', false, 'main', now())"
            .into(),
        "INSERT INTO collaborators (repo_id, user_id, access) VALUES (1, 2, 'write')".into(),
        "INSERT INTO sessions (user_id, token_hash, csrf_token, expires_at)
         VALUES (1, '\\x00', 'csrf', now() + interval '1 day')"
            .into(),
        "INSERT INTO push_events (repo_id, pusher_id, pusher_name, nonce, state, received_at, issues_applied_at)
         VALUES (1, 1, 'alice', 'n1', 'received', now(), now())"
            .into(),
        format!(
            "INSERT INTO push_event_refs (event_id, ref_name, old_id, new_id)
             VALUES (1, 'refs/heads/main', '{zero}', '{head}')"
        ),
        "INSERT INTO protected_branches (repo_id, pattern) VALUES (1, 'main')".into(),
        format!(
            "INSERT INTO deploy_runs (repo_id, deploy_name, ref_name, old_id, new_id, push_event_id,
                 reason, triggered_by_id, triggered_by_name, status, exit_code, started_at, finished_at)
             VALUES (1, 'dns', 'refs/heads/main', '{zero}', '{head}', 1, 'push', 1, 'alice',
                 'succeeded', 0, now(), now())"
        ),
        "INSERT INTO deploy_log (run_id, seq, at, stream, line)
         VALUES (1, 1, now(), 'o', 'reloading the zone lab.example'), (1, 2, now(), 's', 'exit 0')"
            .into(),
        "INSERT INTO webhooks (repo_id, url, secret, events, branch_filter)
         VALUES (1, 'https://ci.lab/hook', 's3cret', '{push}', 'main')"
            .into(),
        "INSERT INTO webhook_deliveries (hook_id, event, guid, payload, state, attempts, response_status, delivered_at)
         VALUES (1, 'push', 'guid-1', '{\"ref\":\"refs/heads/main\"}', 'delivered', 1, 200, now())"
            .into(),
        "INSERT INTO issue_counters (repo_id, last_number, open_count) VALUES (1, 1, 1)".into(),
        "INSERT INTO issues (repo_id, number, author_id, title, body, comment_count)
         VALUES (1, 1, 2, 'Resolver down', 'since 03:00', 1)"
            .into(),
        "INSERT INTO labels (repo_id, name, color) VALUES (1, 'bug', '#d73a4a')".into(),
        "INSERT INTO issue_labels (label_id, issue_id, number, is_open) VALUES (1, 1, 1, true)".into(),
        "INSERT INTO issue_comments (issue_id, author_id, body) VALUES (1, 1, 'restarted unbound')".into(),
        "UPDATE issues SET comments_search = to_tsvector('english', 'restarted unbound') WHERE id = 1".into(),
        "INSERT INTO issue_events (issue_id, actor_id, kind) VALUES (1, 2, 'opened')".into(),
        "INSERT INTO issue_events (issue_id, actor_id, kind, comment_id) VALUES (1, 1, 'commented', 1)".into(),
        "INSERT INTO issue_events (issue_id, actor_id, kind, label_name, label_color)
         VALUES (1, 1, 'labeled', 'bug', '#d73a4a')"
            .into(),
    ]
}

async fn counts(pool: &sqlx::PgPool) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for table in TABLES {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        out.push(((*table).to_owned(), n));
    }
    out
}

/// A bare repository where the first release kept it, with two commits on main.
async fn repository_on_disk(data: &Path, work: &Path) -> String {
    let bare = data.join("repos/alice/dns.git");
    std::fs::create_dir_all(&bare).unwrap();
    git_ok(&bare, &["init", "-q", "--bare", "-b", "main"]).await;
    let src = work.join("dns");
    local_repo(&src, 2).await;
    git_ok(&src, &["push", "-q", bare.to_str().unwrap(), "main"]).await;
    git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_current_binary_upgrades_a_first_release_database_and_keeps_everything() {
    let db = fresh_database().await;
    let pool = PgPoolOptions::new().connect_with(db.clone()).await.unwrap();
    let baseline: Vec<_> = labforge::storage::MIGRATOR
        .iter()
        .filter(|m| m.version <= BASELINE)
        .cloned()
        .collect();
    assert_eq!(baseline.len(), 7, "exactly the first release's migrations");
    Migrator::with_migrations(baseline)
        .run(&pool)
        .await
        .unwrap();

    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let head = repository_on_disk(data.path(), work.path()).await;
    let key = work.path().join("bob_key");
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "bob", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let key_line = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let listed = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8(listed.stdout).unwrap();
    let fingerprint = fingerprint.split_whitespace().nth(1).unwrap().to_owned();
    let token = format!("lf_{}", "0123456789abcdef0123456789abcdef01234567");
    for sql in baseline_rows(&token, &key_line, &fingerprint, &head) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let before = counts(&pool).await;
    assert!(
        before.iter().all(|(_, n)| *n > 0),
        "every table has rows: {before:?}"
    );

    let app = TestApp::spawn_on(data, db, &[]).await;
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let known: Vec<i64> = labforge::storage::MIGRATOR
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, known, "every migration after the seventh ran");
    assert_eq!(counts(&pool).await, before, "every row is still there");

    // Sign-in with the old password, the old token, the old SSH key; pushes still pass the
    // hooks; the issue and deploy pages show the old rows.
    let cookie = crate::web_auth::session(&app, "alice", "alice-password-1").await;
    let clone = app.workdir("clone");
    let url = app.url(Some(("alice", &token)), "alice/dns");
    git_ok(
        app.work.path(),
        &["clone", "-q", &url, clone.to_str().unwrap()],
    )
    .await;
    assert_eq!(git_ok(&clone, &["rev-parse", "HEAD"]).await.trim(), head);
    std::fs::write(clone.join("zone.txt"), "after the upgrade\n").unwrap();
    git_ok(&clone, &["add", "."]).await;
    git_ok(&clone, &["commit", "-qm", "after the upgrade"]).await;
    git_ok(&clone, &["push", "-q", &url, "main"]).await;
    let force = git(
        &clone,
        &["push", "-q", "--force", &url, &format!("{head}:main")],
    )
    .await;
    assert!(
        !force.status.success() && stderr(&force).contains("main"),
        "the old protection rule still refuses a force-push: {}",
        stderr(&force)
    );
    let ssh = format!(
        "ssh -i {} -F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        key.display()
    );
    let ssh_url = format!("ssh://git@127.0.0.1:{}/alice/dns.git", app.ssh_port);
    let out = git_env(
        app.work.path(),
        &["clone", "-q", &ssh_url, "by-ssh"],
        &[("GIT_SSH_COMMAND", &ssh)],
    )
    .await;
    assert!(out.status.success(), "bob's old key: {}", stderr(&out));
    let (status, issue) = crate::web_auth::page(&app, &cookie, "/alice/dns/issues/1").await;
    assert_eq!(status, 200);
    assert!(
        issue.contains("Resolver down") && issue.contains("restarted unbound"),
        "{issue}"
    );
    let (status, deploy) = crate::web_auth::page(&app, &cookie, "/alice/dns/deploys/1").await;
    assert_eq!(status, 200);
    assert!(
        deploy.contains("reloading the zone lab.example"),
        "{deploy}"
    );
    let search = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/repos/alice/dns/issues?q=unbound",
            app.base
        ))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        search.contains("Resolver down"),
        "comment search still finds it: {search}"
    );
}

/// `labforge migrate --status` lists every migration, pending before `migrate` and applied
/// after, and applies nothing itself.
#[tokio::test(flavor = "multi_thread")]
async fn migrate_status_lists_applied_and_pending_migrations() {
    let data = tempfile::tempdir().unwrap();
    let status = || async {
        let out = crate::cli::labforge(data.path(), 0)
            .args(["migrate", "--status"])
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let known = labforge::storage::MIGRATOR.iter().count();
    let before = status().await;
    assert_eq!(before.lines().count(), known, "{before}");
    assert!(
        before.lines().all(|l| l.contains("\tpending\t")),
        "{before}"
    );
    assert!(
        before.starts_with("20261126000001\tpending\taccounts and repos\n"),
        "{before}"
    );
    assert_eq!(status().await, before, "--status applies nothing");
    let out = crate::cli::labforge(data.path(), 0)
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let after = status().await;
    assert!(after.lines().all(|l| l.contains("\tapplied\t")), "{after}");
}
