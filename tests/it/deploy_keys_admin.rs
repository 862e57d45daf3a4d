//! Managing deploy keys: the API in Gitea's `DeployKey` shape (repository admins only), the
//! repository's settings page, `labforge admin deploy-key`, and the cap per repository.

use labforge::model::TokenScope;

use crate::deploy_keys::ed25519_line;
use crate::helpers::*;
use crate::operator::admin;
use crate::ssh::{keygen, public_key};
use crate::web_auth::{client, hidden, page, post, session};

/// Gitea's DeployKey object (templates/swagger/v1_json.tmpl, definitions.DeployKey): every
/// field it lists but `repository`, with its JSON type.
const GITEA_DEPLOY_KEY: &[(&str, &str)] = &[
    ("id", "integer"),
    ("key_id", "integer"),
    ("key", "string"),
    ("url", "string"),
    ("title", "string"),
    ("fingerprint", "string"),
    ("created_at", "string"),
    ("read_only", "boolean"),
];

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Number(n) if n.is_i64() => "integer",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Bool(_) => "boolean",
        _ => "other",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_manages_deploy_keys_in_giteas_shape_for_admins_only() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("writer", "writer-password").await;
    app.create_repo("alice", "apps", true).await;
    app.create_repo("alice", "other", true).await;
    app.add_collaborator("alice/apps", "writer", "write").await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let writer = app.create_token("writer", TokenScope::Write).await;
    let key = keygen(&app.work.path().join("keys"), "ci", "ed25519");
    let api = |path: &str| format!("{}/api/v1/repos/{path}", app.base);

    let res = client()
        .post(api("alice/apps/keys"))
        .header("authorization", format!("token {token}"))
        .json(&serde_json::json!({"title": "ci", "key": public_key(&key), "read_only": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let made: serde_json::Value = res.json().await.unwrap();
    for (field, kind) in GITEA_DEPLOY_KEY {
        assert_eq!(json_type(&made[field]), *kind, "{field} in {made}");
    }
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["title"], "ci");
    assert_eq!(made["read_only"], false);
    assert!(made["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    assert_eq!(
        made["key"].as_str().unwrap(),
        public_key(&key)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_eq!(
        made["url"],
        format!("{}/api/v1/repos/alice/apps/keys/{id}", app.base)
    );
    let list: serde_json::Value = client()
        .get(api("alice/apps/keys"))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0], made);
    let one: serde_json::Value = client()
        .get(api(&format!("alice/apps/keys/{id}")))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, made);
    // The key's id under another repository is not there.
    let status = |res: reqwest::Response| res.status().as_u16();
    let other = client()
        .get(api(&format!("alice/other/keys/{id}")))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(other), 404);
    // A writer is no admin: refused (Gitea's 403), nothing listed.
    let res = client()
        .get(api("alice/apps/keys"))
        .header("authorization", format!("token {writer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(res), 403);
    // A key that does not parse: 422 naming it.
    let res = client()
        .post(api("alice/apps/keys"))
        .header("authorization", format!("token {token}"))
        .json(&serde_json::json!({"title": "bad", "key": "ssh-ed25519 !!!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let res = client()
        .delete(api(&format!("alice/apps/keys/{id}")))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(res), 204);
    let res = client()
        .get(api(&format!("alice/apps/keys/{id}")))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(res), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_settings_page_and_admin_cli_add_list_and_remove_deploy_keys() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "apps", true).await;
    let web_key = keygen(&app.work.path().join("keys"), "web", "ed25519");
    let cookie = session(&app, "alice", "alice-password").await;
    let (code, html) = page(&app, &cookie, "/alice/apps/settings/deploy-keys").await;
    assert_eq!(code, 200);
    assert!(html.contains("No deploy keys yet."), "{html}");
    let csrf = hidden(&html, "csrf");
    let (code, html) = post(
        &app,
        &cookie,
        "/alice/apps/settings/deploy-keys",
        &[
            ("csrf", &csrf),
            ("title", "renovate"),
            ("key", &public_key(&web_key)),
            ("write", "on"),
        ],
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        html.contains("Deploy key renovate (read-write) added"),
        "{html}"
    );
    let grant = app.grant("alice/apps").await;
    let keys = app.forge.deploy_keys(&grant).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].read_only);
    assert!(html.contains(&keys[0].fingerprint), "listed");

    // The operator's side, on the same repository.
    let cli_key = keygen(&app.work.path().join("keys"), "cli", "ed25519");
    let (ok, out, err) = admin(
        &app,
        &["deploy-key", "add", "alice/apps", "--title", "flux"],
        &public_key(&cli_key),
    )
    .await;
    assert!(ok, "{err}");
    assert!(err.contains("(read-only) added to alice/apps"), "{err}");
    let (ok, list, err) = admin(&app, &["deploy-key", "list", "alice/apps"], "").await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].contains("\twrite\trenovate\t"), "{list}");
    assert!(lines[1].contains("\tread\tflux\t"), "{list}");
    let fingerprint = lines[1].split('\t').nth(1).unwrap();
    assert!(
        out.contains(fingerprint),
        "add printed id and fingerprint: {out}"
    );
    let (ok, _, err) = admin(
        &app,
        &["deploy-key", "remove", "alice/apps", fingerprint],
        "",
    )
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = admin(&app, &["deploy-key", "remove", "alice/apps", "999999"], "").await;
    assert!(!ok && err.contains("has no deploy key 999999"), "{err}");

    // Removing on the page.
    let (_, html) = page(&app, &cookie, "/alice/apps/settings/deploy-keys").await;
    let csrf = hidden(&html, "csrf");
    let id = keys[0].id;
    let res = client()
        .post(format!(
            "{}/alice/apps/settings/deploy-keys/{id}/remove",
            app.base
        ))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert!(app.forge.deploy_keys(&grant).await.unwrap().is_empty());
}

/// The cap on deploy keys per repository holds (and says so).
#[tokio::test(flavor = "multi_thread")]
async fn a_repository_has_at_most_the_capped_number_of_deploy_keys() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "apps", true).await;
    let grant = app.grant("alice/apps").await;
    let cap = labforge::domain::MAX_DEPLOY_KEYS_PER_REPO as usize;
    // Keys made in-process (ssh-keygen 50 times is slow).
    let line = ed25519_line;
    for i in 0..cap {
        app.forge
            .add_deploy_key(&grant, &format!("k{i}"), &line(i), true)
            .await
            .unwrap();
    }
    let err = app
        .forge
        .add_deploy_key(&grant, "one too many", &line(cap), true)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("at most {cap} deploy keys")),
        "{err}"
    );
    assert_eq!(app.forge.deploy_keys(&grant).await.unwrap().len(), cap);
}
