//! The browsing pages: what they say, not only their status.

use crate::helpers::*;

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let res = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// alice/dns with a README, a nested folder, a branch with a slash, a tag and a binary file.
async fn sample_repo(app: &TestApp, private: bool) -> std::path::PathBuf {
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", private).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    std::fs::write(
        src.join("README.md"),
        "# Lab DNS\n\nZones for *home.arpa*.\n",
    )
    .unwrap();
    std::fs::create_dir_all(src.join("zones/home")).unwrap();
    std::fs::write(
        src.join("zones/home/db.home"),
        "$ORIGIN home.arpa.\nrouter IN A 192.168.1.1\n",
    )
    .unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "Initial zones"]).await;
    std::fs::write(
        src.join("named.conf"),
        "options { directory \"/var/named\"; };\n",
    )
    .unwrap();
    std::fs::write(src.join("logo.bin"), [0u8, 1, 2, 3, 255]).unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "Add named.conf"]).await;
    git_ok(&src, &["tag", "v1"]).await;
    git_ok(&src, &["checkout", "-q", "-b", "feature/split-zones"]).await;
    std::fs::write(
        src.join("zones/home/db.home"),
        "$ORIGIN home.arpa.\nrouter IN A 192.168.1.254\n",
    )
    .unwrap();
    git_ok(&src, &["commit", "-q", "-am", "Move the router"]).await;
    git_ok(&src, &["checkout", "-q", "main"]).await;
    let url = app.url(Some(("alice", "alice-password")), "alice/dns");
    git_ok(
        &src,
        &["push", "-q", &url, "main", "v1", "feature/split-zones"],
    )
    .await;
    src
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_renders_the_readme_listing_and_clone_urls() {
    let app = TestApp::spawn().await;
    sample_repo(&app, false).await;
    let (status, html) = get(&app, "/alice/dns").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<h1>Lab DNS</h1>"),
        "README heading rendered as HTML:\n{html}"
    );
    assert!(html.contains("<em>home.arpa</em>"));
    assert!(
        html.contains(&format!("{}/alice/dns.git", app.base)),
        "HTTP clone URL"
    );
    assert!(
        html.contains(&format!(
            "ssh://git@127.0.0.1:{}/alice/dns.git",
            app.ssh_port
        )),
        "SSH clone URL"
    );
    assert!(
        html.contains(">named.conf</a>") && html.contains(">zones/</a>"),
        "root listing"
    );
    assert!(html.contains("2 branches · 1 tags"), "{html}");
    // The front page and the user page list it.
    assert!(get(&app, "/").await.1.contains("alice/dns"));
    assert!(get(&app, "/alice").await.1.contains("alice/dns"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_repository_says_how_to_push() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "empty", false).await;
    let (status, html) = get(&app, "/alice/empty").await;
    assert_eq!(status, 200);
    assert!(html.contains("This repository is empty"));
    assert!(html.contains("git push -u origin main"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tree_lists_entries_with_their_last_commit() {
    let app = TestApp::spawn().await;
    sample_repo(&app, false).await;
    let (status, html) = get(&app, "/alice/dns/tree/main").await;
    assert_eq!(status, 200);
    // named.conf was last changed by the second commit, zones/ by the first.
    let row = |name: &str| {
        html.lines()
            .skip_while(|l| !l.contains(&format!(">{name}")))
            .take(3)
            .collect::<String>()
    };
    assert!(
        row("named.conf").contains("Add named.conf"),
        "{}",
        row("named.conf")
    );
    assert!(row("zones/").contains("Initial zones"), "{}", row("zones/"));
    let (_, html) = get(&app, "/alice/dns/tree/main/zones/home").await;
    assert!(
        html.contains(">db.home</a>") && html.contains("Initial zones"),
        "{html}"
    );
    // A branch whose name has a slash resolves (the longest existing ref wins).
    let (status, html) = get(&app, "/alice/dns/tree/feature/split-zones/zones/home").await;
    assert_eq!(status, 200);
    assert!(html.contains("Move the router"), "{html}");
    // Tags and commit ids work too.
    assert_eq!(get(&app, "/alice/dns/tree/v1").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn blob_shows_lines_with_anchors_and_raw_is_exact() {
    let app = TestApp::spawn().await;
    let src = sample_repo(&app, false).await;
    let (status, html) = get(&app, "/alice/dns/blob/main/zones/home/db.home").await;
    assert_eq!(status, 200);
    assert!(html.contains("router IN A 192.168.1.1"), "{html}");
    assert!(html.contains("id=\"L2\""), "line anchors");
    let (_, html) = get(
        &app,
        "/alice/dns/blob/feature/split-zones/zones/home/db.home",
    )
    .await;
    assert!(html.contains("192.168.1.254"));
    let (_, html) = get(&app, "/alice/dns/blob/main/logo.bin").await;
    assert!(html.contains("This is a binary file."), "{html}");

    for (path, git_path) in [
        ("zones/home/db.home", "main:zones/home/db.home"),
        ("logo.bin", "main:logo.bin"),
    ] {
        let res = reqwest::get(format!("{}/alice/dns/raw/main/{path}", app.base))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("sandbox")
        );
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = res.bytes().await.unwrap();
        let want = git(&src, &["show", git_path]).await.stdout;
        assert_eq!(
            bytes.as_ref(),
            want.as_slice(),
            "raw {path} equals git show byte for byte"
        );
        if path == "logo.bin" {
            assert_eq!(content_type, "application/octet-stream");
        } else {
            assert_eq!(content_type, "text/plain; charset=utf-8");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commits_pages_show_history_for_refs_and_paths() {
    let app = TestApp::spawn().await;
    sample_repo(&app, false).await;
    let (status, html) = get(&app, "/alice/dns/commits/main").await;
    assert_eq!(status, 200);
    assert!(html.contains("Add named.conf") && html.contains("Initial zones"));
    let (_, html) = get(&app, "/alice/dns/commits/main/zones").await;
    assert!(
        html.contains("Initial zones") && !html.contains("Add named.conf"),
        "{html}"
    );
    let (_, html) = get(&app, "/alice/dns/branches").await;
    assert!(html.contains(">feature/split-zones</a>") && html.contains(">main</a>"));
    let (_, html) = get(&app, "/alice/dns/tags").await;
    assert!(html.contains(">v1</a>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_pages_by_fifty() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "long", false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    for i in 0..60 {
        git_ok(
            &src,
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                &format!("change number {i:02}"),
            ],
        )
        .await;
    }
    git_ok(
        &src,
        &[
            "push",
            "-q",
            &app.url(Some(("alice", "alice-password")), "alice/long"),
            "main",
        ],
    )
    .await;
    let (_, first) = get(&app, "/alice/long/commits/main").await;
    let (_, second) = get(&app, "/alice/long/commits/main?page=2").await;
    assert_eq!(first.matches("change number").count(), 50);
    assert_eq!(second.matches("change number").count(), 10);
    assert!(first.contains("change number 59") && second.contains("change number 00"));
    assert!(first.contains("?page=2") && !second.contains("?page=3"));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_things_and_private_repositories_are_real_404s() {
    let app = TestApp::spawn().await;
    sample_repo(&app, true).await;
    for path in [
        "/alice/dns",
        "/alice/dns/tree/main",
        "/alice/dns/blob/main/named.conf",
        "/alice/dns/raw/main/named.conf",
        "/alice/dns/commits/main",
        "/alice/dns/branches",
        "/alice/dns/tags",
        "/alice/nothing",
        "/nobody",
        "/alice/dns/tree/no-such-branch",
    ] {
        let (status, body) = get(&app, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            body.contains("There is nothing at this address."),
            "{path}: a 404 page"
        );
        assert!(
            !body.contains("named.conf") && !body.contains("Lab DNS"),
            "{path} leaked content"
        );
    }
    assert!(
        !get(&app, "/").await.1.contains("alice/dns"),
        "the private repo is not listed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_refs_and_paths_are_404s() {
    let app = TestApp::spawn().await;
    sample_repo(&app, false).await;
    for path in [
        "/alice/dns/tree/main/no/such/dir",
        "/alice/dns/blob/main/zones",
        "/alice/dns/tree/main/named.conf",
        "/alice/dns/blob/main/../../etc/passwd",
        "/alice/dns/commits/main/missing-file",
        "/alice/dns/tree/deadbeef",
    ] {
        assert_eq!(get(&app, path).await.0, 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_readmes_and_file_names_render_inert() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "evil", false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    std::fs::write(
        src.join("README.md"),
        "# Hi\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n\
         <svg onload=alert(1)><circle/></svg>\n\n<a href=\"jAvAsCrIpT:alert(1)\">x</a>\n",
    )
    .unwrap();
    std::fs::write(src.join("<script>alert(1)<"), "x").unwrap();
    std::fs::write(src.join("\" onmouseover=\"alert(1)"), "y").unwrap();
    std::fs::write(
        src.join("pic.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
    )
    .unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(
        &src,
        &["commit", "-q", "-m", "<b onmouseover=alert(1)>subject</b>"],
    )
    .await;
    git_ok(
        &src,
        &[
            "push",
            "-q",
            &app.url(Some(("alice", "alice-password")), "alice/evil"),
            "main",
        ],
    )
    .await;
    for path in [
        "/alice/evil",
        "/alice/evil/tree/main",
        "/alice/evil/commits/main",
        "/alice/evil/blob/main/pic.svg",
    ] {
        let (status, html) = get(&app, path).await;
        assert_eq!(status, 200, "{path}");
        let lower = html.to_lowercase();
        // Escaped text may spell these out; a live tag or attribute needs a raw `<` or `"`.
        for bad in [
            "<script",
            "href=\"javascript:",
            "onerror=",
            "onload=\"",
            "<svg",
            "onmouseover=\"",
            "<b onmouseover",
        ] {
            assert!(!lower.contains(bad), "{path}: `{bad}` survived:\n{html}");
        }
    }
    // SVG is never served as an image: as text, sniffing off, sandboxed.
    let res = reqwest::get(format!("{}/alice/evil/raw/main/pic.svg", app.base))
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
}
