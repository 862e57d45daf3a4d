//! The web UI for daily use: the dashboard (deploys failing first, how far main is past the last
//! good deploy, recent pushes and issues), repository lists with sort and filter, compare
//! pages, the branch/tag switcher, file history links, Atom feeds and deploy run labels.

use std::path::Path;

use labforge::model::TokenScope;

use crate::helpers::*;
use crate::issues::{browser, get_as, post};
use crate::web::{get, sample_repo};

/// Config with deploy `dns` (alice/dns main; fails while `conf/fail` exists), `fw`
/// (alice/fw main; always fails) and `apps` (alice/apps main; always succeeds, and sorts
/// first by name, so the dashboard's order shows failing deploys are put first on purpose).
fn lab_config(conf: &Path) -> String {
    let script = |name: &str, body: &str| {
        let path = conf.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    };
    script(
        "dns.sh",
        &format!("[ -e {} ] && exit 1; exit 0", conf.join("fail").display()),
    );
    script("fw.sh", "echo broken; exit 3");
    script("apps.sh", "echo fine");
    let file = conf.join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"dns.sh\"\n\n\
         [[deploy]]\nname = \"fw\"\nrepo = \"alice/fw\"\nbranch = \"main\"\nrun = \"fw.sh\"\n\n\
         [[deploy]]\nname = \"apps\"\nrepo = \"alice/apps\"\nbranch = \"main\"\nrun = \"apps.sh\"\n",
    )
    .unwrap();
    file.to_str().unwrap().to_owned()
}

