//! Repositories, collaborators, branch protection and git hooks through Gitea's own generated
//! client (`gitea_client`): every answer held against Gitea's schema, the values asserted in
//! the scripts. Also the archive flag over git's transports.

use labforge::model::TokenScope;

use crate::gitea_client::GiteaClient;
use crate::helpers::*;
use crate::ssh::{SshClient, user_with_key};

#[tokio::test]
async fn repositories_are_created_read_edited_renamed_and_deleted_in_giteas_shape() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let script = format!(
        r#"
base = "{base}"
made = user.create_current_user_repo(body=models.CreateRepoOption(name="dns", description="zones", private=False))
assert made.name == "dns" and made.full_name == "alice/dns" and made.owner.login == "alice"
assert made.empty and not made.private and not made.archived and made.default_branch == "main"
assert made.permissions.admin and made.permissions.push and made.permissions.pull
assert made.clone_url == base + "/alice/dns.git", made.clone_url
assert made.ssh_url.endswith("/alice/dns.git") or made.ssh_url.endswith(":alice/dns.git")
assert made.html_url == base + "/alice/dns"
assert made.owner.email == "alice@lab.test", made.owner.email
assert status_of(user.create_current_user_repo, body=models.CreateRepoOption(name="dns")) == 409
assert status_of(user.create_current_user_repo, body=models.CreateRepoOption(name="../x")) == 422
got = repo.repo_get("alice", "dns")
assert got.id == made.id and got.description == "zones"
assert repo.repo_get_by_id(made.id).full_name == "alice/dns"
assert [r.name for r in user.user_current_list_repos()] == ["dns"]
assert [r.name for r in user.user_list_repos("alice")] == ["dns"]
repo.repo_update_topics("alice", "dns", body=models.RepoTopicOptions(topics=["Homelab", "dns", "homelab"]))
assert repo.repo_list_topics("alice", "dns").topics == ["dns", "homelab"]
bad = models.RepoTopicOptions(topics=["not valid"])
assert status_of(repo.repo_update_topics, "alice", "dns", body=bad) == 422
many = models.RepoTopicOptions(topics=["t%d" % i for i in range(26)])
assert status_of(repo.repo_update_topics, "alice", "dns", body=many) == 422
edited = repo.repo_edit("alice", "dns", body=models.EditRepoOption(description="zone files", private=True))
assert edited.description == "zone files" and edited.private
renamed = repo.repo_edit("alice", "dns", body=models.EditRepoOption(name="zones"))
assert renamed.name == "zones" and renamed.id == made.id and renamed.clone_url.endswith("/alice/zones.git")
assert status_of(repo.repo_get, "alice", "dns") == 404
assert repo.repo_get("alice", "zones").description == "zone files"
repo.repo_delete("alice", "zones")
assert status_of(repo.repo_get, "alice", "zones") == 404
assert status_of(repo.repo_get_by_id, made.id) == 404
emit(made.id)
"#,
        base = app.base
    );
    let out = GiteaClient::with_token(&app, &token).run(&script).await;
    assert_eq!(out.len(), 1);
    assert!(!app.server_repo("alice/zones").exists());
}

#[tokio::test]
async fn search_pages_with_link_and_total_count_and_filters() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    for name in ["r1", "r2", "r3", "r4", "r5"] {
        app.create_repo("alice", name, false).await;
    }
    app.create_repo("alice", "hidden", true).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
