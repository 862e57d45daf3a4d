//! Git over smart HTTP with the real `git` client.

use labforge::model::TokenScope;

use crate::helpers::*;

async fn alice_with_repo(app: &TestApp, private: bool) {
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", private).await;
}

/// `git for-each-ref` of a repository, as the comparable truth about its refs.
async fn refs(dir: &std::path::Path) -> String {
    git_ok(dir, &["for-each-ref", "--format=%(refname) %(objectname)"]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn push_then_clone_with_protocol_v0_v1_and_v2_gives_identical_refs() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let src = app.workdir("src");
    local_repo(&src, 3).await;
    git_ok(&src, &["tag", "v1"]).await;
    git_ok(&src, &["branch", "feature/x"]).await;
    let url = app.url(Some(("alice", "alice-password")), "alice/dns");
    git_ok(
        &src,
        &[
            "-c",
            "protocol.version=0",
            "push",
            "-q",
            &url,
            "main",
            "v1",
            "feature/x",
        ],
    )
    .await;

    for version in ["0", "1", "2"] {
        let dest = app.workdir(&format!("clone-v{version}"));
        let anon = app.url(None, "alice/dns");
        let out = git_env(
            app.work.path(),
            &[
                "-c",
                &format!("protocol.version={version}"),
                "clone",
                "-q",
                "--mirror",
                &anon,
                dest.to_str().unwrap(),
            ],
            &[("GIT_TRACE_PACKET", "1")],
        )
        .await;
        assert!(out.status.success(), "clone v{version}: {}", stderr(&out));
        // The trace shows which protocol was really spoken.
        let spoke_v2 = stderr(&out).contains("git< version 2");
        assert_eq!(spoke_v2, version == "2", "protocol v{version} negotiated");
        assert_eq!(
            stderr(&out).contains("git< version 1"),
            version == "1",
            "protocol v{version} negotiated"
        );
        assert_eq!(refs(&dest).await, refs(&src).await, "v{version} refs");
    }
    let server_refs = refs(&app.server_repo("alice/dns")).await;
    assert!(server_refs.contains("refs/tags/v1"));
    assert!(server_refs.contains("refs/heads/feature/x"));
}

#[tokio::test(flavor = "multi_thread")]
async fn shallow_and_blobless_clones() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let src = app.workdir("src");
    local_repo(&src, 5).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let url = app.url(None, "alice/dns");

    let shallow = app.workdir("shallow");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            shallow.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        git_ok(&shallow, &["rev-list", "--count", "HEAD"])
            .await
            .trim(),
        "1"
    );
    assert_eq!(
        git_ok(&shallow, &["rev-parse", "--is-shallow-repository"])
            .await
            .trim(),
        "true"
    );

    let blobless = app.workdir("blobless");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            "--no-checkout",
            "--filter=blob:none",
            &url,
            blobless.to_str().unwrap(),
        ],
    )
    .await;
    let missing = git_ok(
        &blobless,
        &["rev-list", "--objects", "--all", "--missing=print"],
    )
    .await;
    let missing_blobs = missing.lines().filter(|l| l.starts_with('?')).count();
    assert_eq!(
        missing_blobs, 5,
        "all five blobs are left on the server:\n{missing}"
    );
    // Checking out fetches the blobs it needs on demand, from the same server.
    git_ok(&blobless, &["checkout", "-q", "main"]).await;
    assert_eq!(
        std::fs::read_to_string(blobless.join("file4.txt")).unwrap(),
        "content 4\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_work_as_passwords_and_read_tokens_cannot_push() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, true).await;
    let write = app.create_token("alice", TokenScope::Write).await;
    let read = app.create_token("alice", TokenScope::Read).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    // The user name does not matter with a token, as on GitHub and Gitea.
    app.push(&src, ("x-token", &write), "alice/dns", &["main"])
        .await;

    let clone = app.workdir("clone");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(Some(("alice", &read)), "alice/dns"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    std::fs::write(clone.join("new.txt"), "x").unwrap();
    git_ok(&clone, &["add", "."]).await;
    git_ok(&clone, &["commit", "-q", "-m", "more"]).await;
    let out = git(&clone, &["push", "-q", "origin", "main"]).await;
    assert!(!out.status.success(), "a read token pushed");
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));

    let before = refs(&app.server_repo("alice/dns")).await;
    let bogus = format!("lf_{}", "0".repeat(40));
    let out = git(
        &clone,
        &[
            "push",
            "-q",
            &app.url(Some(("alice", &bogus)), "alice/dns"),
            "main",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert_eq!(refs(&app.server_repo("alice/dns")).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    let out = git(
        &src,
        &[
            "push",
            &app.url(Some(("alice", "wrong-password")), "alice/dns"),
            "main",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Authentication failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        refs(&app.server_repo("alice/dns")).await,
        "",
        "no ref was written"
    );
    let objects = git_ok(&app.server_repo("alice/dns"), &["count-objects", "-v"]).await;
    assert!(
        objects.contains("count: 0") && objects.contains("in-pack: 0"),
        "{objects}"
    );
    // Unknown users fail the same way.
    let out = git(
        &src,
        &[
            "push",
            &app.url(Some(("mallory", "whatever1")), "alice/dns"),
            "main",
        ],
    )
    .await;
    assert!(
        stderr(&out).contains("Authentication failed"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_can_clone_but_not_push() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, true).await;
    app.create_user("bob", "bob-password").await;
    app.add_collaborator("alice/dns", "bob", "read").await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let before = refs(&app.server_repo("alice/dns")).await;

    let bob_url = app.url(Some(("bob", "bob-password")), "alice/dns");
    let clone = app.workdir("bob");
    git_ok(
        app.work.path(),
        &["clone", "-q", &bob_url, clone.to_str().unwrap()],
    )
    .await;
    std::fs::write(clone.join("evil.txt"), "x").unwrap();
    git_ok(&clone, &["add", "."]).await;
    git_ok(&clone, &["commit", "-q", "-m", "sneaky"]).await;
    let out = git(&clone, &["push", "origin", "main"]).await;
    assert!(!out.status.success(), "a reader pushed");
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
    assert_eq!(refs(&app.server_repo("alice/dns")).await, before);

    // A writer can.
    app.add_collaborator("alice/dns", "bob", "write").await;
    git_ok(&clone, &["push", "-q", "origin", "main"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn private_repos_are_invisible_to_anonymous_and_outsiders() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, true).await;
    app.create_user("carol", "carol-password").await;
    let client = reqwest::Client::new();
    let info_refs =
        |repo: &str| format!("{}/{repo}.git/info/refs?service=git-upload-pack", app.base);

    // Anonymous: the same 401 challenge for a private and a missing repository.
    for repo in ["alice/dns", "alice/missing"] {
        let res = client.get(info_refs(repo)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{repo}");
        assert_eq!(
            res.headers()["www-authenticate"],
            "Basic realm=\"labforge\""
        );
        assert_eq!(res.text().await.unwrap(), "authentication required\n");
    }
    // Signed in without access: the same 404 for private and missing.
    for repo in ["alice/dns", "alice/missing"] {
        let res = client
            .get(info_refs(repo))
            .basic_auth("carol", Some("carol-password"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{repo}");
        assert_eq!(res.text().await.unwrap(), "repository not found\n");
    }
    // The owner sees it.
    let res = client
        .get(info_refs("alice/dns"))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/x-git-upload-pack-advertisement"
    );

    // And the real client fails for the outsider without learning anything.
    let out = git(
        app.work.path(),
        &[
            "clone",
            &app.url(Some(("carol", "carol-password")), "alice/dns"),
            "c",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn push_to_create_makes_a_private_repository_for_its_owner_only() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(
        &src,
        ("alice", "alice-password"),
        "alice/firewall",
        &["main"],
    )
    .await;
    assert!(app.server_repo("alice/firewall").join("HEAD").exists());
    let head = git_ok(&app.server_repo("alice/firewall"), &["rev-parse", "main"]).await;
    assert_eq!(head, git_ok(&src, &["rev-parse", "main"]).await);
    // Private: anonymous readers are challenged.
    let res = reqwest::get(format!(
        "{}/alice/firewall.git/info/refs?service=git-upload-pack",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 401);

    // Bob cannot create repositories in Alice's namespace.
    let out = git(
        &src,
        &[
            "push",
            &app.url(Some(("bob", "bob-password")), "alice/other"),
            "main",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(!app.server_repo("alice/other").exists());

    // Off by configuration: refused, nothing created.
    let off = TestApp::spawn_with(&[("LABFORGE_PUSH_TO_CREATE", "false")]).await;
    off.create_user("alice", "alice-password").await;
    let out = git(
        &src,
        &[
            "push",
            &off.url(Some(("alice", "alice-password")), "alice/firewall"),
            "main",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(!off.server_repo("alice/firewall").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_20_mb_push_round_trips() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    // Incompressible, so the pack really is about 20 MB on the wire.
    let mut big = vec![0u8; 20 * 1024 * 1024];
    getrandom::fill(&mut big).unwrap();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "big"]).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;

    let clone = app.workdir("clone");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(None, "alice/dns"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        std::fs::read(clone.join("big.bin")).unwrap() == big,
        "the clone has the same 20 MB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_pushes_to_one_branch_one_wins_and_the_repo_stays_sound() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let url = app.url(Some(("alice", "alice-password")), "alice/dns");
    let base = app.workdir("base");
    local_repo(&base, 1).await;
    git_ok(&base, &["push", "-q", &url, "main"]).await;

    let mut dirs = Vec::new();
    for who in ["one", "two"] {
        let dir = app.workdir(who);
        git_ok(
            app.work.path(),
            &["clone", "-q", &url, dir.to_str().unwrap()],
        )
        .await;
        std::fs::write(dir.join(format!("{who}.txt")), who).unwrap();
        git_ok(&dir, &["add", "."]).await;
        git_ok(&dir, &["commit", "-q", "-m", who]).await;
        dirs.push(dir);
    }
    let (a, b) = tokio::join!(
        git(&dirs[0], &["push", "origin", "main"]),
        git(&dirs[1], &["push", "origin", "main"])
    );
    let wins = [a.status.success(), b.status.success()];
    assert_eq!(
        wins.iter().filter(|w| **w).count(),
        1,
        "exactly one push wins: {wins:?}"
    );
    let loser = if wins[0] { &b } else { &a };
    let why = stderr(loser);
    assert!(
        why.contains("rejected")
            || why.contains("failed to update ref")
            || why.contains("fetch first"),
        "{why}"
    );
    let winner = if wins[0] { &dirs[0] } else { &dirs[1] };
    assert_eq!(
        git_ok(&app.server_repo("alice/dns"), &["rev-parse", "main"]).await,
        git_ok(winner, &["rev-parse", "main"]).await
    );
    git_ok(
        &app.server_repo("alice/dns"),
        &["fsck", "--strict", "--no-progress"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_users_repositories_and_history() {
    let mut app = TestApp::spawn().await;
    alice_with_repo(&app, true).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;

    app.restart().await;

    let clone = app.workdir("clone");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(Some(("alice", &token)), "alice/dns"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        git_ok(&clone, &["rev-parse", "HEAD"]).await,
        git_ok(&src, &["rev-parse", "HEAD"]).await
    );
    let res = reqwest::get(format!(
        "{}/alice/dns.git/info/refs?service=git-upload-pack",
        app.base
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 401, "still private after the restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_are_followed_by_a_repack_with_bitmap_and_commit_graph() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let src = app.workdir("src");
    local_repo(&src, 3).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    let repo = app.server_repo("alice/dns");
    let done = || {
        let packs: Vec<_> = std::fs::read_dir(repo.join("objects/pack"))
            .unwrap()
            .flatten()
            .collect();
        let bitmap = packs
            .iter()
            .any(|e| e.path().extension().is_some_and(|x| x == "bitmap"));
        let graph = repo.join("objects/info/commit-graph").exists()
            || repo.join("objects/info/commit-graphs").exists();
        bitmap && graph
    };
    // Upkeep runs in the background right after the push (delay 0 here); wait for it, bounded.
    eventually_true(60, "a bitmap and a commit-graph", done).await;
    git_ok(&repo, &["fsck", "--no-progress"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_request_bodies_are_understood() {
    use std::io::Write;
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, ("alice", "alice-password"), "alice/dns", &["main"])
        .await;
    // A protocol v2 ls-refs request, sent plain and gzip-encoded.
    let request = b"0014command=ls-refs\n00010009peel\n0000";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(request).unwrap();
    let gzipped = gz.finish().unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/alice/dns.git/git-upload-pack", app.base);
    let mut bodies = Vec::new();
    for (body, encoding) in [(request.to_vec(), None), (gzipped, Some("gzip"))] {
        let mut req = client
            .post(&url)
            .header("content-type", "application/x-git-upload-pack-request")
            .header("git-protocol", "version=2")
            .body(body);
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        bodies.push(res.text().await.unwrap());
    }
    let head = git_ok(&src, &["rev-parse", "main"]).await;
    assert!(
        bodies[0].contains(&format!("{} refs/heads/main", head.trim())),
        "{}",
        bodies[0]
    );
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_are_refused_before_touching_the_disk() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let client = reqwest::Client::new();
    for path in [
        "%2e%2e/x.git",
        "alice/%2e%2e.git",
        "-x/repo.git",
        "alice/-x.git",
        "alice/x.git.git",
        "alice/a%00b.git",
        "alice/a%0ab.git",
        "alice/.git",
    ] {
        let url = format!("{}/{path}/info/refs?service=git-receive-pack", app.base);
        let res = client
            .get(&url)
            .basic_auth("alice", Some("alice-password"))
            .send()
            .await
            .unwrap();
        assert!(
            res.status() == 400 || res.status() == 404,
            "{path}: {}",
            res.status()
        );
    }
    let entries: Vec<_> = std::fs::read_dir(app.data.path().join("repos"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != ".staging")
        .collect();
    assert!(entries.is_empty(), "nothing was created: {entries:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn atomic_pushes_and_push_options() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let url = app.url(Some(("alice", "alice-password")), "alice/dns");
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    git_ok(&src, &["branch", "other"]).await;
    git_ok(&src, &["push", "-q", &url, "main", "other"]).await;
    // Rewrite `other` so pushing it is not a fast-forward, and advance main.
    git_ok(&src, &["checkout", "-q", "-B", "other", "main~1"]).await;
    git_ok(&src, &["commit", "-q", "--allow-empty", "-m", "diverged"]).await;
    git_ok(&src, &["checkout", "-q", "main"]).await;
    git_ok(&src, &["commit", "-q", "--allow-empty", "-m", "ahead"]).await;
    let server = app.server_repo("alice/dns");
    let before = refs(&server).await;
    let out = git(&src, &["push", "--atomic", &url, "main", "other"]).await;
    assert!(
        !out.status.success(),
        "a non-fast-forward in an atomic push fails it whole"
    );
    assert_eq!(
        refs(&server).await,
        before,
        "atomic: main did not move either"
    );
    // Push options are advertised and accepted.
    let out = git(
        &src,
        &["push", "-o", "ci.skip", "-o", "note=hello", &url, "main"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        git_ok(&server, &["rev-parse", "main"]).await,
        git_ok(&src, &["rev-parse", "main"]).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v2_request_for_receive_pack_still_gets_the_v0_service_line() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, false).await;
    let res = reqwest::Client::new()
        .get(format!(
            "{}/alice/dns.git/info/refs?service=git-receive-pack",
            app.base
        ))
        .header("git-protocol", "version=2")
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.starts_with("001f# service=git-receive-pack\n0000"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_tokens_are_refused() {
    let app = TestApp::spawn().await;
    alice_with_repo(&app, true).await;
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let alice = labforge::model::Username::parse("alice").unwrap();
    let expired = app
        .forge
        .create_token(&alice, "old", TokenScope::Read, Some(past))
        .await
        .unwrap()
        .0;
    let res = reqwest::Client::new()
        .get(format!(
            "{}/alice/dns.git/info/refs?service=git-upload-pack",
            app.base
        ))
        .basic_auth("alice", Some(&expired))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.text().await.unwrap(), "authentication failed\n");
}
