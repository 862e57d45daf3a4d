//! Issues closed and referenced by commits: real `git push`es (post-receive applies them), and
//! the same events applied again (as after a crash) changing nothing.

use labforge::model::{PushEvent, RefUpdate, TimelineKind, ZERO_ID};
use labforge::storage::NewPush;

use crate::helpers::*;
use crate::issues::{access_as, users};

/// Records a push the way the hooks do (pending, then received with what git did).
async fn record_push(
    app: &TestApp,
    repo: &str,
    pusher: &str,
    refs: &[(&str, &str, &str)],
) -> PushEvent {
    let access = access_as(app, pusher, repo).await;
    let refs: Vec<RefUpdate> = refs
        .iter()
        .map(|(name, old, new)| RefUpdate {
            name: name.to_string(),
            old: old.to_string(),
            new: new.to_string(),
        })
        .collect();
    let db = &app.store().await;
    let id = db
        .insert_pending_push(NewPush {
            repo_id: access.repo().id,
            pusher_id: access.actor().map(|a| a.user.id),
            pusher_name: pusher,
            nonce: &random_hex(8),
            push_options: &[],
            refs: &refs,
            checks_skipped: false,
        })
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let event = tx.receive_push(id, &refs).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    event
}

async fn rev(dir: &std::path::Path, r: &str) -> String {
    git_ok(dir, &["rev-parse", r]).await.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn fixes_and_closes_in_a_pushed_commit_close_issues_once() {
    let app = TestApp::spawn().await;
    users(&app, &["alice"]).await;
    app.create_repo("alice", "dns", false).await;
    let alice = access_as(&app, "alice", "alice/dns").await;
    for title in ["Resolver down", "Serial not bumped", "Docs", "Untouched"] {
        app.forge.open_issue(&alice, title, "").await.unwrap();
    }
    let creds = ("alice", "alice-password");
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, creds, "alice/dns", &["main"]).await;
    let base = rev(&src, "main").await;

    // The fix is pushed on a branch first: references only.
    git_ok(&src, &["checkout", "-q", "-b", "fix/resolver"]).await;
    std::fs::write(src.join("named.conf"), "options {};\n").unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(
        &src,
        &[
            "commit",
            "-q",
            "-m",
            "Fixes #1, closes #2\n\nSee #3; fixes #404 (no such issue)",
        ],
    )
    .await;
    let fix = rev(&src, "HEAD").await;
    app.push(&src, creds, "alice/dns", &["fix/resolver"]).await;
    for n in [1, 2, 3] {
        let (issue, _) = app.forge.issue(&alice, n).await.unwrap();
        assert!(
            issue.is_open(),
            "#{n} stays open: the branch is not the default one"
        );
        let timeline = app.forge.timeline(&alice, &issue).await.unwrap();
        assert_eq!(
            timeline.last().unwrap().kind,
            TimelineKind::Referenced,
            "#{n}"
        );
    }

    // Merged into the default branch: #1 and #2 close, linked to the commit; #3 is mentioned.
    git_ok(&src, &["checkout", "-q", "main"]).await;
    git_ok(&src, &["merge", "-q", "--ff-only", "fix/resolver"]).await;
    app.push(&src, creds, "alice/dns", &["main"]).await;
    for n in [1, 2] {
        let (issue, _) = app.forge.issue(&alice, n).await.unwrap();
        assert!(!issue.is_open(), "#{n} closed");
        assert_eq!(issue.closed_by_commit.as_deref(), Some(fix.as_str()));
        assert_eq!(issue.closed_by.as_deref(), Some("alice"));
        let timeline = app.forge.timeline(&alice, &issue).await.unwrap();
        let kinds: Vec<(&str, Option<&str>)> = timeline
            .iter()
            .map(|e| (e.kind.as_str(), e.commit_id.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("opened", None),
                ("referenced", Some(fix.as_str())),
                ("closed", Some(fix.as_str()))
            ],
            "#{n}"
        );
    }
    let (issue4, _) = app.forge.issue(&alice, 4).await.unwrap();
    assert!(issue4.is_open());

    // The issue page links the commit; the commit page lists its issues.
    let html = reqwest::get(format!("{}/alice/dns/issues/1", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(
            "closed this in commit <a href=\"/alice/dns/commit/{fix}\">"
        )),
        "{html}"
    );
    let html = reqwest::get(format!("{}/alice/dns/commit/{fix}", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for n in [1, 2, 3] {
        assert!(
            html.contains(&format!("<a href=\"/alice/dns/issues/{n}\">#{n}</a>")),
            "{html}"
        );
    }
    assert!(!html.contains("/alice/dns/issues/404"), "{html}");

    // Someone reopens #1. The same commit pushed to another branch, and the same event
    // processed again (a crash before it was marked done), change nothing at all.
    app.forge.set_issue_state(&alice, 1, true).await.unwrap();
    let mut before = Vec::new();
    for n in 1..=4 {
        let (issue, _) = app.forge.issue(&alice, n).await.unwrap();
        before.push((
            issue.state,
            app.forge.timeline(&alice, &issue).await.unwrap(),
        ));
    }
    app.push(&src, creds, "alice/dns", &["main:refs/heads/again"])
        .await;
    let again = record_push(
        &app,
        "alice/dns",
        "alice",
        &[("refs/heads/again", ZERO_ID, &fix)],
    )
    .await;
    // As if `again` had been made from an older state: every commit since `base` counts.
    let replayed = record_push(
        &app,
        "alice/dns",
        "alice",
        &[("refs/heads/again", &base, &fix)],
    )
    .await;
    // The main and branch pushes' events, processed again.
    let main_push = record_push(
        &app,
        "alice/dns",
        "alice",
        &[("refs/heads/main", &base, &fix)],
    )
    .await;
    let branch_push = record_push(
        &app,
        "alice/dns",
        "alice",
        &[("refs/heads/fix/resolver", ZERO_ID, &fix)],
    )
    .await;
    for event in [&again, &replayed, &main_push, &main_push, &branch_push] {
        let done = app
            .forge
            .reapply_pushed_commits(&app.grant("alice/dns").await, event)
            .await
            .unwrap();
        assert_eq!(done, Default::default(), "nothing new");
    }
    for n in 1..=4 {
        let (issue, _) = app.forge.issue(&alice, n).await.unwrap();
        let after = (
            issue.state,
            app.forge.timeline(&alice, &issue).await.unwrap(),
        );
        assert_eq!(after, before[n as usize - 1], "#{n} unchanged");
    }
    // A grant serves its own repository only: another one's push event, or an issue read
    // through another repository's grant, is not found.
    app.create_repo("alice", "other", false).await;
    let other = app.grant("alice/other").await;
    let refused = app.forge.reapply_pushed_commits(&other, &main_push).await;
    assert!(
        matches!(refused, Err(labforge::domain::Error::NotFound)),
        "{refused:?}"
    );
    let (issue, _) = app.forge.issue(&alice, 1).await.unwrap();
    let read = app.forge.timeline(&other, &issue).await;
    assert!(
        matches!(read, Err(labforge::domain::Error::NotFound)),
        "{read:?}"
    );
    assert!(app.forge.comments(&other, &issue, 1, 10).await.is_err());
}
