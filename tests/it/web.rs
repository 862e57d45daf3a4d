//! The browsing pages: what they say, not only their status.

use crate::helpers::*;

/// Markdown that tries to run script every way the web UI issue listed; shared by every page
/// that renders user text.
pub(crate) const HOSTILE_MARKDOWN: &str = "# Hi\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n\
     <svg onload=alert(1)><circle/></svg>\n\n<a href=\"jAvAsCrIpT:alert(1)\">x</a>\n";

/// What must not appear in a page's lower-cased HTML after rendering hostile text. Escaped text
/// may spell these out; a live tag or attribute needs a raw `<` or `"`.
pub(crate) const HOSTILE_MARKERS: [&str; 7] = [
    "<script",
    "href=\"javascript:",
    "onerror=",
    "onload=\"",
    "<svg",
    "onmouseover=\"",
    "<b onmouseover",
];

/// The listing row of entry `name` (its link, last-commit subject and age).
fn entry_row(html: &str, name: &str) -> String {
    html.lines()
        .skip_while(|l| !l.contains(&format!(">{name}")))
        .take(3)
        .collect()
}

pub(crate) async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let res = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// alice/dns with a README, a nested folder, a branch with a slash, a tag and a binary file.
pub(crate) async fn sample_repo(app: &TestApp, private: bool) -> std::path::PathBuf {
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
        html.contains("<h1 id=\"user-content-lab-dns\">Lab DNS<a"),
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
    assert!(html.contains("2 branches · 1 tag ·"), "{html}");
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
    let row = |name: &str| entry_row(&html, name);
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
    app.push(&src, ("alice", "alice-password"), "alice/long", &["main"])
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
        "/alice/dns/archive/main.tar.gz",
        "/alice/dns/archive/main.zip",
        "/alice/dns/commit/main",
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
        // Signed out, the page offers to sign in and come back to the address asked for.
        let shown = body.replace(&format!("/login?next={path}"), "/login");
        assert!(
            !shown.contains("named.conf") && !shown.contains("Lab DNS"),
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
        "/alice/dns/commit/deadbeef",
        "/alice/dns/commit/zzzz",
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
    std::fs::write(src.join("README.md"), HOSTILE_MARKDOWN).unwrap();
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
    app.push(&src, ("alice", "alice-password"), "alice/evil", &["main"])
        .await;
    for path in [
        "/alice/evil",
        "/alice/evil/tree/main",
        "/alice/evil/commits/main",
        "/alice/evil/blob/main/pic.svg",
    ] {
        let (status, html) = get(&app, path).await;
        assert_eq!(status, 200, "{path}");
        // The one script tag pages may carry is the summary's own copy button.
        let lower = html
            .replace("<script src=\"/-/static/copy.js\" defer></script>", "")
            .to_lowercase();
        for bad in HOSTILE_MARKERS {
            assert!(!lower.contains(bad), "{path}: `{bad}` survived:\n{html}");
        }
    }
    // SVG is never served as an image: as text, sniffing off, sandboxed.
    let res = reqwest::get(format!("{}/alice/evil/raw/main/pic.svg", app.base))
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_commit_page_shows_the_diff_and_the_patch_applies() {
    let app = TestApp::spawn().await;
    let src = sample_repo(&app, false).await;
    let head = git_ok(&src, &["rev-parse", "feature/split-zones"])
        .await
        .trim()
        .to_owned();
    let parent = git_ok(&src, &["rev-parse", "feature/split-zones~1"])
        .await
        .trim()
        .to_owned();
    let (status, html) = get(&app, &format!("/alice/dns/commit/{head}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Move the router"));
    assert!(html.contains(&parent), "parent listed");
    assert!(html.contains("zones/home/db.home"));
    assert!(
        html.contains("+1</span> <span class=\"del\">−1</span>"),
        "counts:\n{html}"
    );
    assert!(
        html.contains("<span class=\"del\">-router IN A 192.168.1.1</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"add\">+router IN A 192.168.1.254</span>"),
        "{html}"
    );
    // Abbreviated ids work; the root commit diffs against nothing.
    assert_eq!(
        get(&app, &format!("/alice/dns/commit/{}", &head[..8]))
            .await
            .0,
        200
    );
    let root = git_ok(&src, &["rev-list", "--max-parents=0", "main"])
        .await
        .trim()
        .to_owned();
    let (_, html) = get(&app, &format!("/alice/dns/commit/{root}")).await;
    assert!(html.contains("README.md") && html.contains("added"));

    // The patch applies to the parent with git itself.
    let patch = reqwest::get(format!("{}/alice/dns/commit/{head}.patch", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let check = app.workdir("check");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(None, "alice/dns"),
            check.to_str().unwrap(),
        ],
    )
    .await;
    git_ok(&check, &["checkout", "-q", &parent]).await;
    std::fs::write(app.work.path().join("p.patch"), &patch).unwrap();
    git_ok(
        &check,
        &[
            "apply",
            "--check",
            app.work.path().join("p.patch").to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        patch.starts_with(&format!("From {head} "))
            && patch.contains("Subject: [PATCH] Move the router")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_diff_is_cut_with_a_notice() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "big", false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    let lines: String = (0..30_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(src.join("a.txt"), &lines).unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "big"]).await;
    app.push(&src, ("alice", "alice-password"), "alice/big", &["main"])
        .await;
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned();
    let (status, html) = get(&app, &format!("/alice/big/commit/{head}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("This diff is too large to show whole here."),
        "notice"
    );
    assert!(
        html.contains(&format!("/alice/big/commit/{head}.patch")),
        "link to the patch"
    );
    assert!(!html.contains("line 29999"), "not rendered");
    let patch = reqwest::get(format!("{}/alice/big/commit/{head}.patch", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(patch.contains("+line 29999\n"), "the patch is whole");
}

#[tokio::test(flavor = "multi_thread")]
async fn archives_match_git_archive() {
    let app = TestApp::spawn().await;
    let src = sample_repo(&app, false).await;
    for (rev, ext) in [
        ("main", "tar.gz"),
        ("feature/split-zones", "zip"),
        ("v1", "tar.gz"),
    ] {
        let res = reqwest::get(format!("{}/alice/dns/archive/{rev}.{ext}", app.base))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{rev}.{ext}");
        let bytes = res.bytes().await.unwrap();
        let file = app.work.path().join(format!("a.{ext}"));
        std::fs::write(&file, &bytes).unwrap();
        // Compare the listing and contents with git's own archive of the same commit.
        let want = app.work.path().join(format!("want.{ext}"));
        let prefix = format!("dns-{}/", rev.replace('/', "-"));
        git_ok(
            &src,
            &[
                "archive",
                &format!("--prefix={prefix}"),
                "-o",
                want.to_str().unwrap(),
                rev,
            ],
        )
        .await;
        let list = |f: &std::path::Path| {
            let out = if ext == "zip" {
                std::process::Command::new("python3").args(["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print('\\n'.join(f'{i.filename} {z.read(i).hex()}' for i in z.infolist()))"]).arg(f).output()
            } else {
                std::process::Command::new("tar")
                    .args(["-xzOf"])
                    .arg(f)
                    .output()
            };
            out.unwrap().stdout
        };
        assert_eq!(list(&file), list(&want), "{rev}.{ext} contents");
    }
    assert_eq!(get(&app, "/alice/dns/archive/main.rar").await.0, 404);
    assert_eq!(get(&app, "/alice/dns/archive/nope.zip").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn blame_attributes_each_line_and_never_gives_up() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "fw", false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    let commit = |text: &'static str, msg: &'static str| {
        let src = src.clone();
        async move {
            std::fs::write(src.join("rules.nft"), text).unwrap();
            git_ok(&src, &["add", "."]).await;
            git_ok(&src, &["commit", "-q", "-m", msg]).await;
            git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned()
        }
    };
    let a = commit("allow ssh\nallow http\ndeny all\n", "first rules").await;
    let b = commit("allow ssh\nallow https\ndeny all\n", "https only").await;
    let c = commit("allow ssh\nallow https\ndeny all\nlog drops\n", "log drops").await;
    app.push(&src, ("alice", "alice-password"), "alice/fw", &["main"])
        .await;

    let (status, html) = get(&app, "/alice/fw/blame/main/rules.nft").await;
    assert_eq!(status, 200);
    // Each line's row links the commit that wrote it; git blame agrees.
    let porcelain = git_ok(&src, &["blame", "--porcelain", "main", "--", "rules.nft"]).await;
    let want: Vec<&str> = porcelain
        .lines()
        .filter(|l| {
            l.len() > 40
                && l.as_bytes()[40] == b' '
                && l[..40].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|l| &l[..40])
        .collect();
    assert_eq!(want, vec![a.as_str(), b.as_str(), a.as_str(), c.as_str()]);
    let rows: Vec<&str> = html.split("<tr id=\"L").skip(1).collect();
    assert_eq!(rows.len(), 4);
    for (row, sha) in rows.iter().zip(&want) {
        assert!(
            row.contains(&format!("/alice/fw/commit/{sha}")),
            "row {row} should name {sha}"
        );
    }
    assert!(!html.contains("still being traced"));

    // Asked not to wait at all, a blame not traced before answers with what it has so far
    // (every line it names is right) and goes on in the background until complete.
    let repo = app.grant("alice/fw").await;
    let at_b = |wait| {
        let (repo, b) = (repo.clone(), b.clone());
        let forge = std::sync::Arc::clone(&app.forge);
        async move {
            forge
                .read_repo(&repo, move |r| {
                    r.blame(
                        &labforge::git::read::CommitId(b.clone()),
                        &labforge::model::TreePath::parse("rules.nft").unwrap(),
                        wait,
                    )
                })
                .await
                .unwrap()
                .unwrap()
        }
    };
    let want = [a.as_str(), b.as_str(), a.as_str()];
    let first = at_b(std::time::Duration::ZERO).await;
    for (origin, sha) in first.origin.iter().zip(want) {
        if let Some(i) = origin {
            assert_eq!(first.commits[*i].id.0, sha);
        }
    }
    eventually(30, "the blame to complete in the background", || async {
        let blame = at_b(std::time::Duration::ZERO).await;
        blame.complete.then_some(())
    })
    .await;
}

/// The `huge` repository from ../shared/bench/mkrepo.py: a 50 MiB blob, a 10 MiB one-line file,
/// a 100,000-line diff. Every page answers quickly with a notice instead of rendering it all.
#[tokio::test(flavor = "multi_thread")]
async fn huge_inputs_answer_quickly_with_a_notice() {
    let app = TestApp::spawn().await;
    app.create_user("bench", "bench-password").await;
    app.create_repo("bench", "huge", false).await;
    let mkrepo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/mkrepo.py");
    let built = app.work.path().join("huge.git");
    let out = tokio::process::Command::new("python3")
        .arg(&mkrepo)
        .arg("huge")
        .arg(&built)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "mkrepo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = app.server_repo("bench/huge");
    std::fs::remove_dir_all(&target).unwrap();
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(&built)
        .arg(&target)
        .status()
        .unwrap();
    assert!(cp.success());
    let head = git_ok(&target, &["rev-parse", "main"])
        .await
        .trim()
        .to_owned();

    let pages: Vec<(String, Option<&str>)> = vec![
        ("/bench/huge".into(), None),
        ("/bench/huge/tree/main/blobs".into(), None),
        (
            "/bench/huge/blob/main/blobs/fifty-mib.txt".into(),
            Some("too large to show"),
        ),
        (
            "/bench/huge/blob/main/blobs/one-line.json".into(),
            Some("too large to show"),
        ),
        (
            "/bench/huge/blob/main/blobs/random.bin".into(),
            Some("This is a binary file."),
        ),
        (
            "/bench/huge/blob/main/src/big.conf".into(),
            Some("too large to show"),
        ),
        (
            format!("/bench/huge/commit/{head}"),
            Some("too large to show whole here"),
        ),
        (
            "/bench/huge/blame/main/src/big.conf".into(),
            Some("too large or binary to blame"),
        ),
        ("/bench/huge/commits/main".into(), None),
    ];
    for (path, notice) in pages {
        let started = std::time::Instant::now();
        let (status, html) = get(&app, &path).await;
        let took = started.elapsed();
        assert_eq!(status, 200, "{path}");
        if let Some(n) = notice {
            assert!(html.contains(n), "{path} says `{n}`");
        }
        assert!(
            html.len() < 2 * 1024 * 1024,
            "{path} stays small: {} bytes",
            html.len()
        );
        assert!(
            took < std::time::Duration::from_secs(2),
            "{path} took {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn last_commits_are_computed_after_a_push_and_kept_across_restarts() {
    let mut app = TestApp::spawn().await;
    sample_repo(&app, false).await;
    let cache = app.server_repo("alice/dns").join("labforge/cache");
    eventually_true(30, "the push to warm the front page's last commits", || {
        std::fs::read_dir(&cache).is_ok_and(|d| d.count() > 0)
    })
    .await;
    app.restart().await;
    let (_, html) = get(&app, "/alice/dns").await;
    let row = |name: &str| entry_row(&html, name);
    assert!(
        row("named.conf").contains("Add named.conf"),
        "{}",
        row("named.conf")
    );
    assert!(row("zones/").contains("Initial zones"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_readme_is_shown_as_escaped_text() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "plain", false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    std::fs::write(src.join("README"), "Plain <b>text</b> readme\n").unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "readme"]).await;
    app.push(&src, ("alice", "alice-password"), "alice/plain", &["main"])
        .await;
    let (_, html) = get(&app, "/alice/plain").await;
    assert!(
        html.contains("<pre>Plain &lt;b&gt;text&lt;/b&gt; readme\n</pre>")
            || html.contains("<pre>Plain &#60;b&#62;text&#60;/b&#62; readme\n</pre>"),
        "{html}"
    );
}
