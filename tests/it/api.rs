//! /api/v1 basics: token auth in every form Gitea clients send, and JSON errors.

use labforge::model::TokenScope;

use crate::helpers::TestApp;

#[tokio::test]
async fn api_accepts_tokens_and_refuses_bad_credentials() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "correct horse battery").await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/user", app.base);

    for header in [format!("token {token}"), format!("Bearer {token}")] {
        let res = client
            .get(&url)
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        assert!(body.contains("\"login\":\"alice\""), "{body}");
    }
    let res = client
        .get(&url)
        .basic_auth("alice", Some("correct horse battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = client
        .get(&url)
        .header("Authorization", "token lf_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("\"message\""));
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .get(format!("{}/api/v1/nothing", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
