//! Long histories: the tree page's last commits, blame and path logs agree with git itself
//! (`git log -1 -- PATH`, `git blame --porcelain`, `git log -- PATH`) on a history of the
//! `long` fixture's shape, with version 1 and version 2 changed-path filters, without a
//! commit-graph and with a damaged one; answers are kept across a restart and a push.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::helpers::*;
use crate::history_fixture::{long_shaped_repo, write_commit_graph};
use crate::web::get;
use labforge::git::read::CommitId;
use labforge::model::{RepoPath, TreePath};

/// Commits in the test history: long enough that every walk crosses thousands of commits
/// whose filters rule the path out, short enough for a debug build.
const COMMITS: usize = 1500;

/// The entries of a tree page with the commit each row links (None: not shown yet).
fn tree_rows(html: &str, repo: &str) -> Vec<(String, Option<String>)> {
    html.split("<tr>")
        .skip(1)
        .filter_map(|row| {
            let link = row.find(&format!("href=\"/{repo}/"))?;
            let rest = &row[link..];
            let name_start = rest.find("\">")? + 2;
            let name_end = rest[name_start..].find("</a>")? + name_start;
            let name = rest[name_start..name_end].trim_end_matches('/').to_owned();
            let commit = row
                .split(&format!("/{repo}/commit/"))
                .nth(1)
                .map(|c| c[..40].to_owned());
            Some((name, commit))
        })
        .collect()
}

/// The tree page once every entry shows its last commit (the page says when some are missing).
async fn complete_tree(app: &TestApp, repo: &str, folder: &str) -> Vec<(String, Option<String>)> {
    let url = format!("/{repo}/tree/main/{folder}");
    eventually(120, &format!("{url} to show every last commit"), || async {
        let (status, html) = get(app, &url).await;
        assert_eq!(status, 200, "{url}");
        (!html.contains("being looked up")).then(|| tree_rows(&html, repo))
    })
    .await
}

/// `git log -1 --format=%H main -- PATH` for each entry of `folder`.
async fn git_last_commits(repo: &Path, folder: &str) -> HashMap<String, String> {
    let listing = git_ok(
        repo,
        &["ls-tree", "-z", "--name-only", &format!("main:{folder}")],
    )
    .await;
    let mut out = HashMap::new();
    for name in listing.split('\0').filter(|n| !n.is_empty()) {
        let path = if folder.is_empty() {
            name.to_owned()
        } else {
            format!("{folder}/{name}")
        };
        let id = git_ok(repo, &["log", "-1", "--format=%H", "main", "--", &path]).await;
        out.insert(name.to_owned(), id.trim().to_owned());
    }
    out
}

