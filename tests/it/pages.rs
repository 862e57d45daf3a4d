//! The pages' second look (issue 21, item 19): what each fix shows in the HTML the real binary
//! serves — mirror times, the closing commit, the settings sections and danger zone, a
//! signed-out 404 that offers to sign in without telling private from missing, blame's day and
//! subject, the comment count and issue filter, "changes since last good", the labels refusal.

use labforge::model::DeployStatus;

use crate::helpers::*;
use crate::issues::{Browser, access_as, browser, get_as, post, users};
use crate::web::sample_repo;

/// The repository as the domain sees it.
async fn repo_of(app: &TestApp, path: &str) -> labforge::model::Repo {
    app.grant(path).await.repo().clone()
}

/// The `<time title="…">…</time>` elements of `html` after `marker`: (title, text) pairs.
fn times_after(html: &str, marker: &str) -> Vec<(String, String)> {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    html[start..]
        .split("<time title=\"")
        .skip(1)
        .map(|t| {
            let (title, rest) = t.split_once("\">").unwrap();
            let text = rest.split_once("</time>").unwrap().0;
            (title.to_owned(), text.to_owned())
        })
        .collect()
}

/// `2026-12-07 21:00 UTC`: what a title carries.
fn is_exact_time(title: &str) -> bool {
    let b = title.as_bytes();
    title.len() == 20
        && title.ends_with(" UTC")
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
}

