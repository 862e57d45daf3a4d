//! Gitea's generated client against labforge's API: each answer is held field by field against
//! Gitea's schema (see `gitea_client`), and the values are the forge's.

use labforge::model::TokenScope;

use crate::gitea_client::GiteaClient;
use crate::helpers::*;

#[tokio::test]
async fn errors_have_giteas_status_codes_through_the_client() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "horse-battery-staple").await;
    app.create_repo("alice", "secret", true).await;
    let out = GiteaClient::anonymous(&app)
        .run(
            r#"
assert status_of(user.user_get_current) == 401
assert status_of(issue.issue_list_issues, "alice", "secret") == 404
assert misc.get_version().version
emit("done")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("done")]);
}

#[tokio::test]
async fn a_read_token_reads_through_the_client_and_cannot_write() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "horse-battery-staple").await;
    app.create_repo("alice", "dns", false).await;
    let token = app
        .create_token("alice", labforge::model::TokenScope::Read)
        .await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
assert issue.issue_list_issues("alice", "dns") == []
title = models.CreateLabelOption(name="bug", color="ee0701")
assert status_of(issue.issue_create_label, "alice", "dns", body=title) == 403
emit("read")
"#,
        )
        .await;
    assert_eq!(out, [serde_json::json!("read")]);
}

#[tokio::test]
async fn version_user_issues_labels_hooks_and_statuses_have_giteas_shapes() {
    // The hook below goes to 127.0.0.1: labforge refuses loopback webhooks unless the operator
    // allows them (its SSRF rule, checked when the hook is made; Gitea's default
    // ALLOWED_HOST_LIST=external refuses the same address at delivery).
    let app = TestApp::spawn_with(&[("LABFORGE_WEBHOOK_ALLOWED_HOSTS", "loopback")]).await;
    app.create_user("alice", "horse-battery-staple").await;
    app.create_repo("alice", "dns", false).await;
    let work = app.workdir("dns");
    local_repo(&work, 1).await;
    app.push(
        &work,
        ("alice", "horse-battery-staple"),
        "alice/dns",
        &["HEAD:refs/heads/main"],
    )
    .await;
    let head = git_ok(&work, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_string();
    let token = app.create_token("alice", TokenScope::Write).await;

    let out = GiteaClient::with_token(&app, &token)
        .run(&format!(
            r##"
v = misc.get_version()
assert v.version, v
me = user.user_get_current()
assert me.login == "alice", me

label = issue.issue_create_label("alice", "dns", body=models.CreateLabelOption(name="bug", color="#ee0701"))
assert issue.issue_list_labels("alice", "dns")[0].name == "bug"
created = issue.issue_create_issue("alice", "dns", body=models.CreateIssueOption(title="ns1 is down", body="since the move", labels=[label.id]))
assert created.number == 1 and created.state == "open", created
assert created.labels[0].name == "bug"
issue.issue_create_comment("alice", "dns", 1, body=models.CreateIssueCommentOption(body="back up"))
assert [c.body for c in issue.issue_get_comments("alice", "dns", 1)] == ["back up"]
edited = issue.issue_edit_issue("alice", "dns", 1, body=models.EditIssueOption(state="closed"))
assert edited.state == "closed"
assert issue.issue_get_issue("alice", "dns", 1).title == "ns1 is down"
assert [i.number for i in issue.issue_list_issues("alice", "dns", state="closed")] == [1]

hook = repo.repo_create_hook("alice", "dns", body=models.CreateHookOption(
    type="gitea", active=True, events=["push"],
    config={{"url": "http://127.0.0.1:9/hook", "content_type": "json"}}))
assert [h.id for h in repo.repo_list_hooks("alice", "dns")] == [hook.id]

repo.repo_create_status("alice", "dns", "{head}", body=models.CreateStatusOption(
    state="success", context="ci/lint", target_url="http://ci.lab/1", description="ok"))
assert [s.context for s in repo.repo_list_statuses("alice", "dns", "{head}")] == ["ci/lint"]
combined = repo.repo_get_combined_status_by_ref("alice", "dns", "{head}")
assert combined.state == "success", combined
emit(me.id)
"##
        ))
        .await;
    assert_eq!(out.len(), 1, "the script ran to its end");
}

#[tokio::test]
async fn a_migration_answers_giteas_repository_through_the_client() {
    let app = TestApp::spawn_with(&[crate::mirrors::ALLOW_LOOPBACK]).await;
    app.create_user("alice", "horse-battery-staple").await;
    app.create_repo("alice", "src", false).await;
    let work = app.workdir("src");
    local_repo(&work, 1).await;
    app.push(
        &work,
        ("alice", "horse-battery-staple"),
        "alice/src",
        &["HEAD:refs/heads/main"],
    )
    .await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let read = app.create_token("alice", TokenScope::Read).await;
    let out = GiteaClient::with_token(&app, &token)
        .run(&format!(
            r#"
options = models.MigrateRepoOptions(clone_addr="{base}/alice/src.git", repo_name="copy",
    mirror=True, mirror_interval="8h", private=False)
made = repo.repo_migrate(body=options)
assert made.full_name == "alice/copy" and made.mirror and made.mirror_interval == "8h0m0s", made
assert made.owner.login == "alice" and not made.private, made
assert made.clone_url.endswith("/alice/copy.git"), made.clone_url
assert status_of(as_caller(token="{read}").repo.repo_migrate, body=options) == 403
emit(made.id)
"#,
            base = app.base,
        ))
        .await;
    assert_eq!(out.len(), 1, "the script ran to its end");
}

/// File edits (create, update, several files, delete) through the client: FileResponse,
/// FilesResponse and FileDeleteResponse as Gitea's schemas have them, and a stale `sha`
/// refused with Gitea's status.
#[tokio::test]
async fn file_edits_answer_in_giteas_shapes() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "horse-battery-staple").await;
    app.create_repo("alice", "dns", false).await;
    let token = app
        .create_token("alice", labforge::model::TokenScope::Write)
        .await;
    let out = GiteaClient::with_token(&app, &token)
        .run(
            r#"
import base64
b64 = lambda text: base64.b64encode(text.encode()).decode()
made = repo.repo_create_file("alice", "dns", "zones/lab.zone",
    models.CreateFileOptions(content=b64("ns1 A 10.0.0.53\n"), message="add the lab zone", branch="main"))
assert made.content.path == "zones/lab.zone" and made.content.type == "file", made
assert made.commit.message.startswith("add the lab zone"), made.commit
first = made.content.sha
changed = repo.repo_update_file("alice", "dns", "zones/lab.zone",
    models.UpdateFileOptions(content=b64("ns1 A 10.0.0.54\n"), sha=first, message="move ns1"))
assert changed.content.sha != first
stale = models.UpdateFileOptions(content=b64("ns1 A 10.0.0.55\n"), sha=first, message="late")
assert status_of(repo.repo_update_file, "alice", "dns", "zones/lab.zone", stale) == 422
many = repo.repo_change_files("alice", "dns", models.ChangeFilesOptions(message="two files", files=[
    models.ChangeFileOperation(operation="create", path="a.txt", content=b64("a\n")),
    models.ChangeFileOperation(operation="create", path="b.txt", content=b64("b\n")),
]))
assert sorted(f.path for f in many.files) == ["a.txt", "b.txt"], many
gone = repo.repo_delete_file("alice", "dns", "a.txt",
    models.DeleteFileOptions(sha=many.files[0].sha, message="drop a"))
assert gone.content is None and gone.commit.message.startswith("drop a")
emit(changed.commit.sha)
"#,
        )
        .await;
    let [sha] = &out[..] else {
        panic!("one value emitted: {out:?}")
    };
    let tip = git_ok(
        &app.server_repo("alice/dns"),
        &["rev-parse", "refs/heads/main~2"],
    )
    .await;
    assert_eq!(
        sha.as_str(),
        Some(tip.trim()),
        "the update is two commits below the tip"
    );
}