async fn commit(dir: &Path, file: &str, message: &str) -> String {
    std::fs::write(dir.join(file), message).unwrap();
    git_ok(dir, &["add", "-A"]).await;
    git_ok(dir, &["commit", "-q", "-m", message]).await;
    git_ok(dir, &["rev-parse", "HEAD"]).await.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_puts_failing_deploys_first_and_says_how_far_main_is_ahead() {
    let conf = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(&[("LABFORGE_CONFIG", &lab_config(conf.path()))]).await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", false).await;
    app.create_repo("alice", "fw", false).await;
    app.create_repo("alice", "apps", false).await;
    app.create_repo("alice", "notes", true).await;
    let alice = browser(&app, "alice").await;
    let dns = app.workdir("dns");
    git_ok(&dns, &["init", "-q", "-b", "main"]).await;
    let c1 = commit(&dns, "zone", "Add the home zone").await;
    app.push(&dns, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    crate::hooks::settled_runs(&app, "alice/dns").await;
    let c2 = commit(&dns, "zone", "Move the router").await;
    app.push(&dns, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    crate::hooks::settled_runs(&app, "alice/dns").await;
    // Roll back to the first commit by hand: the run is labelled as a rollback.
    let (status, _, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/deploys",
        &[("deploy", "dns"), ("commit", &c1)],
    )
    .await;
    assert_eq!(status, 303);
    crate::hooks::settled_runs(&app, "alice/dns").await;
    let (_, runs) = get_as(&app, Some(&alice), "/alice/dns/deploys").await;
    assert!(
        runs.contains(&format!("rollback to {}", &c1[..7])),
        "{runs}"
    );
    assert!(runs.contains(&format!("deploy {}", &c2[..7])), "{runs}");
    assert!(
        runs.contains("Move the router"),
        "runs list subjects: {runs}"
    );
    assert!(
        runs.contains("rel=\"alternate\" type=\"application/atom+xml\""),
        "{runs}"
    );
    // From now on dns fails: main moves three commits past the last good (c1, rolled back to).
    std::fs::write(conf.path().join("fail"), "").unwrap();
    commit(&dns, "zone", "Break the zone").await;
    let c4 = commit(&dns, "zone", "Break it more").await;
    app.push(&dns, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    crate::hooks::settled_runs(&app, "alice/dns").await;
    let fw = app.workdir("fw");
    git_ok(&fw, &["init", "-q", "-b", "main"]).await;
    commit(&fw, "rules", "Allow DNS").await;
    app.push(&fw, ("alice", "alice-password"), "alice/fw", &["main"])
        .await;
    crate::hooks::settled_runs(&app, "alice/fw").await;
    let apps = app.workdir("apps");
    git_ok(&apps, &["init", "-q", "-b", "main"]).await;
    commit(&apps, "compose.yaml", "Add the apps").await;
    app.push(&apps, ("alice", "alice-password"), "alice/apps", &["main"])
        .await;
    crate::hooks::settled_runs(&app, "alice/apps").await;

    let (status, home) = get_as(&app, Some(&alice), "/").await;
    assert_eq!(status, 200);
    assert!(home.contains("Your lab"), "{home}");
    assert!(
        home.contains("main is 3 commits ahead of the last good deploy"),
        "{home}"
    );
    assert!(
        home.contains(&format!("/alice/dns/compare/{c1}...main")),
        "changes since last good: {home}"
    );
    assert!(home.contains("last run failed (exit 1)"), "{home}");
    // fw only ever failed: "last run failed", never "no successful run yet".
    assert!(home.contains("last run failed (exit 3)"), "{home}");
    assert!(!home.contains("no successful run"), "{home}");
    assert!(home.contains("Break it more"), "last run's subject: {home}");
    assert!(home.contains(&c4[..7]));
    // Failing first: both failing deploys come before the succeeding one (which sorts first
    // by name).
    let deploys = &home[home.find("id=\"deploys-h\"").unwrap()..];
    let at = |name: &str| {
        deploys
            .find(&format!(">{name}<"))
            .unwrap_or_else(|| panic!("deploy {name} is listed: {deploys}"))
    };
    assert!(
        at("fw") < at("apps") && at("dns") < at("apps"),
        "failing deploys first: {deploys}"
    );
    assert!(
        deploys.find("class=\"badge status-succeeded\"").unwrap() > at("dns").max(at("fw")),
        "{deploys}"
    );
    // Recent pushes, with a compare link for a branch update.
    assert!(
        home.contains("alice pushed <strong>main</strong>"),
        "{home}"
    );
    assert!(
        home.contains(&format!("/alice/dns/compare/{c1}...{c2}")),
        "{home}"
    );
    // Every repository with its visibility and deploy status.
    assert!(
        home.contains(">alice/notes<") && home.contains("never pushed"),
        "{home}"
    );
    assert!(home.contains("private"), "{home}");
    // Each pushed repository's line shows its head commit's statuses (here its deploy's, which
    // report on the commit they ran), linking to them.
    let repos = &home[home.find("class=\"list repos\"").unwrap()..];
    assert!(
        repos.contains(&format!(
            "class=\"mark mark-failure\" title=\"failure: deploy/dns: failure\" href=\"/alice/dns/commit/{c4}#statuses\""
        )),
        "{repos}"
    );
    assert!(repos.contains("href=\"/alice/apps/commit/"), "{repos}");

    // The summary shows the same badge.
    let (_, summary) = get_as(&app, Some(&alice), "/alice/dns").await;
    assert!(
        summary.contains("main is 3 commits ahead of the last good deploy"),
        "{summary}"
    );
    // A run links to the changes since the last good run before it.
    let (_, runs) = get_as(&app, Some(&alice), "/alice/dns/deploys").await;
    assert!(
        runs.contains(&format!("/alice/dns/compare/{c1}...{c4}")),
        "{runs}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_that_fixes_an_issue_says_so_and_the_dashboard_lists_it() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", false).await;
    let alice = browser(&app, "alice").await;
    let dns = app.workdir("dns");
    git_ok(&dns, &["init", "-q", "-b", "main"]).await;
    commit(&dns, "zone", "Add the home zone").await;
    app.push(&dns, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let (status, _, _) = post(
        &app,
        Some(&alice),
        "/alice/dns/issues/new",
        &[
            ("title", "Resolver down"),
            ("body", ""),
            ("action", "submit"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    commit(&dns, "zone", "Restart the resolver\n\nfixes #1").await;
    let url = app.url(Some(("alice", "alice-password")), "alice/dns");
    let out = git(&dns, &["push", &url, "main"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: closed #1 Resolver down"),
        "{}",
        stderr(&out)
    );
    let (_, home) = get_as(&app, Some(&alice), "/").await;
    assert!(
        home.contains("closed <a href=\"/alice/dns/issues/1\">#1 Resolver down</a>"),
        "{home}"
    );
    assert!(
        home.contains("opened <a href=\"/alice/dns/issues/1\">"),
        "{home}"
    );
    // The commit page links the issue in the message.
    let head = git_ok(&dns, &["rev-parse", "HEAD"]).await;
    let (_, page) = get(&app, &format!("/alice/dns/commit/{}", head.trim())).await;
    assert!(
        page.contains("<a href=\"/alice/dns/issues/1\">#1</a>"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repository_lists_sort_and_filter_on_the_server() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    for name in ["zeta", "alpha", "firewall"] {
        app.create_repo("alice", name, false).await;
    }
    let (_, html) = get(&app, "/alice?sort=name").await;
    let (a, f, z) = (
        html.find(">alice/alpha<").unwrap(),
        html.find(">alice/firewall<").unwrap(),
        html.find(">alice/zeta<").unwrap(),
    );
    assert!(a < f && f < z, "sorted by name: {html}");
    assert!(html.contains("public"), "{html}");
    let (_, html) = get(&app, "/alice?q=FIRE").await;
    assert!(html.contains(">alice/firewall<"), "{html}");
    assert!(!html.contains(">alice/zeta<") && !html.contains(">alice/alpha<"));
    assert!(
        html.contains("value=\"FIRE\""),
        "the box keeps the filter: {html}"
    );
    let (_, html) = get(&app, "/?q=%3Cb%3Enothing").await;
    assert!(
        html.contains("No repositories match “&#60;b&#62;nothing”."),
        "{html}"
    );
    // A filter far longer than any name costs nothing and matches nothing.
    let long = "a".repeat(10_000);
    let (status, _) = get(&app, &format!("/?q={long}")).await;
    assert!(status == 200 || status == 414 || status == 431, "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_switcher_and_file_history_links() {
    let app = TestApp::spawn().await;
    let src = sample_repo(&app, false).await;
    let first = git_ok(&src, &["rev-list", "--max-parents=0", "main"])
        .await
        .trim()
        .to_owned();

    let (status, html) = get(&app, "/alice/dns/compare/main...feature/split-zones").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("1 commit in"), "{html}");
    assert!(html.contains("Move the router"), "{html}");
    assert!(
        html.contains("router IN A 192.168.1.254"),
        "the diff: {html}"
    );
    let (_, back) = get(&app, "/alice/dns/compare/feature/split-zones...main").await;
    assert!(back.contains("has no commits that"), "{back}");
    let (_, tags) = get(&app, &format!("/alice/dns/compare/{}...v1", &first[..7])).await;
    assert!(
        tags.contains("Add named.conf") && tags.contains("named.conf"),
        "{tags}"
    );
    for bad in [
        "/alice/dns/compare/main..feature/split-zones",
        "/alice/dns/compare/main...nope",
        "/alice/dns/compare/main...main/README.md",
    ] {
        assert_eq!(get(&app, bad).await.0, 404, "{bad}");
    }
    let (_, branches) = get(&app, "/alice/dns/branches").await;
    assert!(
        branches.contains("/alice/dns/compare/main...feature/split-zones\">compare with main"),
        "{branches}"
    );

    // The switcher keeps the page and path.
    for (page, path) in [
        ("tree", "zones/home"),
        ("blob", "zones/home/db.home"),
        ("commits", "zones/home/db.home"),
        ("blame", "zones/home/db.home"),
    ] {
        let (status, html) = get(&app, &format!("/alice/dns/{page}/main/{path}")).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            html.contains("<details class=\"switcher\">"),
            "{page}: {html}"
        );
        for rev in ["feature/split-zones", "v1"] {
            assert!(
                html.contains(&format!("href=\"/alice/dns/{page}/{rev}/{path}\"")),
                "{page} → {rev}: {html}"
            );
        }
        let (status, _) = get(
            &app,
            &format!("/alice/dns/{page}/feature/split-zones/{path}"),
        )
        .await;
        assert_eq!(status, 200, "{page} on the other branch");
    }

    // File history: each commit links to the file and its blame at that commit.
    let (_, history) = get(&app, "/alice/dns/commits/main/zones/home/db.home").await;
    assert!(
        history.contains(&format!("/alice/dns/blob/{first}/zones/home/db.home"))
            && history.contains(&format!("/alice/dns/blame/{first}/zones/home/db.home")),
        "{history}"
    );
    assert!(
        history.contains("href=\"/alice/dns/commits/main/zones/home/db.home.atom\""),
        "{history}"
    );
    let (_, summary) = get(&app, "/alice/dns").await;
    assert!(summary.contains("2 branches · 1 tag"), "plurals: {summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn atom_feeds_and_private_feeds_need_a_read_token_over_basic() {
    let app = TestApp::spawn().await;
    sample_repo(&app, true).await;
    let token = app.create_token("alice", TokenScope::Read).await;
    let feed = |auth: Option<(&str, &str)>, path: &str| {
        let mut req = reqwest::Client::new().get(format!("{}{path}", app.base));
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    // Private: anonymous gets a challenge (a missing repository too: nothing leaks), and so do
    // `?token=`, a password and a wrong token.
    for (auth, path) in [
        (None, "/alice/dns/commits/main.atom".to_owned()),
        (None, "/alice/nothing/commits/main.atom".to_owned()),
        (None, format!("/alice/dns/deploys.atom?token={token}")),
        (
            Some(("alice", "alice-password")),
            "/alice/dns/deploys.atom".to_owned(),
        ),
        (
            Some(("alice", "lf_0000000000000000000000000000000000000000")),
            "/alice/dns/deploys.atom".to_owned(),
        ),
    ] {
        let res = feed(auth, &path).await.unwrap();
        assert_eq!(res.status(), 401, "{path} {auth:?}");
        assert!(res.headers().get("www-authenticate").is_some());
    }
    let res = feed(Some(("feeds", &token)), "/alice/dns/commits/main.atom")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let xml = res.text().await.unwrap();
    assert!(
        xml.starts_with("<?xml") && xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">")
    );
    assert_eq!(xml.matches("<entry>").count(), 2, "{xml}");
    assert!(xml.contains("<title>Add named.conf</title>"), "{xml}");
    let res = feed(Some(("feeds", &token)), "/alice/dns/deploys.atom")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("<title>alice/dns deploys</title>")
    );
    // The feed parses as XML with a real parser.
    let file = app.work.path().join("feed.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