#[tokio::test(flavor = "multi_thread")]
async fn mirror_times_read_as_relative_with_the_exact_time_in_the_title() {
    let app = TestApp::spawn().await;
    users(&app, &["alice"]).await;
    app.create_repo("alice", "dns", false).await;
    let repo = repo_of(&app, "alice/dns").await;
    // A pull mirror synced just now, next due in an hour (so no worker touches it here).
    app.store()
        .await
        .insert_pull_mirror(
            repo.id,
            "https://git.example/up/dns.git",
            "puller",
            "t0ken",
            3600,
        )
        .await
        .unwrap();
    // A push mirror that once succeeded.
    let mirror = app
        .store()
        .await
        .insert_push_mirror(labforge::storage::NewPushMirror {
            repo_id: repo.id,
            remote_url: "https://127.0.0.1:9/far/dns.git",
            auth: "https",
            username: "pusher",
            token: "t0ken",
            ssh_private_key: "",
            ssh_public_key: "",
            scope: "mirror",
            sync_on_push: true,
        })
        .await
        .unwrap();
    app.store()
        .await
        .push_mirror_synced(mirror.id, None)
        .await
        .unwrap();
    let alice = browser(&app, "alice").await;
    let (status, html) = get_as(&app, Some(&alice), "/alice/dns/settings/mirrors").await;
    assert_eq!(status, 200);
    let pull = times_after(&html, "Pull mirror");
    assert!(pull.len() >= 2, "{html}");
    assert!(is_exact_time(&pull[0].0), "{pull:?}");
    assert_eq!(pull[0].1, "just now", "last success");
    assert!(is_exact_time(&pull[1].0), "{pull:?}");
    assert!(
        pull[1].1 == "in 1 hour" || pull[1].1 == "in 59 minutes",
        "next sync: {pull:?}"
    );
    let push = times_after(&html, "Push mirrors");
    assert!(
        is_exact_time(&push[0].0) && push[0].1 == "just now",
        "{push:?}"
    );
    // No raw ISO time (with its fractions of a second) anywhere.
    for (title, _) in pull.iter().chain(&push) {
        let iso = format!("{}T{}", &title[..10], &title[11..16]);
        assert!(!html.contains(&iso), "{iso} in {html}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issue_closed_by_a_push_names_the_short_id_and_the_subject() {
    let app = TestApp::spawn().await;
    users(&app, &["alice"]).await;
    app.create_repo("alice", "dns", false).await;
    let access = access_as(&app, "alice", "alice/dns").await;
    app.forge
        .open_issue(&access, "Resolver down", "")
        .await
        .unwrap();
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    std::fs::write(src.join("named.conf"), "options {};\n").unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(
        &src,
        &["commit", "-q", "-m", "Restart the resolver\n\nFixes #1"],
    )
    .await;
    let fix = git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned();
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let (status, html) = get_as(&app, None, "/alice/dns/issues/1").await;
    assert_eq!(status, 200);
    let short = &fix[..10];
    assert!(
        html.contains(&format!(
            "Closed</strong> by alice in <a href=\"/alice/dns/commit/{fix}\"><code>{short}</code></a> <span class=\"closing-subject\">“Restart the resolver”</span>"
        )),
        "{html}"
    );
    assert!(
        !html.contains(&format!("<code>{fix}</code>")),
        "no 40-character id on show"
    );
}

/// The side nav's links, in order, and which one is marked current.
fn side_nav(html: &str) -> (Vec<String>, Option<String>) {
    let nav = html
        .split("<nav class=\"side\"")
        .nth(1)
        .unwrap_or_else(|| panic!("a side nav in {html}"))
        .split("</nav>")
        .next()
        .unwrap();
    let mut links = Vec::new();
    let mut current = None;
    for a in nav.split("<a ").skip(1) {
        let href = a
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        links.push(href.to_owned());
        if a.split('>')
            .next()
            .unwrap()
            .contains("aria-current=\"page\"")
        {
            current = Some(href.to_owned());
        }
    }
    (links, current)
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_sections_have_their_own_pages_and_the_danger_zone_is_marked() {
    let app = TestApp::spawn().await;
    users(&app, &["alice", "bob"]).await;
    app.create_repo("alice", "dns", false).await;
    let alice = browser(&app, "alice").await;
    let sections = [
        ("/alice/dns/settings", "General", "name=\"description\""),
        (
            "/alice/dns/settings/collaborators",
            "Collaborators",
            "Add or change",
        ),
        (
            "/alice/dns/settings/branches",
            "Protected branches",
            "name=\"pattern\"",
        ),
        ("/alice/dns/settings/hooks", "Webhooks", "Add webhook"),
        (
            "/alice/dns/settings/mirrors",
            "Push mirrors",
            "Add push mirror",
        ),
        (
            "/alice/dns/settings/deploy-keys",
            "Deploy keys",
            "name=\"key\"",
        ),
        (
            "/alice/dns/settings/delete",
            "Danger zone",
            "name=\"confirm\"",
        ),
    ];
    let want_links: Vec<String> = sections.iter().map(|s| s.0.to_owned()).collect();
    for (path, heading, form) in sections {
        let (status, html) = get_as(&app, Some(&alice), path).await;
        assert_eq!(status, 200, "{path}");
        let (links, current) = side_nav(&html);
        assert_eq!(links, want_links, "{path}: every section in the side nav");
        assert_eq!(current.as_deref(), Some(path), "{path} is marked current");
        assert!(
            html.contains(&format!("\">{heading}</h2>")),
            "{path}: {html}"
        );
        assert!(html.contains(form), "{path}: its form");
        // Only its own section: the delete form is on the danger zone's page alone.
        let deletes = html.contains("name=\"confirm\"");
        assert_eq!(deletes, path.ends_with("/delete"), "{path}");
    }
    let (_, danger) = get_as(&app, Some(&alice), "/alice/dns/settings/delete").await;
    assert!(
        danger.contains("<section class=\"danger-zone\" aria-labelledby=\"danger\">")
            && danger.contains(
                "<button type=\"submit\" class=\"danger\">Delete this repository</button>"
            ),
        "{danger}"
    );
    assert!(danger.contains("<a class=\"danger\" href=\"/alice/dns/settings/delete\""));

    // Forms answer on their section's page; removals come back to it.
    let (status, _, html) = post(
        &app,
        Some(&alice),
        "/alice/dns/settings/collaborators",
        &[("user", "bob"), ("access", "read")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("bob now has read access."));
    assert_eq!(
        side_nav(&html).1.as_deref(),
        Some("/alice/dns/settings/collaborators")
    );
    let (status, location, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/settings/collaborators/bob/remove",
        &[],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/alice/dns/settings/collaborators")
    );
    let (_, _, html) = post(
        &app,
        Some(&alice),
        "/alice/dns/settings/delete",
        &[("confirm", "dns")],
    )
    .await;
    assert!(html.contains("Type alice/dns exactly"));
    assert_eq!(
        side_nav(&html).1.as_deref(),
        Some("/alice/dns/settings/delete")
    );

    // Every section stays the admins': bob (a reader) finds nothing.
    app.add_collaborator("alice/dns", "bob", "read").await;
    let bob = browser(&app, "bob").await;
    for path in want_links {
        assert_eq!(get_as(&app, Some(&bob), &path).await.0, 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_out_a_private_repository_and_a_missing_one_give_the_same_404() {
    let app = TestApp::spawn().await;
    sample_repo(&app, true).await;
    users(&app, &["bob"]).await;
    let paths = [
        "/alice/dns",
        "/alice/dns/issues",
        "/alice/dns/tree/main/zones",
    ];
    let mut private = Vec::new();
    for path in paths {
        let (status, body) = get_as(&app, None, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            body.contains(&format!(
                "<a href=\"/login?next={path}\">Sign in</a> to see more"
            )),
            "{path}: {body}"
        );
        assert!(
            !body.contains("Lab DNS") && !body.contains("db.home"),
            "{path}"
        );
        private.push(body);
    }
    // Another repository that was never there: the same page, but for the address it names.
    let (status, missing) = get_as(&app, None, "/alice/nothing").await;
    assert_eq!(status, 404);
    assert_eq!(missing.replace("/alice/nothing", "/alice/dns"), private[0]);
    // And the very same address once the repository is gone: the same bytes.
    app.forge
        .delete_repo(app.grant("alice/dns").await)
        .await
        .unwrap();
    for (path, before) in paths.iter().zip(&private) {
        let (status, after) = get_as(&app, None, path).await;
        assert_eq!(status, 404);
        assert_eq!(&after, before, "{path}: private and missing alike");
    }
    // Signed in, a 404 is just a 404 (signing in again would not help).
    let bob = browser(&app, "bob").await;
    let (status, body) = get_as(&app, Some(&bob), "/alice/dns").await;
    assert_eq!(status, 404);
    assert!(body.contains("There is nothing at this address.") && !body.contains("to see more"));
    // The link brings the visitor back: the sign-in form carries `next` on.
    let (status, form) = get_as(&app, None, "/login?next=/alice/dns").await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"/alice/dns\""), "{form}");
}

#[tokio::test(flavor = "multi_thread")]
async fn blame_rows_show_the_day_and_the_subject_of_their_commit() {
    let app = TestApp::spawn().await;
    let src = sample_repo(&app, false).await;
    let (status, html) = get_as(&app, None, "/alice/dns/blame/main/zones/home/db.home").await;
    assert_eq!(status, 200);
    let commit = git_ok(
        &src,
        &[
            "log",
            "-1",
            "--format=%H",
            "main",
            "--",
            "zones/home/db.home",
        ],
    )
    .await
    .trim()
    .to_owned();
    let out = git_env(
        &src,
        &[
            "log",
            "-1",
            "--date=format-local:%Y-%m-%d",
            "--format=%ad",
            &commit,
        ],
        &[("TZ", "UTC")],
    )
    .await;
    let day = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(day.len(), 10, "{day}");
    let rows: Vec<&str> = html.split("<tr id=\"L").skip(1).collect();
    assert_eq!(rows.len(), 2);
    let first = rows[0];
    assert!(
        first.contains(&format!(
            "<a href=\"/alice/dns/commit/{commit}\">{}</a>",
            &commit[..10]
        )),
        "{first}"
    );
    assert!(
        first.contains(&format!("\">{day}</time>")),
        "the day: {first}"
    );
    assert!(
        first.contains("<span class=\"subj\" title=\"Initial zones\">Initial zones</span>"),
        "the subject: {first}"
    );
    assert!(first.contains("<span class=\"by\">"), "the author: {first}");
    // Both in the annotation cell, which the stylesheet keeps on one line.
    let who = first
        .split("<td class=\"who\">")
        .nth(1)
        .unwrap()
        .split("</td>")
        .next()
        .unwrap();
    assert!(who.contains(&day) && who.contains("Initial zones"), "{who}");
    let (_, css_page) = get_as(&app, None, "/").await;
    assert!(css_page.contains("table.blame td.who { white-space: nowrap;"));
    // The next line of the same commit repeats nothing.
    assert!(rows[1].contains("<td class=\"who\"></td>"), "{}", rows[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_issue_list_counts_comments_without_an_emoji_and_its_filter_fields_match() {
    let app = TestApp::spawn().await;
    users(&app, &["alice"]).await;
    app.create_repo("alice", "dns", false).await;
    let access = access_as(&app, "alice", "alice/dns").await;
    app.forge.open_issue(&access, "One", "").await.unwrap();
    app.forge.open_issue(&access, "Two", "").await.unwrap();
    app.forge
        .comment_on_issue(&access, 1, "first")
        .await
        .unwrap();
    app.forge.comment_on_issue(&access, 2, "a").await.unwrap();
    app.forge.comment_on_issue(&access, 2, "b").await.unwrap();
    let (status, html) = get_as(&app, None, "/alice/dns/issues").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<td class=\"age\">1 comment</td>")
            && html.contains("<td class=\"age\">2 comments</td>"),
        "{html}"
    );
    let emoji: Vec<char> = html
        .chars()
        .filter(|c| {
            ('\u{1F000}'..='\u{1FAFF}').contains(c)
                || ('\u{2600}'..='\u{27BF}').contains(c) && *c != '✓' && *c != '✗'
        })
        .collect();
    assert!(emoji.is_empty(), "no emoji: {emoji:?}");
    // The filter: three fields of one kind and no widths of their own (the grid sizes them).
    let form = html
        .split("class=\"filter issues\"")
        .nth(1)
        .unwrap()
        .split("</form>")
        .next()
        .unwrap();
    assert_eq!(form.matches("<input type=\"search\"").count(), 3, "{form}");
    assert!(!form.contains("size="), "{form}");
}

/// Commits serial `n` (with a FAIL file when `fail`), pushes it and waits for its deploy run.
async fn deploy_step(
    app: &TestApp,
    src: &std::path::Path,
    n: u32,
    fail: bool,
) -> Vec<labforge::domain::deploys::DeployRun> {
    std::fs::write(src.join("zone.txt"), format!("serial {n}\n")).unwrap();
    if fail {
        std::fs::write(src.join("FAIL"), "").unwrap();
    }
    git_ok(src, &["add", "-A"]).await;
    git_ok(src, &["commit", "-q", "-m", &format!("serial {n}")]).await;
    app.push(src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let repo = app.grant("alice/dns").await;
    eventually(30, "the push's deploy run to finish", || async {
        let runs = app.forge.deploy_runs(&repo, 0).await.unwrap();
        let settled = runs
            .iter()
            .all(|r| !matches!(r.status.as_str(), "queued" | "running"));
        (runs.len() == n as usize && settled).then_some(runs)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_good_run_does_not_offer_changes_since_itself() {
    let conf = tempfile::tempdir().unwrap();
    let script = conf.path().join("deploy.sh");
    // Fails when the pushed tree has a FAIL file, so a push can make a failed run.
    std::fs::write(&script, "#!/bin/sh\n[ ! -e FAIL ]\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = conf.path().join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await;
    users(&app, &["alice"]).await;
    app.create_repo("alice", "dns", false).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    deploy_step(&app, &src, 1, false).await;
    let runs = deploy_step(&app, &src, 2, false).await;
    let good = runs[0].id;
    assert_eq!(runs[0].status, DeployStatus::Succeeded);
    let runs = deploy_step(&app, &src, 3, true).await;
    let failed = runs[0].id;
    assert_eq!(runs[0].status, DeployStatus::Failed);

    // The last good run: nothing "since last good" (it is the last good).
    let (status, html) = get_as(&app, None, &format!("/alice/dns/deploys/{good}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("changes since last good"), "{html}");
    // The failed run after it still links what changed since.
    let (_, html) = get_as(&app, None, &format!("/alice/dns/deploys/{failed}")).await;
    assert!(html.contains("changes since last good"), "{html}");
    // The list: the failed run's row has the link, the last good run's row has none.
    let (_, html) = get_as(&app, None, "/alice/dns/deploys").await;
    let row = |id: i64| {
        html.split(&format!(
            "<a href=\"/alice/dns/deploys/{id}\">#{id}</a></td>"
        ))
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_owned()
    };
    assert!(row(failed).contains("changes since last good"));
    assert!(!row(good).contains("changes since last good"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refusing_labels_names_no_author() {
    let app = TestApp::spawn().await;
    users(&app, &["alice", "bob"]).await;
    app.create_repo("alice", "dns", false).await;
    let access = crate::issues::writer_as(&app, "alice", "alice/dns").await;
    app.forge
        .open_issue(&access, "Resolver down", "")
        .await
        .unwrap();
    app.forge
        .create_label(&access, "bug", "#d73a4a", "")
        .await
        .unwrap();
    let bob: Browser = browser(&app, "bob").await;
    let (status, _, html) = post(
        &app,
        Some(&bob),
        "/alice/dns/issues/1/labels",
        &[("label", "bug")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        html.contains("only someone with write access can set labels"),
        "{html}"
    );
    assert!(!html.contains("only the author"), "{html}");
    let (status, _, html) = post(
        &app,
        Some(&bob),
        "/alice/dns/labels",
        &[
            ("name", "wontfix"),
            ("color", "#ffffff"),
            ("description", ""),
        ],
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        html.contains("only someone with write access can manage labels"),
        "{html}"
    );
}