/// `git log --format=%H main [-- PATH]`.
async fn git_log(repo: &Path, path: &str) -> Vec<String> {
    let mut args = vec!["log", "--format=%H", "main"];
    if !path.is_empty() {
        args.extend(["--", path]);
    }
    git_ok(repo, &args)
        .await
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Per line, the commit `git blame --porcelain` names.
async fn git_blame(repo: &Path, rev: &str, path: &str) -> Vec<String> {
    let porcelain = git_ok(repo, &["blame", "--porcelain", rev, "--", path]).await;
    porcelain
        .lines()
        .filter(|l| {
            l.len() > 41
                && l.as_bytes()[40] == b' '
                && l[..40].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|l| l[..40].to_owned())
        .collect()
}

async fn readable(app: &TestApp, repo: &str) -> labforge::domain::Grant<labforge::domain::Read> {
    app.forge
        .authorize(None, &RepoPath::parse(repo).unwrap())
        .await
        .unwrap()
}

/// labforge's blame of `path` at `rev`, waited for until complete: per line, the commit.
async fn our_blame(app: &TestApp, repo: &str, rev: &str, path: &str) -> Vec<String> {
    let r = readable(app, repo).await;
    let rev = git_ok(&app.server_repo(repo), &["rev-parse", rev]).await;
    let (rev, path) = (rev.trim().to_owned(), path.to_owned());
    let blame = app
        .forge
        .read_repo(&r, move |reader| {
            reader.blame(
                &CommitId(rev.clone()),
                &TreePath::parse(&path).unwrap(),
                Duration::from_secs(120),
            )
        })
        .await
        .unwrap()
        .expect("a text file");
    assert!(blame.complete);
    blame
        .origin
        .iter()
        .map(|o| blame.commits[o.expect("complete")].id.0.clone())
        .collect()
}

/// labforge's blame of `path` at `rev` as known right now (no wait): per line, the commit if
/// traced yet, and whether every line is.
async fn our_blame_now(
    app: &TestApp,
    repo: &str,
    rev: &str,
    path: &str,
) -> (Vec<Option<String>>, bool) {
    let r = readable(app, repo).await;
    let rev = git_ok(&app.server_repo(repo), &["rev-parse", rev]).await;
    let (rev, path) = (rev.trim().to_owned(), path.to_owned());
    let blame = app
        .forge
        .read_repo(&r, move |reader| {
            reader.blame(
                &CommitId(rev.clone()),
                &TreePath::parse(&path).unwrap(),
                Duration::ZERO,
            )
        })
        .await
        .unwrap()
        .expect("a text file");
    let lines = blame
        .origin
        .iter()
        .map(|o| o.map(|i| blame.commits[i].id.0.clone()))
        .collect();
    (lines, blame.complete)
}

/// labforge's log of `path` at main: the ids of page `page` (50 a page) and whether more follow.
async fn our_log(app: &TestApp, repo: &str, path: &str, page: usize) -> (Vec<String>, bool) {
    let r = readable(app, repo).await;
    let head = git_ok(&app.server_repo(repo), &["rev-parse", "main"]).await;
    let path = path.to_owned();
    let (commits, more) = app
        .forge
        .read_repo(&r, move |reader| {
            reader.log(
                &CommitId(head.trim().to_owned()),
                &TreePath::parse(&path).unwrap(),
                (page - 1) * 50,
                50,
            )
        })
        .await
        .unwrap();
    (commits.into_iter().map(|c| c.id.0).collect(), more)
}

/// A copy of `built` served as `alice/NAME`, with the commit-graph `graph` makes.
async fn serve_copy(app: &TestApp, built: &Path, name: &str, graph: impl Fn(&Path)) {
    app.create_repo("alice", name, false).await;
    let target = app.server_repo(&format!("alice/{name}"));
    std::fs::remove_dir_all(&target).unwrap();
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(built)
        .arg(&target)
        .status()
        .unwrap();
    assert!(cp.success());
    graph(&target);
}

const FOLDERS: [&str; 4] = ["", "hosts", "ansible/roles/base/tasks", "dns/zones"];

#[tokio::test(flavor = "multi_thread")]
async fn last_commits_match_git_log_for_every_entry() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let built = app.work.path().join("long.git");
    long_shaped_repo(&built, COMMITS);
    let mut expected = HashMap::new();
    for folder in FOLDERS {
        expected.insert(folder, git_last_commits(&built, folder).await);
    }
    serve_copy(&app, &built, "filters-v1", |r| write_commit_graph(r, 1)).await;
    serve_copy(&app, &built, "filters-v2", |r| write_commit_graph(r, 2)).await;
    serve_copy(&app, &built, "no-graph", |_| {}).await;
    serve_copy(&app, &built, "damaged-graph", |r| {
        write_commit_graph(r, 2);
        let file = r.join("objects/info/commit-graph");
        let len = std::fs::metadata(&file).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(len / 2).unwrap();
    })
    .await;
    for name in ["filters-v1", "filters-v2", "no-graph", "damaged-graph"] {
        let repo = format!("alice/{name}");
        for folder in FOLDERS {
            let rows = complete_tree(&app, &repo, folder).await;
            let want = &expected[folder];
            assert_eq!(rows.len(), want.len(), "{repo}/{folder}: {rows:?}");
            for (entry, commit) in rows {
                assert_eq!(
                    commit.as_deref(),
                    Some(want[&entry].as_str()),
                    "{repo}: last commit of {folder}/{entry}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blame_matches_git_blame_on_the_hot_files() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let built = app.work.path().join("long.git");
    long_shaped_repo(&built, COMMITS);
    serve_copy(&app, &built, "long", |r| write_commit_graph(r, 1)).await;
    // Asked without waiting, the page shows the lines traced so far, each already as git
    // blames it, until every line is.
    let want = git_blame(&built, "main", "inventory.yaml").await;
    eventually(120, "blame of inventory.yaml to complete", || {
        let (app, want) = (&app, &want);
        async move {
            let (lines, complete) =
                our_blame_now(app, "alice/long", "main", "inventory.yaml").await;
            assert_eq!(lines.len(), want.len());
            for (i, (ours, git)) in lines.iter().zip(want).enumerate() {
                if let Some(ours) = ours {
                    assert_eq!(ours, git, "inventory.yaml line {}", i + 1);
                }
            }
            assert_eq!(complete, lines.iter().all(Option::is_some));
            complete.then_some(())
        }
    })
    .await;
    for path in [
        "Makefile",
        "inventory.yaml",
        "README.md",
        "café",
        "dns/zones/müh",
    ] {
        let want = git_blame(&built, "main", path).await;
        assert!(!want.is_empty(), "{path}");
        assert_eq!(
            our_blame(&app, "alice/long", "main", path).await,
            want,
            "blame of {path}"
        );
    }
    // A submodule has nothing to blame; the page says so.
    let (status, html) = get(&app, "/alice/long/blame/main/vendor-module").await;
    assert_eq!(status, 200);
    assert!(html.contains("too large or binary to blame"), "{html}");
    // The page shows it whole, each run of lines linked to its commit, at once: it is kept.
    let (status, html) = get(&app, "/alice/long/blame/main/Makefile").await;
    assert_eq!(status, 200);
    assert!(!html.contains("still being traced"), "{html}");
    let want = git_blame(&built, "main", "Makefile").await;
    let rows: Vec<&str> = html.split("<tr id=\"L").skip(1).collect();
    assert_eq!(rows.len(), want.len());
    let mut previous = "";
    for (row, sha) in rows.iter().zip(&want) {
        if sha != previous {
            assert!(row.contains(&format!("/alice/long/commit/{sha}")), "{row}");
        }
        previous = sha;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn path_logs_match_git_log() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let built = app.work.path().join("long.git");
    long_shaped_repo(&built, COMMITS);
    serve_copy(&app, &built, "long", |r| write_commit_graph(r, 2)).await;
    serve_copy(&app, &built, "plain", |_| {}).await;
    let some_task = git_ok(
        &built,
        &["ls-tree", "--name-only", "main:ansible/roles/base/tasks"],
    )
    .await;
    let some_task = format!(
        "ansible/roles/base/tasks/{}",
        some_task.lines().next().unwrap()
    );
    for path in [
        "Makefile",
        "hosts",
        "café",
        "dns/zones",
        some_task.as_str(),
        "",
    ] {
        let want = git_log(&built, path).await;
        for repo in ["alice/long", "alice/plain"] {
            for page in [1, 2] {
                let (ids, more) = our_log(&app, repo, path, page).await;
                let from = ((page - 1) * 50).min(want.len());
                let to = (page * 50).min(want.len());
                assert_eq!(ids, want[from..to], "{repo} log of {path:?}, page {page}");
                assert_eq!(more, want.len() > to, "{repo} {path:?} page {page}");
            }
        }
    }
    // The page itself: the first fifty changes of Makefile, newest first, and a link to more.
    let (status, html) = get(&app, "/alice/long/commits/main/Makefile").await;
    assert_eq!(status, 200);
    let want = git_ok(
        &built,
        &["log", "-50", "--format=%H", "main", "--", "Makefile"],
    )
    .await;
    let shown: Vec<&str> = html
        .split("/alice/long/commit/")
        .skip(1)
        .map(|s| &s[..40])
        .step_by(2) // each row links its commit twice
        .collect();
    assert_eq!(shown, want.lines().collect::<Vec<_>>());
    assert!(html.contains("?page=2"));
}

/// Sets the dates of the next commit, so merges have a definite order.
async fn commit_at(dir: &Path, args: &[&str], when: u64) {
    let date = format!("@{when} +0000");
    let out = git_env(
        dir,
        args,
        &[("GIT_AUTHOR_DATE", &date), ("GIT_COMMITTER_DATE", &date)],
    )
    .await;
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn merges_follow_gits_history_simplification() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "merges", false).await;
    let src = app.workdir("src");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    let write = |name: &str, text: &str| std::fs::write(src.join(name), text).unwrap();
    std::fs::create_dir_all(src.join("dir")).unwrap();
    for f in [
        "theirs.txt",
        "ours.txt",
        "evil.txt",
        "dir/x.conf",
        "same.txt",
    ] {
        write(f, "start\n");
    }
    // Changed on both sides in different places: the merge takes one line from each.
    write("mixed.txt", "a\nb\nc\nd\n");
    git_ok(&src, &["add", "."]).await;
    commit_at(&src, &["commit", "-q", "-m", "start"], 1_700_000_000).await;
    git_ok(&src, &["checkout", "-q", "-b", "side"]).await;
    write("theirs.txt", "side\n");
    write("ours.txt", "side\n");
    write("evil.txt", "side\n");
    write("same.txt", "both\n");
    write("mixed.txt", "a from side\nb\nc\nd\n");
    git_ok(&src, &["add", "."]).await;
    // The side branch's commit is the newest of all (before the merge).
    commit_at(&src, &["commit", "-q", "-m", "side work"], 1_700_000_300).await;
    git_ok(&src, &["checkout", "-q", "main"]).await;
    write("ours.txt", "main\n");
    write("evil.txt", "main\n");
    write("same.txt", "both\n");
    write("dir/x.conf", "main\n");
    write("mixed.txt", "a\nb\nc\nd from main\n");
    git_ok(&src, &["add", "."]).await;
    commit_at(&src, &["commit", "-q", "-m", "main work"], 1_700_000_100).await;
    let merge = git(&src, &["merge", "-q", "--no-commit", "side"]).await;
    assert!(!merge.status.success(), "ours.txt and evil.txt conflict");
    write("ours.txt", "main\n"); // resolved to main's side
    write("evil.txt", "neither\n"); // resolved to something new
    git_ok(&src, &["add", "."]).await;
    commit_at(&src, &["commit", "-q", "-m", "merge side"], 1_700_000_400).await;
    write("after.txt", "after\n");
    git_ok(&src, &["add", "after.txt"]).await;
    commit_at(
        &src,
        &["commit", "-q", "-m", "after the merge"],
        1_700_000_500,
    )
    .await;
    app.push(&src, ("alice", "alice-password"), "alice/merges", &["main"])
        .await;
    let server = app.server_repo("alice/merges");
    // Once right after the push (upkeep may not have written the commit-graph yet), once
    // with the commit-graph written.
    for round in ["after the push", "with the commit-graph"] {
        if round == "with the commit-graph" {
            eventually_true(60, "upkeep to write the commit-graph", || {
                server.join("objects/info/commit-graph").exists()
            })
            .await;
            // A new commit, so the pages are computed afresh with the graph.
            write("dir/x.conf", "later\n");
            commit_at(&src, &["commit", "-q", "-am", "later"], 1_700_000_600).await;
            app.push(&src, ("alice", "alice-password"), "alice/merges", &["main"])
                .await;
        }
        for folder in ["", "dir"] {
            let want = git_last_commits(&server, folder).await;
            let rows = complete_tree(&app, "alice/merges", folder).await;
            assert_eq!(rows.len(), want.len());
            for (entry, commit) in rows {
                assert_eq!(commit.unwrap(), want[&entry], "{round}: {folder}/{entry}");
            }
        }
        for path in ["theirs.txt", "ours.txt", "evil.txt", "same.txt", "dir", ""] {
            let want = git_log(&server, path).await;
            let (ids, _) = our_log(&app, "alice/merges", path, 1).await;
            assert_eq!(ids, want, "{round}: log of {path:?}");
        }
        // git gives a merge's lines to the parent they came from (so does the walk, through
        // every parent of a merge that changed the file).
        for path in [
            "theirs.txt",
            "ours.txt",
            "evil.txt",
            "same.txt",
            "mixed.txt",
            "dir/x.conf",
        ] {
            let want = git_blame(&server, "main", path).await;
            let ours = our_blame(&app, "alice/merges", "main", path).await;
            assert_eq!(ours, want, "{round}: blame of {path}");
        }
    }
}

/// The kept answers of a served repository, by file name.
fn kept(repo: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join("labforge/cache"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_kept_across_a_restart_and_a_push_keeps_what_is_still_true() {
    let mut app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "long", false).await;
    let built = app.work.path().join("long.git");
    long_shaped_repo(&built, COMMITS);
    let src = app.workdir("src");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            built.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
    )
    .await;
    app.push(&src, ("alice", "alice-password"), "alice/long", &["main"])
        .await;
    let server = app.server_repo("alice/long");
    eventually_true(
        120,
        "upkeep's commit-graph and the warmed root folder",
        || {
            server.join("objects/info/commit-graph").exists()
                && kept(&server).iter().any(|n| n.starts_with("tree-"))
        },
    )
    .await;
    complete_tree(&app, "alice/long", "hosts").await;
    our_blame(&app, "alice/long", "main", "Makefile").await;
    our_blame(&app, "alice/long", "main", "README.md").await;
    let before = kept(&server);
    assert!(before.iter().filter(|n| n.starts_with("blame-")).count() >= 2);

    app.restart().await;
    // Complete at the first request after the restart: nothing is walked again.
    for url in [
        "/alice/long/tree/main/",
        "/alice/long/tree/main/hosts",
        "/alice/long/blame/main/Makefile",
    ] {
        let (status, html) = get(&app, url).await;
        assert_eq!(status, 200);
        assert!(
            !html.contains("being looked up") && !html.contains("still being traced"),
            "{url} after a restart"
        );
    }

    // A push of one commit touching Makefile and one file in hosts/.
    let host_file = git_ok(&src, &["ls-tree", "--name-only", "main:hosts"]).await;
    let host_file = format!("hosts/{}", host_file.lines().next().unwrap());
    let mut makefile = std::fs::read_to_string(src.join("Makefile")).unwrap();
    makefile.insert_str(0, "deploy: all\n");
    std::fs::write(src.join("Makefile"), makefile).unwrap();
    std::fs::write(src.join(&host_file), "changed\n").unwrap();
    commit_at(
        &src,
        &["commit", "-q", "-am", "After the restart"],
        1_900_000_000,
    )
    .await;
    app.push(&src, ("alice", "alice-password"), "alice/long", &["main"])
        .await;
    // What was kept is still there (keyed by commit, all still true) and the new answers agree
    // with git.
    let after = kept(&server);
    assert!(
        before.iter().all(|n| after.contains(n)),
        "{before:?} ⊄ {after:?}"
    );
    for folder in ["", "hosts"] {
        let want = git_last_commits(&server, folder).await;
        for (entry, commit) in complete_tree(&app, "alice/long", folder).await {
            assert_eq!(
                commit.unwrap(),
                want[&entry],
                "{folder}/{entry} after the push"
            );
        }
    }
    // README.md was not touched: its kept blame serves the new head at once.
    let (_, html) = get(&app, "/alice/long/blame/main/README.md").await;
    assert!(!html.contains("still being traced"));
    assert_eq!(
        our_blame(&app, "alice/long", "main", "Makefile").await,
        git_blame(&server, "main", "Makefile").await
    );
}