data, status, headers = repo.repo_search_with_http_info(q="r", sort="alpha", limit=2, page=2)
assert data.ok and [r.name for r in data.data] == ["r3", "r4"], data.data
assert headers["X-Total-Count"] == "5", headers
link = headers["Link"]
assert 'page=3>; rel="next"' in link and 'rel="prev"' in link and 'rel="first"' in link, link
last = repo.repo_search(q="r", sort="alpha", limit=2, page=3)
assert [r.name for r in last.data] == ["r5"]
assert [r.name for r in repo.repo_search(q="r", sort="id", order="desc", limit=1).data] == ["r5"]
assert [r.name for r in repo.repo_search(is_private=True).data] == ["hidden"]
assert "hidden" not in [r.name for r in repo.repo_search(private=False).data]
repo.repo_edit("alice", "r2", body=models.EditRepoOption(archived=True))
assert [r.name for r in repo.repo_search(archived=True).data] == ["r2"]
assert len(repo.repo_search(archived=False, q="r").data) == 4
assert status_of(repo.repo_search, sort="stars-and-moons") == 422
assert status_of(repo.repo_search, order="sideways") == 422
emit("searched")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("searched")]);
    // An anonymous search sees the public ones only.
    let anonymous = GiteaClient::anonymous(&app)
        .run(
            r#"
names = [r.name for r in repo.repo_search(limit=50).data]
assert "hidden" not in names and len(names) == 5, names
emit(len(names))
"#,
        )
        .await;
    assert_eq!(anonymous, [serde_json::json!(5)]);
}

#[tokio::test]
async fn a_read_scoped_token_cannot_patch_delete_or_put() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    app.create_repo("alice", "dns", false).await;
    let token = app.create_token("alice", TokenScope::Read).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
assert repo.repo_get("alice", "dns").permissions.admin is False
edit = models.EditRepoOption(description="changed")
assert status_of(repo.repo_edit, "alice", "dns", body=edit) == 403
assert status_of(repo.repo_delete, "alice", "dns") == 403
topics = models.RepoTopicOptions(topics=["x"])
assert status_of(repo.repo_update_topics, "alice", "dns", body=topics) == 403
add = models.AddCollaboratorOption(permission="write")
assert status_of(repo.repo_add_collaborator, "alice", "dns", "bob", body=add) == 403
assert status_of(repo.repo_delete_collaborator, "alice", "dns", "bob") == 403
rule = models.CreateBranchProtectionOption(rule_name="main")
assert status_of(repo.repo_create_branch_protection, "alice", "dns", body=rule) == 403
new = models.CreateRepoOption(name="other")
assert status_of(user.create_current_user_repo, body=new) == 403
assert repo.repo_get("alice", "dns").description == ""
emit("refused")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("refused")]);
}

#[tokio::test]
async fn a_private_repository_answers_outsiders_like_a_missing_one() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("eve", "eve-password").await;
    app.create_repo("alice", "secret", true).await;
    let id = app.grant("alice/secret").await.repo().id;
    let token = app.create_token("eve", TokenScope::Write).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(&format!(
            r#"
for call, args in [
    (repo.repo_get, ("alice", "secret")),
    (repo.repo_list_topics, ("alice", "secret")),
    (repo.repo_list_collaborators, ("alice", "secret")),
    (repo.repo_get_repo_permissions, ("alice", "secret", "eve")),
    (repo.repo_delete, ("alice", "secret")),
]:
    assert status_of(call, *args) == 404, call
    assert status_of(call, *(("alice", "nope") + args[2:])) == 404, call
assert status_of(repo.repo_get_by_id, {id}) == 404
assert status_of(repo.repo_get_by_id, 999999) == 404
assert repo.repo_search(q="secret").data == []
assert user.user_list_repos("alice") == []
emit("hidden")
"#
        ))
        .await;
    assert_eq!(out, [serde_json::json!("hidden")]);
    // The answers' bodies match too, not only their statuses.
    let client = reqwest::Client::new();
    let mut bodies = Vec::new();
    for repo in ["alice/secret", "alice/nope"] {
        let res = client
            .get(format!("{}/api/v1/repos/{repo}", app.base))
            .header("authorization", format!("token {token}"))
            .send()
            .await
            .unwrap();
        bodies.push((res.status().as_u16(), res.text().await.unwrap()));
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archived_repository_refuses_pushes_over_http_and_ssh_and_issue_writes() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(
        &src,
        ("alice", "alice-password"),
        "alice/dns",
        &["HEAD:main"],
    )
    .await;
    let archive = |on: bool| {
        format!(
            r#"
r = repo.repo_edit("alice", "dns", body=models.EditRepoOption(archived={}))
assert r.archived is {} and not r.empty
emit(r.archived)
"#,
            if on { "True" } else { "False" },
            if on { "True" } else { "False" },
        )
    };
    let client = GiteaClient::with_token(&app, &token);
    assert_eq!(client.run(&archive(true)).await, [serde_json::json!(true)]);

    git_ok(
        &src,
        &["commit", "-q", "--allow-empty", "-m", "after archiving"],
    )
    .await;
    let message = "alice/dns is archived: it accepts no pushes until an admin unarchives it";
    let url = app.url(Some(("alice", "alice-password")), "alice/dns");
    let http = git(&src, &["push", "-q", &url, "HEAD:main"]).await;
    assert!(
        !http.status.success(),
        "an HTTP push to an archived repository"
    );
    assert!(stderr(&http).contains(message), "{}", stderr(&http));
    let ssh = SshClient::new(&app, &key);
    let over_ssh = ssh
        .git(&src, &["push", "-q", &ssh.url("alice/dns"), "HEAD:main"])
        .await;
    assert!(
        !over_ssh.status.success(),
        "an SSH push to an archived repository"
    );
    assert!(stderr(&over_ssh).contains(message), "{}", stderr(&over_ssh));

    let out = client
        .run(
            r#"
assert status_of(issue.issue_create_issue, "alice", "dns", body=models.CreateIssueOption(title="x")) == 423
assert status_of(issue.issue_create_label, "alice", "dns", body=models.CreateLabelOption(name="bug", color="ee0701")) == 423
assert repo.repo_get("alice", "dns").archived
assert issue.issue_list_issues("alice", "dns") == []
emit("locked")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("locked")]);
    let page = reqwest::get(format!("{}/alice/dns", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("This repository is archived"), "{page}");

    assert_eq!(
        client.run(&archive(false)).await,
        [serde_json::json!(false)]
    );
    ssh.git_ok(&src, &["push", "-q", &ssh.url("alice/dns"), "HEAD:main"])
        .await;
}

