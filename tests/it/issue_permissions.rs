//! Who may do what with issues, through the web forms: anonymous, an outsider, a reader, a
//! writer and the issue's author (a reader), on a public and on a private repository.

use crate::helpers::*;
use crate::issues::{Browser, access_as, browser, get_as, post, users, writer_as};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// 200 for a page, 303 onwards for a form.
    Done,
    /// Sent to the sign-in form.
    SignIn,
    Forbidden,
    NotFound,
}
use Outcome::*;

fn outcome(status: u16, location: &str) -> Outcome {
    match (status, location) {
        (200, _) => Done,
        (303, l) if l.starts_with("/login") => SignIn,
        (303, _) => Done,
        (403, _) => Forbidden,
        (404, _) => NotFound,
        other => panic!("unexpected answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_permission_matrix() {
    let app = TestApp::spawn().await;
    users(&app, &["alice", "carol", "dave", "erin", "frank"]).await;
    for (repo, private) in [("alice/pub", false), ("alice/priv", true)] {
        app.create_repo("alice", repo.split('/').nth(1).unwrap(), private)
            .await;
        app.add_collaborator(repo, "dave", "read").await;
        app.add_collaborator(repo, "erin", "write").await;
        app.add_collaborator(repo, "frank", "read").await;
        let owner = writer_as(&app, "alice", repo).await;
        app.forge
            .create_label(&owner, "bug", "#d73a4a", "")
            .await
            .unwrap();
        // Issue 1 is frank's: the "author" column.
        let frank = access_as(&app, "frank", repo).await;
        app.forge
            .open_issue(&frank, "Frank's issue", "")
            .await
            .unwrap();
    }
    let carol = browser(&app, "carol").await;
    let dave = browser(&app, "dave").await;
    let erin = browser(&app, "erin").await;
    let frank = browser(&app, "frank").await;
    let who: [(&str, Option<&Browser>); 5] = [
        ("anonymous", None),
        ("outsider", Some(&carol)),
        ("reader", Some(&dave)),
        ("writer", Some(&erin)),
        ("author", Some(&frank)),
    ];
    // Expected per role, in the order above: view, open, comment, close, label.
    let public: [[Outcome; 5]; 5] = [
        [Done, SignIn, SignIn, SignIn, SignIn],
        [Done, Done, Done, Forbidden, Forbidden],
        [Done, Done, Done, Forbidden, Forbidden],
        [Done, Done, Done, Done, Done],
        [Done, Done, Done, Done, Forbidden],
    ];
    let private: [[Outcome; 5]; 5] = [
        [NotFound, SignIn, SignIn, SignIn, SignIn],
        [NotFound, NotFound, NotFound, NotFound, NotFound],
        [Done, Done, Done, Forbidden, Forbidden],
        [Done, Done, Done, Done, Done],
        [Done, Done, Done, Done, Forbidden],
    ];
    for (repo, expected) in [("alice/pub", public), ("alice/priv", private)] {
        let owner = writer_as(&app, "alice", repo).await;
        for ((role, b), want) in who.iter().zip(expected) {
            let mut got = Vec::new();
            let (s, _) = get_as(&app, *b, &format!("/{repo}/issues/1")).await;
            let (s2, _) = get_as(&app, *b, &format!("/{repo}/issues")).await;
            assert_eq!(s, s2, "{role} {repo}: list and issue agree");
            got.push(outcome(s, ""));
            let (s, l, _) = post(
                &app,
                *b,
                &format!("/{repo}/issues/new"),
                &[("title", "New"), ("body", "")],
            )
            .await;
            got.push(outcome(s, &l));
            let (s, l, _) = post(
                &app,
                *b,
                &format!("/{repo}/issues/1/comment"),
                &[("body", "Hello")],
            )
            .await;
            got.push(outcome(s, &l));
            let (s, l, _) = post(
                &app,
                *b,
                &format!("/{repo}/issues/1/state"),
                &[("state", "closed")],
            )
            .await;
            got.push(outcome(s, &l));
            let (s, l, _) = post(
                &app,
                *b,
                &format!("/{repo}/issues/1/labels"),
                &[("label", "bug")],
            )
            .await;
            got.push(outcome(s, &l));
            assert_eq!(
                got, want,
                "{role} on {repo}: view, open, comment, close, label"
            );
            // Put issue 1 back as it was for the next role.
            app.forge.set_issue_state(&owner, 1, true).await.unwrap();
            app.forge.set_issue_labels(&owner, 1, &[]).await.unwrap();
        }
        // The author edits their own text; a reader may not edit theirs.
        let (s, _, _) = post(
            &app,
            Some(&dave),
            &format!("/{repo}/issues/1/edit"),
            &[("title", "x"), ("body", "")],
        )
        .await;
        assert_eq!(s, 403, "{repo}: a reader edits only their own");
        let (s, _, _) = post(
            &app,
            Some(&frank),
            &format!("/{repo}/issues/1/edit"),
            &[("title", "Frank's, edited"), ("body", "")],
        )
        .await;
        assert_eq!(s, 303, "{repo}: the author edits");
        // Private issues do not leak through the labels page or the list either.
        let (s, _) = get_as(&app, Some(&carol), &format!("/{repo}/labels")).await;
        assert_eq!(s, if repo == "alice/priv" { 404 } else { 200 });
    }
}