/// Deploy keys through the client (as the Terraform provider's `gitea_repository_key` calls
/// them): DeployKey as Gitea's schema has it, read-only kept, a key in use refused with 422.
#[tokio::test]
async fn deploy_keys_answer_in_giteas_shapes() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "horse-battery-staple").await;
    app.create_repo("alice", "flux", true).await;
    let token = app
        .create_token("alice", labforge::model::TokenScope::Write)
        .await;
    let key = crate::deploy_keys::ed25519_line(4242);
    let out = GiteaClient::with_token(&app, &token)
        .run(&format!(
            r#"
made = repo.repo_create_key("alice", "flux", body=models.CreateKeyOption(title="flux", key="{key}", read_only=True))
assert made.read_only and made.title == "flux" and made.key.startswith("ssh-ed25519 "), made
assert [k.id for k in repo.repo_list_keys("alice", "flux")] == [made.id]
assert repo.repo_get_key("alice", "flux", made.id).fingerprint == made.fingerprint
again = models.CreateKeyOption(title="again", key="{key}", read_only=False)
assert status_of(repo.repo_create_key, "alice", "flux", body=again) == 422
repo.repo_delete_key("alice", "flux", made.id)
assert repo.repo_list_keys("alice", "flux") == []
emit(made.fingerprint)
"#
        ))
        .await;
    let [fingerprint] = &out[..] else {
        panic!("one value emitted: {out:?}")
    };
    assert!(
        fingerprint
            .as_str()
            .is_some_and(|f| f.starts_with("SHA256:")),
        "{fingerprint}"
    );
}
