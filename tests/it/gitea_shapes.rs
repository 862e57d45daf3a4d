//! Gitea's generated client against labforge's API: each answer is held field by field against
//! Gitea's schema (see `gitea_client`), and the values are the forge's.

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