#[tokio::test]
async fn collaborators_and_their_permissions() {
    let app = TestApp::spawn().await;
    for u in ["alice", "bob", "carol"] {
        app.create_user(u, &format!("{u}-password")).await;
    }
    app.create_repo("alice", "dns", true).await;
    let alice = app.create_token("alice", TokenScope::Write).await;
    let bob = app.create_token("bob", TokenScope::Write).await;
    let out = GiteaClient::with_token(&app, &alice)
        .run(
            r#"
repo.repo_add_collaborator("alice", "dns", "bob", body=models.AddCollaboratorOption(permission="read"))
repo.repo_add_collaborator("alice", "dns", "carol", body=models.AddCollaboratorOption(permission="admin"))
data, status, headers = repo.repo_list_collaborators_with_http_info("alice", "dns", limit=1)
assert [u.login for u in data] == ["bob"] and headers["X-Total-Count"] == "2"
repo.repo_check_collaborator("alice", "dns", "bob")
assert status_of(repo.repo_check_collaborator, "alice", "dns", "alice") == 404
assert status_of(repo.repo_check_collaborator, "alice", "dns", "nobody") == 422
p = repo.repo_get_repo_permissions("alice", "dns", "bob")
assert p.permission == "read" and p.user.login == "bob", p
assert repo.repo_get_repo_permissions("alice", "dns", "alice").permission == "owner"
assert repo.repo_get_repo_permissions("alice", "dns", "carol").permission == "admin"
bad = models.AddCollaboratorOption(permission="god")
assert status_of(repo.repo_add_collaborator, "alice", "dns", "bob", body=bad) == 422
assert status_of(repo.repo_add_collaborator, "alice", "dns", "nobody", body=models.AddCollaboratorOption()) == 422
repo.repo_delete_collaborator("alice", "dns", "carol")
assert [u.login for u in repo.repo_list_collaborators("alice", "dns")] == ["bob"]
emit("ok")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("ok")]);
    let out = GiteaClient::with_token(&app, &bob)
        .run(
            r#"
assert repo.repo_get_repo_permissions("alice", "dns", "bob").permission == "read"
assert status_of(repo.repo_get_repo_permissions, "alice", "dns", "alice") == 403
assert repo.repo_get("alice", "dns").permissions.push is False
emit("bob")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("bob")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn branch_protections_map_onto_labforges_rules() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    app.create_repo("alice", "dns", false).await;
    app.add_collaborator("alice/dns", "bob", "write").await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
made = repo.repo_create_branch_protection("alice", "dns", body=models.CreateBranchProtectionOption(
    rule_name="main", enable_push=True, enable_push_whitelist=True))
assert made.rule_name == "main" and made.branch_name == "main" and made.enable_push_whitelist
assert made.status_check_contexts == [] and not made.enable_status_check
again = models.CreateBranchProtectionOption(rule_name="main", enable_push=True)
assert status_of(repo.repo_create_branch_protection, "alice", "dns", body=again) == 403
signed = models.CreateBranchProtectionOption(rule_name="release/*", require_signed_commits=True)
assert status_of(repo.repo_create_branch_protection, "alice", "dns", body=signed) == 422
assert [p.rule_name for p in repo.repo_list_branch_protection("alice", "dns")] == ["main"]
edited = repo.repo_edit_branch_protection("alice", "dns", "main", body=models.EditBranchProtectionOption(
    enable_status_check=True, status_check_contexts=["zones"]))
assert edited.status_check_contexts == ["zones"] and edited.enable_push_whitelist
assert repo.repo_get_branch_protection("alice", "dns", "main").enable_status_check
assert status_of(repo.repo_get_branch_protection, "alice", "dns", "nope") == 404
open_rule = repo.repo_edit_branch_protection("alice", "dns", "main", body=models.EditBranchProtectionOption(
    enable_push_whitelist=False, enable_status_check=False))
assert not open_rule.enable_push_whitelist and open_rule.status_check_contexts == []
repo.repo_edit_branch_protection("alice", "dns", "main", body=models.EditBranchProtectionOption(enable_push=False))
emit("rules")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("rules")]);
    // `enable_push: false` became labforge's admins-only rule: a writer's push is refused.
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    let url = app.url(Some(("bob", "bob-password")), "alice/dns");
    let out = git(&src, &["push", "-q", &url, "HEAD:main"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only repository admins may push here"),
        "{}",
        stderr(&out)
    );
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
repo.repo_delete_branch_protection("alice", "dns", "main")
assert repo.repo_list_branch_protection("alice", "dns") == []
emit("deleted")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("deleted")]);
    app.push(&src, ("bob", "bob-password"), "alice/dns", &["HEAD:main"])
        .await;
}

