//! Users, keys, tokens, settings and authentication through Gitea's generated client (every
//! answer held against Gitea's schema), and the ways of signing in with plain HTTP.

use labforge::model::TokenScope;
use serde_json::Value;

use crate::gitea_client::GiteaClient;
use crate::helpers::*;
use crate::web_auth::client;

/// Python for a syntactically valid ed25519 public key line with random key bytes.
const FAKE_KEY: &str = r#"
import base64, os, struct
def fake_key():
    kind = b"ssh-ed25519"
    blob = struct.pack(">I", len(kind)) + kind + struct.pack(">I", 32) + os.urandom(32)
    return "ssh-ed25519 " + base64.b64encode(blob).decode()
"#;

#[tokio::test]
async fn users_show_giteas_user_object_with_the_address_to_themselves_only() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    app.create_user("bobby", "bobby-password").await;
    let token = app.create_token("alice", TokenScope::Read).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
me = user.user_get_current()
assert me.login == "alice" and me.email == "alice@lab.test", me
assert me.active and not me.is_admin and me.created.year >= 2026, me
# never signed in with the password yet: Gitea's unix zero
assert me.last_login.year == 1970, me.last_login
bob = user.user_get("bob")
assert bob.login == "bob" and bob.email == "bob@noreply.127.0.0.1", bob
assert bob.last_login.year == 1 and not bob.active, bob
assert status_of(user.user_get, "nobody") == 404
found = user.user_search(q="BOB")
assert found.ok and [u.login for u in found.data] == ["bob", "bobby"], found
assert [u.login for u in user.user_search(q="bob", uid=bob.id).data] == ["bob"]
page, status, headers = user.user_search_with_http_info(q="", limit=1, page=2)
assert [u.login for u in page.data] == ["bob"], page
assert headers["X-Total-Count"] == "3", headers
assert 'rel="next"' in headers["Link"] and 'rel="prev"' in headers["Link"], headers
anonymous = as_caller()
assert anonymous.user.user_get("alice").email == "alice@noreply.127.0.0.1"
assert status_of(anonymous.user.user_get_current) == 401
with_password = as_caller(username="alice", password="alice-password")
assert with_password.user.user_get_current().last_login.year >= 2026
emit(me.id)
"#,
        )
        .await;
    assert_eq!(out.len(), 1, "the script ran to its end");
}

#[tokio::test]
async fn keys_are_added_listed_a_page_at_a_time_and_removed() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let read = app.create_token("alice", TokenScope::Read).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(&format!(
            r#"{FAKE_KEY}
first = user.user_current_post_key(body=models.CreateKeyOption(title="laptop", key=fake_key()))
assert first.title == "laptop" and first.key_type == "user" and first.user.login == "alice", first
assert first.fingerprint.startswith("SHA256:") and first.key.startswith("ssh-ed25519 "), first
assert first.url.endswith("/api/v1/user/keys/%d" % first.id), first.url
# one more key than a page holds (MAX_RESPONSE_ITEMS = 50)
for i in range(50):
    user.user_current_post_key(body=models.CreateKeyOption(title="k%d" % i, key=fake_key()))
keys, status, headers = user.user_current_list_keys_with_http_info(limit=1000)
assert len(keys) == 50 and headers["X-Total-Count"] == "51", (len(keys), headers)
assert keys[0].id == first.id
assert len(user.user_current_list_keys()) == 30
assert len(user.user_current_list_keys(page=2, limit=50)) == 1
assert user.user_current_get_key(first.id).title == "laptop"
assert status_of(user.user_current_post_key, body=models.CreateKeyOption(title="again", key=first.key)) == 422
assert status_of(user.user_current_post_key, body=models.CreateKeyOption(title="bad", key="ssh-ed25519 AAAA")) == 422
public = as_caller().user.user_list_keys("alice", limit=5)
assert len(public) == 5 and public[0].key_type == "" and public[0].user is None, public[0]
reader = as_caller(token="{read}")
assert status_of(reader.user.user_current_post_key, body=models.CreateKeyOption(title="x", key=fake_key())) == 403
assert status_of(reader.user.user_current_delete_key, first.id) == 403
assert reader.user.user_current_get_key(first.id).id == first.id
user.user_current_delete_key(first.id)
assert status_of(user.user_current_get_key, first.id) == 404
assert status_of(user.user_current_delete_key, first.id) == 404
emit(len(keys))
"#
        ))
        .await;
    assert_eq!(out, [serde_json::json!(50)]);
}

