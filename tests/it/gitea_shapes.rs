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
