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