#[tokio::test]
async fn tokens_need_the_password_and_map_giteas_scopes() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    app.create_repo("alice", "dns", false).await;
    let old = app.create_token("alice", TokenScope::Write).await;
    let out = GiteaClient::with_password(&app, "alice", "alice-password")
        .run(&format!(
            r#"
read = user.user_create_token("alice", body=models.CreateAccessTokenOption(
    name="renovate", scopes=["read:repository", "read:user"]))
assert read.sha1.startswith("lf_") and read.token_last_eight == read.sha1[-8:], read
assert read.scopes == ["read:issue", "read:repository", "read:user"], read.scopes
write = user.user_create_token("alice", body=models.CreateAccessTokenOption(
    name="tofu", scopes=["read:user", "write:repository"]))
assert write.scopes == ["write:issue", "write:repository", "write:user"], write.scopes
listed, status, headers = user.user_get_tokens_with_http_info("alice")
assert [t.name for t in listed][-2:] == ["renovate", "tofu"], listed
assert all(t.sha1 == "" for t in listed) and headers["X-Total-Count"] == "3", headers
assert listed[-1].token_last_eight == write.token_last_eight
for bad in (["sudo"], [], ["read:repository", "public-only"]):
    assert status_of(user.user_create_token, "alice", body=models.CreateAccessTokenOption(name="x", scopes=bad)) == 422, bad
assert status_of(user.user_create_token, "alice", body=models.CreateAccessTokenOption(name="tofu", scopes=["all"])) == 409
assert status_of(user.user_get_tokens, "bob") == 403

# the new read token reads and cannot write
reader = as_caller(token=read.sha1)
assert reader.user.user_get_current().login == "alice"
assert status_of(reader.issue.issue_create_label, "alice", "dns", body=models.CreateLabelOption(name="bug", color="ee0701")) == 403
assert as_caller(token=write.sha1).issue.issue_create_label("alice", "dns", body=models.CreateLabelOption(name="bug", color="ee0701")).name == "bug"

# a token, in any form, does not manage tokens
for caller in (as_caller(token="{old}"), as_caller(username="alice", password="{old}"), as_caller()):
    assert status_of(caller.user.user_get_tokens, "alice") == 401
    assert status_of(caller.user.user_create_token, "alice", body=models.CreateAccessTokenOption(name="y", scopes=["all"])) == 401
assert status_of(as_caller(username="alice", password="wrong-password").user.user_get_tokens, "alice") == 401

user.user_delete_access_token("alice", str(read.id))
user.user_delete_access_token("alice", "tofu")
assert status_of(user.user_delete_access_token, "alice", "tofu") == 404
assert status_of(reader.user.user_get_current) == 401
assert [t.name for t in user.user_get_tokens("alice")] == [listed[0].name]
emit("done")
"#
        ))
        .await;
    assert_eq!(out, [serde_json::json!("done")]);
}

#[tokio::test]
async fn settings_answer_giteas_general_settings() {
    let app = TestApp::spawn().await;
    let out = GiteaClient::anonymous(&app)
        .run(
            r#"
api = settings.get_general_api_settings()
assert api.max_response_items == 50 and api.default_paging_num == 30, api
assert api.default_git_trees_per_page == 1000 and api.default_max_blob_size == 10485760, api
repo_settings = settings.get_general_repository_settings()
assert not repo_settings.http_git_disabled and repo_settings.lfs_disabled, repo_settings
assert not repo_settings.migrations_disabled and not repo_settings.mirrors_disabled
assert settings.get_general_ui_settings().allowed_reactions == []
assert settings.get_general_attachment_settings().enabled is False
emit("done")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("done")]);
}

async fn get_user(app: &TestApp, url: &str, auth: Option<String>) -> (u16, Value) {
    let mut req = client().get(format!("{}{url}", app.base));
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_way_of_signing_in_works_and_a_token_in_the_url_is_refused() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let token = app.create_token("alice", TokenScope::Read).await;
    let basic = |secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("alice:{secret}"))
        )
    };
    for auth in [
        format!("token {token}"),
        format!("Bearer {token}"),
        basic(&token),
        basic("alice-password"),
    ] {
        let (status, me) = get_user(&app, "/api/v1/user", Some(auth.clone())).await;
        assert_eq!(
            (status, me["login"].as_str()),
            (200, Some("alice")),
            "{auth}"
        );
    }
    let (status, body) = get_user(&app, "/api/v1/user", Some(basic("wrong"))).await;
    assert_eq!(status, 401, "{body}");
    for query in ["token", "access_token"] {
        for path in ["/api/v1/user", "/api/v1/version", "/api/v1/users/alice"] {
            let (status, body) = get_user(&app, &format!("{path}?{query}={token}"), None).await;
            assert_eq!(status, 401, "{path}?{query}=: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Authorization header")),
                "{body}"
            );
        }
    }
    // Gitea's error object: exactly `message` and `url`.
    let (_, body) = get_user(&app, "/api/v1/users/nobody", None).await;
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["message", "url"], "{body}");
    assert_eq!(body["url"], format!("{}/api/swagger", app.base));
}