#[tokio::test]
async fn git_hooks_are_listed_empty_and_never_writable() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", false).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r##"
assert repo.repo_list_git_hooks("alice", "dns") == []
assert status_of(repo.repo_get_git_hook, "alice", "dns", "pre-receive") == 404
hook = models.EditGitHookOption(content="#!/bin/sh\ntouch /tmp/owned\n")
try:
    repo.repo_edit_git_hook("alice", "dns", "pre-receive", body=hook)
    raise AssertionError("a git hook was written")
except ApiException as e:
    assert e.status == 403 and "operator" in e.body, e.body
assert status_of(repo.repo_delete_git_hook, "alice", "dns", "pre-receive") == 403
emit("refused")
"##,
        )
        .await;
    assert_eq!(out, [serde_json::json!("refused")]);
    let hook = std::fs::read_to_string(app.server_repo("alice/dns").join("hooks/pre-receive"))
        .unwrap_or_default();
    assert!(!hook.contains("/tmp/owned"));
}

#[tokio::test]
async fn the_settings_page_archives_and_the_api_shows_it() {
    use crate::web_auth::{hidden, page, post, session};
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", false).await;
    let cookie = session(&app, "alice", "alice-password").await;
    let (_, html) = page(&app, &cookie, "/alice/dns/settings").await;
    assert!(html.contains("name=\"archived\""), "{html}");
    let csrf = hidden(&html, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("description", ""),
        ("default_branch", "main"),
        ("archived", "on"),
    ];
    let (status, body) = post(&app, &cookie, "/alice/dns/settings", &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("This repository is archived"), "{body}");
    let token = app.create_token("alice", TokenScope::Read).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
r = repo.repo_get("alice", "dns")
assert r.archived and r.archived_at != r.created_at
emit(r.archived)
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!(true)]);
}
