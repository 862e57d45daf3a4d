//! The issue tracker through its web forms (session cookie + CSRF token), and issues closed by
//! a real `git push`.

use labforge::domain::{Grant, IssueQuery, IssueState, Level, Read, Write};
use labforge::model::{Actor, RepoPath};

use crate::helpers::*;
use crate::web::{HOSTILE_MARKDOWN, HOSTILE_MARKERS};
use crate::web_auth::{client, hidden, page, session};

/// A signed-in browser: its cookie and the CSRF token its forms carry.
pub(crate) struct Browser {
    pub cookie: String,
    pub csrf: String,
}

pub(crate) async fn browser(app: &TestApp, user: &str) -> Browser {
    let cookie = session(app, user, &format!("{user}-password")).await;
    let (_, html) = page(app, &cookie, "/").await;
    Browser {
        csrf: hidden(&html, "csrf"),
        cookie,
    }
}

/// Posts a form as `who` (None: anonymous) with the CSRF token added; (status, Location, body).
pub(crate) async fn post(
    app: &TestApp,
    who: Option<&Browser>,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    let mut req = client().post(format!("{}{path}", app.base));
    if let Some(b) = who {
        form.push(("csrf", &b.csrf));
        req = req.header("cookie", &b.cookie);
    }
    let res = req.form(&form).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

pub(crate) async fn get_as(app: &TestApp, who: Option<&Browser>, path: &str) -> (u16, String) {
    match who {
        Some(b) => page(app, &b.cookie, path).await,
        None => page(app, "", path).await,
    }
}

pub(crate) async fn users(app: &TestApp, names: &[&str]) {
    for n in names {
        app.create_user(n, &format!("{n}-password")).await;
    }
}

/// The domain's view of `who` on `repo`, for setting up state without the forms.
pub(crate) async fn access_as(app: &TestApp, who: &str, repo: &str) -> Grant<Read> {
    grant_as(app, who, repo).await
}

/// As `access_as`, for a writer (labels need a write grant).
pub(crate) async fn writer_as(app: &TestApp, who: &str, repo: &str) -> Grant<Write> {
    grant_as(app, who, repo).await
}

async fn grant_as<L: Level>(app: &TestApp, who: &str, repo: &str) -> Grant<L> {
    let user = app
        .forge
        .user(&labforge::model::Username::parse(who).unwrap())
        .await
        .unwrap();
    let actor = Actor { user, scope: None };
    app.forge
        .authorize::<L>(Some(&actor), &RepoPath::parse(repo).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_lifecycle_through_the_forms() {
    let app = TestApp::spawn().await;
    users(&app, &["alice", "bob"]).await;
    app.create_repo("alice", "dns", false).await;
    let alice = browser(&app, "alice").await;
    let bob = browser(&app, "bob").await;

    let (status, html) = get_as(&app, Some(&bob), "/alice/dns/issues/new").await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"title\""), "{html}");

    // Preview re-renders the form with the markdown rendered, and opens nothing.
    let (status, _, html) = post(
        &app,
        Some(&bob),
        "/alice/dns/issues/new",
        &[
            ("title", "Resolver times out"),
            ("body", "It **fails** on `dig`"),
            ("action", "preview"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("<strong>fails</strong>"), "{html}");
    assert!(html.contains("value=\"Resolver times out\""), "{html}");
    let (_, html) = get_as(&app, None, "/alice/dns/issues").await;
    assert!(html.contains("0 open"), "{html}");

    let (status, location, _) = post(
        &app,
        Some(&bob),
        "/alice/dns/issues/new",
        &[
            ("title", "Resolver times out"),
            ("body", "It **fails** on `dig`"),
            ("action", "submit"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/alice/dns/issues/1"));
    let (_, html) = get_as(&app, None, "/alice/dns/issues").await;
    assert!(
        html.contains("Resolver times out") && html.contains("1 open"),
        "{html}"
    );
    assert!(
        html.contains("Issues <span class=\"muted\">1</span>"),
        "tab count: {html}"
    );

    // A comment, previewed first.
    let (status, _, html) = post(
        &app,
        Some(&alice),
        "/alice/dns/issues/1/comment",
        &[("body", "_Looking_"), ("action", "preview")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("<em>Looking</em>"), "{html}");
    let (status, location, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/issues/1/comment",
        &[("body", "_Looking_ into it"), ("action", "submit")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/alice/dns/issues/1#comment-"),
        "{location}"
    );
    let (_, html) = get_as(&app, None, "/alice/dns/issues/1").await;
    assert!(html.contains("<em>Looking</em> into it"), "{html}");

    // Labels: writers make them and put them on issues; the timeline says so.
    let (status, _, _) = post(
        &app,
        Some(&bob),
        "/alice/dns/labels",
        &[("name", "bug"), ("color", "#d73a4a")],
    )
    .await;
    assert_eq!(status, 403, "bob only reads");
    let (status, _, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/labels",
        &[("name", "bug"), ("color", "#d73a4a")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, _, html) = post(
        &app,
        Some(&alice),
        "/alice/dns/labels",
        &[("name", "BUG"), ("color", "#000000")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("a label with that name already exists"),
        "{html}"
    );
    let (status, _, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/issues/1/labels",
        &[("label", "bug")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get_as(&app, None, "/alice/dns/issues/1").await;
    assert!(html.contains("alice added"), "{html}");
    assert!(
        html.contains("style=\"background: #d73a4a; color: #ffffff\">bug</span>"),
        "{html}"
    );

    // The author edits their own text; the old title stays in the timeline.
    let (status, _, _) = post(
        &app,
        Some(&bob),
        "/alice/dns/issues/1/edit",
        &[
            ("title", "Resolver times out on IPv6"),
            ("body", "Only over IPv6"),
            ("action", "submit"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get_as(&app, None, "/alice/dns/issues/1").await;
    assert!(
        html.contains("Resolver times out on IPv6") && html.contains("Only over IPv6"),
        "{html}"
    );
    assert!(
        html.contains("changed the title from <del>Resolver times out</del>"),
        "{html}"
    );

    // A forged request changes nothing.
    let (status, _, _) = post(
        &app,
        None,
        "/alice/dns/issues/1/state",
        &[("csrf", "forged"), ("state", "closed")],
    )
    .await;
    assert_eq!(status, 303, "anonymous: sent to sign in");
    let res = client()
        .post(format!("{}/alice/dns/issues/1/state", app.base))
        .header("cookie", &bob.cookie)
        .form(&[("csrf", "forged"), ("state", "closed")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The author closes it; the list moves it; a writer reopens it.
    let (status, _, _) = post(
        &app,
        Some(&bob),
        "/alice/dns/issues/1/state",
        &[("state", "closed")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get_as(&app, None, "/alice/dns/issues").await;
    assert!(
        html.contains("0 open") && html.contains("1 closed"),
        "{html}"
    );
    assert!(
        !html.contains("Resolver times out on IPv6"),
        "closed issues are not listed by default"
    );
    let (_, html) = get_as(&app, None, "/alice/dns/issues?state=closed").await;
    assert!(html.contains("Resolver times out on IPv6"), "{html}");
    let (_, html) = get_as(&app, None, "/alice/dns/issues/1").await;
    assert!(
        html.contains("Closed</strong> by bob") && html.contains("bob closed this"),
        "{html}"
    );
    let (status, _, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/issues/1/state",
        &[("state", "open")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get_as(&app, None, "/alice/dns/issues/1").await;
    assert!(html.contains("alice reopened this"), "{html}");

    // `#1` in another issue links to it and shows up on #1's timeline.
    let (status, location, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/issues/new",
        &[
            ("title", "Follow-up"),
            ("body", "After #1 and #99"),
            ("action", "submit"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/alice/dns/issues/2"));
    let (_, html) = get_as(&app, None, "/alice/dns/issues/2").await;
    assert!(
        html.contains(
            "<a href=\"/alice/dns/issues/1\" rel=\"nofollow noopener noreferrer\">#1</a>"
        ),
        "{html}"
    );
    assert!(
        !html.contains("/alice/dns/issues/99"),
        "no link to a missing issue: {html}"
    );
    let (_, html) = get_as(&app, None, "/alice/dns/issues/1").await;
    assert!(
        html.contains("alice mentioned this in <a href=\"/alice/dns/issues/2\">#2</a>"),
        "{html}"
    );

    // Labels page: edit and delete.
    let labels = app
        .forge
        .labels(&access_as(&app, "alice", "alice/dns").await)
        .await
        .unwrap();
    let id = labels[0].id;
    let (status, _, _) = post(
        &app,
        Some(&alice),
        &format!("/alice/dns/labels/{id}/edit"),
        &[
            ("name", "defect"),
            ("color", "#00ff00"),
            ("description", "broken"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get_as(&app, None, "/alice/dns/labels").await;
    assert!(html.contains("defect") && html.contains("broken"), "{html}");
    let (status, _, _) = post(
        &app,
        Some(&alice),
        &format!("/alice/dns/labels/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get_as(&app, None, "/alice/dns/labels").await;
    assert!(html.contains("No labels yet."), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn label_filters_author_filter_search_and_pages() {
    let app = TestApp::spawn().await;
    users(&app, &["alice", "bob"]).await;
    app.create_repo("alice", "dns", false).await;
    let alice = writer_as(&app, "alice", "alice/dns").await;
    let bob = access_as(&app, "bob", "alice/dns").await;
    let f = &app.forge;
    f.create_label(&alice, "bug", "#d73a4a", "").await.unwrap();
    f.create_label(&alice, "dns", "0e8a16", "").await.unwrap();
    f.open_issue(
        &alice,
        "Resolver crashes nightly",
        "unbound exits with SIGSEGV",
    )
    .await
    .unwrap();
    f.open_issue(
        &bob,
        "Zone serial not bumped",
        "the SOA serial stays the same",
    )
    .await
    .unwrap();
    f.open_issue(&bob, "Add a wiki", "").await.unwrap();
    f.set_issue_labels(&alice, 1, &["bug".into(), "dns".into()])
        .await
        .unwrap();
    f.set_issue_labels(&alice, 2, &["DNS".into()])
        .await
        .unwrap();
    f.comment_on_issue(&bob, 3, "Maybe wireguard docs first")
        .await
        .unwrap();
    f.set_issue_state(&alice, 2, false).await.unwrap();

    let titles = |html: &str| {
        [
            "Resolver crashes nightly",
            "Zone serial not bumped",
            "Add a wiki",
        ]
        .iter()
        .filter(|t| html.contains(*t))
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
    };
    let cases: [(&str, &[&str]); 9] = [
        ("?label=bug", &["Resolver crashes nightly"]),
        (
            "?state=all&label=dns",
            &["Resolver crashes nightly", "Zone serial not bumped"],
        ),
        ("?state=all&label=bug,dns", &["Resolver crashes nightly"]),
        ("?label=nosuch", &[]),
        (
            "?state=all&author=bob",
            &["Zone serial not bumped", "Add a wiki"],
        ),
        ("?q=crash", &["Resolver crashes nightly"]), // stemmed: crash ~ crashes
        ("?state=all&q=serial", &["Zone serial not bumped"]),
        ("?q=wireguard", &["Add a wiki"]), // found in a comment
        (
            "?q=%22soa+serial%22+-wiki&state=closed",
            &["Zone serial not bumped"],
        ),
    ];
    for (query, want) in cases {
        let (status, html) = get_as(&app, None, &format!("/alice/dns/issues{query}")).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(
            titles(&html),
            want.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "{query}"
        );
    }

    // 30 more: 25 a page, newest first, the next page link keeps the filters.
    for i in 0..30 {
        f.open_issue(&bob, &format!("Bulk {i:02}"), "bulk text")
            .await
            .unwrap();
    }
    let (_, html) = get_as(&app, None, "/alice/dns/issues?q=bulk").await;
    assert!(
        html.contains("Bulk 29") && html.contains("Bulk 05") && !html.contains("Bulk 04"),
        "{html}"
    );
    assert!(
        html.contains("href=\"?state=open&#38;q=bulk&#38;page=2\""),
        "{html}"
    );
    let (_, html) = get_as(&app, None, "/alice/dns/issues?q=bulk&page=2").await;
    assert!(
        html.contains("Bulk 04") && html.contains("Bulk 00") && !html.contains("Bulk 05"),
        "{html}"
    );

    // The same through the domain's query, for the numbers.
    let list = f
        .list_issues(
            &alice,
            &IssueQuery {
                state: IssueState::All,
                per_page: 100,
                page: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((list.open_count, list.closed_count), (32, 1));
    assert_eq!(list.issues.len(), 33);
}

/// The page without the contents of its text areas (the edit forms hold the raw text, which a
/// browser never parses as markup there), after checking that those contents are escaped: no
/// raw `<` that could close the text area early.
fn without_textareas(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<textarea") {
        let open_end = start + rest[start..].find('>').expect("tag ends") + 1;
        let close = open_end
            + rest[open_end..]
                .find("</textarea>")
                .expect("text area closes");
        assert!(
            !rest[open_end..close].contains('<'),
            "unescaped text area: {}",
            &rest[open_end..close]
        );
        out.push_str(&rest[..open_end]);
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_titles_bodies_and_comments_render_inert() {
    let app = TestApp::spawn().await;
    users(&app, &["alice"]).await;
    app.create_repo("alice", "dns", false).await;
    let alice = writer_as(&app, "alice", "alice/dns").await;
    let f = &app.forge;
    f.open_issue(
        &alice,
        "<b onmouseover=alert(1)>subject</b><script>alert(1)</script>",
        HOSTILE_MARKDOWN,
    )
    .await
    .unwrap();
    f.comment_on_issue(&alice, 1, HOSTILE_MARKDOWN)
        .await
        .unwrap();
    f.create_label(
        &alice,
        "<svg onload=alert(1)>",
        "#ffffff",
        "\" onmouseover=\"alert(1)",
    )
    .await
    .unwrap();
    f.set_issue_labels(&alice, 1, &["<svg onload=alert(1)>".into()])
        .await
        .unwrap();
    let b = browser(&app, "alice").await;
    // The preview renders through the same sanitiser.
    let (status, _, preview) = post(
        &app,
        Some(&b),
        "/alice/dns/issues/1/comment",
        &[("body", HOSTILE_MARKDOWN), ("action", "preview")],
    )
    .await;
    assert_eq!(status, 200);
    for (path, html) in [
        (
            "/alice/dns/issues",
            get_as(&app, None, "/alice/dns/issues").await.1,
        ),
        (
            "/alice/dns/issues/1",
            get_as(&app, Some(&b), "/alice/dns/issues/1").await.1,
        ),
        (
            "/alice/dns/labels",
            get_as(&app, Some(&b), "/alice/dns/labels").await.1,
        ),
        ("preview", preview),
    ] {
        assert!(
            html.contains("subject") || path.contains("labels") || path == "preview",
            "{path}"
        );
        let lower = without_textareas(&html).to_lowercase();
        for bad in HOSTILE_MARKERS {
            assert!(!lower.contains(bad), "{path}: `{bad}` survived:\n{lower}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn numbers_are_dense_and_unique_under_concurrent_openers() {
    let app = TestApp::spawn().await;
    users(&app, &["alice"]).await;
    app.create_repo("alice", "dns", false).await;
    app.create_repo("alice", "other", false).await;
    let dns = access_as(&app, "alice", "alice/dns").await;
    let other = access_as(&app, "alice", "alice/other").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let forge = app.forge.clone();
        let who = if i % 3 == 0 {
            other.clone()
        } else {
            dns.clone()
        };
        tasks.push(tokio::spawn(async move {
            forge
                .open_issue(&who, &format!("Race {i}"), "")
                .await
                .unwrap()
                .number
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    let mut want: Vec<i64> = (1..=16).chain(1..=8).collect();
    want.sort_unstable();
    assert_eq!(
        numbers, want,
        "each repository counts from 1 without gaps or repeats"
    );
    let (_, html) = get_as(&app, None, "/alice/dns/issues").await;
    assert!(html.contains("16 open"), "{html}");
}
