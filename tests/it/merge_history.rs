//! Histories with merges and renames: blame, path logs (with and without `?follow=1`) and the
//! tree page's last commits agree with git itself on a small history built here: a file
//! renamed as a whole, one renamed with an edit, one changed on both sides of a merge (and in
//! the merge itself), merges equal to one parent, a side branch holding the old name of a
//! renamed file. Read through the library directly (no server), with and without a
//! commit-graph with changed-path filters.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::eventually;
use labforge::git::RepoStore;
use labforge::git::read::{CommitId, ReadCache};
use labforge::model::TreePath;

/// `git ARGS` in `dir` at time `when` (fixed dates give merges a definite order); stdout.
fn git_at(dir: &Path, args: &[&str], when: u64) -> String {
    let date = format!("@{when} +0000");
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@lab.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@lab.test")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lines(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix} line {i}")).collect()
}

fn write(dir: &Path, name: &str, lines: &[String]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Replaces line `n` (1-based) of a file in the work tree.
fn edit(dir: &Path, name: &str, n: usize, text: &str) {
    let data = std::fs::read_to_string(dir.join(name)).unwrap();
    let mut all: Vec<String> = data.lines().map(str::to_owned).collect();
    all[n - 1] = text.to_owned();
    write(dir, name, &all);
}

/// The history; returns the bare repository's path inside `root/alice/m.git`.
fn build(root: &Path) -> std::path::PathBuf {
    let w = root.join("work");
    std::fs::create_dir_all(&w).unwrap();
    let mut t = 1_700_000_000;
    let mut at = |args: &[&str]| {
        t += 100;
        git_at(&w, args, t)
    };
    at(&["init", "-q", "-b", "main"]);
    write(&w, "a.txt", &lines("a", 12));
    write(&w, "both.txt", &lines("b", 12));
    write(&w, "inventory.yaml", &lines("host", 30));
    write(&w, "moved.txt", &lines("m", 8));
    write(&w, "side-only.txt", &lines("s", 6));
    write(&w, "frozen.txt", &lines("f", 3));
    at(&["add", "."]);
    at(&["commit", "-q", "-m", "start"]);
    edit(&w, "a.txt", 3, "a3 on main");
    edit(&w, "inventory.yaml", 9, "host 9 before the move");
    at(&["commit", "-q", "-am", "main: a3, host 9"]);
    at(&["checkout", "-q", "-b", "side"]);
    edit(&w, "both.txt", 2, "b2 on side");
    edit(&w, "side-only.txt", 4, "s4 on side");
    at(&["commit", "-q", "-am", "side: b2, s4"]);
    std::fs::create_dir_all(w.join("dir")).unwrap();
    at(&["mv", "moved.txt", "dir/moved.txt"]);
    edit(&w, "both.txt", 12, "b12 on side");
    at(&["commit", "-q", "-am", "side: move moved.txt, b12"]);
    at(&["checkout", "-q", "main"]);
    edit(&w, "both.txt", 10, "b10 on main");
    std::fs::create_dir_all(w.join("inventory")).unwrap();
    at(&["mv", "inventory.yaml", "inventory/hosts.yaml"]);
    edit(&w, "inventory/hosts.yaml", 5, "host 5 moved and changed");
    at(&[
        "commit",
        "-q",
        "-am",
        "main: b10, move the inventory with an edit",
    ]);
    // both.txt merges cleanly (b2, b12 from side, b10 from main) and the merge changes b6:
    // no parent has the merge's version.
    at(&["merge", "-q", "--no-ff", "--no-commit", "side"]);
    edit(&w, "both.txt", 6, "b6 in the merge");
    at(&["commit", "-q", "-am", "merge side"]);
    edit(&w, "inventory/hosts.yaml", 20, "host 20 after the move");
    edit(&w, "dir/moved.txt", 2, "m2 after the move");
    at(&["commit", "-q", "-am", "main: hosts 20, m2"]);
    // A side branch forked before a rename on main would still hold the old name; this one
    // forks after, and main changes other files meanwhile: the merge equals one parent per file.
    at(&["checkout", "-q", "-b", "side2"]);
    edit(&w, "inventory/hosts.yaml", 25, "host 25 on side2");
    at(&["commit", "-q", "-am", "side2: hosts 25"]);
    at(&["checkout", "-q", "main"]);
    edit(&w, "a.txt", 1, "a1 on main");
    at(&["commit", "-q", "-am", "main: a1"]);
    at(&["merge", "-q", "--no-ff", "-m", "merge side2", "side2"]);
    let bare = root.join("alice/m.git");
    at(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
    bare
}

/// Per line, the commit `git blame --porcelain` names.
fn git_blame(repo: &Path, path: &str) -> Vec<String> {
    git_at(repo, &["blame", "--porcelain", "main", "--", path], 0)
        .lines()
        .filter(|l| {
            l.len() > 41
                && l.as_bytes()[40] == b' '
                && l[..40].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|l| l[..40].to_owned())
        .collect()
}

fn git_log(repo: &Path, extra: &[&str], path: &str) -> Vec<String> {
    let mut args = vec!["log", "--format=%H"];
    args.extend(extra);
    args.extend(["main", "--", path]);
    git_at(repo, &args, 0).lines().map(str::to_owned).collect()
}

const FILES: [&str; 6] = [
    "a.txt",
    "both.txt",
    "inventory/hosts.yaml",
    "dir/moved.txt",
    "side-only.txt",
    "frozen.txt",
];

/// Everything compared, on the repository as it is (a fresh cache each time).
async fn compare_all(root: &Path, repo: &Path, round: &str) {
    let cache = Arc::new(ReadCache::default());
    let dir = RepoStore::new(root.to_path_buf())
        .dir_for_stored("alice", "m")
        .unwrap();
    let reader = cache.open(&dir).unwrap();
    let head = CommitId(git_at(repo, &["rev-parse", "main"], 0).trim().to_owned());
    for file in FILES {
        let path = TreePath::parse(file).unwrap();
        let blame = reader
            .blame(&head, &path, Duration::from_secs(60))
            .unwrap()
            .expect("a text file");
        assert!(blame.complete, "{round}: blame of {file} complete");
        let ours: Vec<String> = blame
            .origin
            .iter()
            .map(|o| blame.commits[o.unwrap()].id.0.clone())
            .collect();
        assert_eq!(ours, git_blame(repo, file), "{round}: blame of {file}");

        let (log, more) = reader.log(&head, &path, 0, 50).unwrap();
        let ids: Vec<String> = log.into_iter().map(|c| c.id.0).collect();
        assert_eq!(ids, git_log(repo, &[], file), "{round}: log of {file}");
        assert!(!more);
        let (log, more) = reader.log_following(&head, &path, 0, 50).unwrap();
        let ids: Vec<String> = log.into_iter().map(|c| c.id.0).collect();
        assert_eq!(
            ids,
            git_log(repo, &["--follow"], file),
            "{round}: log --follow of {file}"
        );
        assert!(!more);
    }
    // Pages of a followed log: two commits a page, all pages together are the whole log.
    let path = TreePath::parse("inventory/hosts.yaml").unwrap();
    let want = git_log(repo, &["--follow"], "inventory/hosts.yaml");
    assert!(want.len() > 4, "the inventory's log crosses its rename");
    let mut paged = Vec::new();
    for page in 0.. {
        let (log, more) = reader.log_following(&head, &path, page * 2, 2).unwrap();
        paged.extend(log.into_iter().map(|c| c.id.0));
        if !more {
            break;
        }
    }
    assert_eq!(paged, want, "{round}: paged log --follow");

    let names: Vec<String> = git_at(repo, &["ls-tree", "--name-only", "main"], 0)
        .lines()
        .map(str::to_owned)
        .collect();
    let root_path = TreePath::default();
    let found = eventually(30, "every root entry's last commit", || {
        let (reader, head, root_path, names) = (&reader, &head, &root_path, &names);
        async move {
            let (found, complete) = reader.last_commits(head, root_path, names).unwrap();
            complete.then_some(found)
        }
    })
    .await;
    for (name, commit) in found {
        let want = git_at(repo, &["log", "-1", "--format=%H", "main", "--", &name], 0);
        assert_eq!(
            commit.expect("complete").id.0,
            want.trim(),
            "{round}: last commit of {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blame_logs_and_last_commits_agree_with_git_through_merges_and_renames() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = build(tmp.path());
    // Sanity: the history has what the test is about.
    let merges = git_at(&repo, &["rev-list", "--merges", "main"], 0);
    assert_eq!(merges.lines().count(), 2);
    assert!(
        git_blame(&repo, "inventory/hosts.yaml")
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 2,
        "git follows the inventory's rename into its first commit"
    );
    compare_all(tmp.path(), &repo, "without a commit-graph").await;
    git_at(
        &repo,
        &["commit-graph", "write", "--reachable", "--changed-paths"],
        0,
    );
    let _ = std::fs::remove_dir_all(repo.join("labforge"));
    compare_all(tmp.path(), &repo, "with changed-path filters").await;
}

/// The web page: `/commits/main/PATH?follow=1` lists what `git log --follow` lists, across the
/// rename; without it, what `git log` lists (the new name only).
#[tokio::test(flavor = "multi_thread")]
async fn the_commits_page_follows_renames_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let built = build(tmp.path());
    let app = crate::helpers::TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "m", false).await;
    let target = app.server_repo("alice/m");
    std::fs::remove_dir_all(&target).unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&built)
        .arg(&target)
        .status()
        .unwrap();
    assert!(cp.success());
    let path = "inventory/hosts.yaml";
    for (query, extra) in [("?follow=1", &["--follow"][..]), ("", &[][..])] {
        let url = format!("/alice/m/commits/main/{path}{query}");
        let (status, html) = crate::web::get(&app, &url).await;
        assert_eq!(status, 200, "{url}");
        let shown: Vec<&str> = html
            .split("/alice/m/commit/")
            .skip(1)
            .map(|s| &s[..40])
            .step_by(2) // each row links its commit twice
            .collect();
        assert_eq!(shown, git_log(&target, extra, path), "{url}");
    }
    let followed = git_log(&target, &["--follow"], path).len();
    assert!(followed > git_log(&target, &[], path).len());
}
