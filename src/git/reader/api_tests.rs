//! Unit tests of `reader::api`: the caps of its walks, `.gitmodules`.
use super::super::super::testing::git;
use super::*;

#[test]
fn gitmodules_sections_are_matched_by_path() {
    let text = "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://git.lab/lib.git\n\
                [submodule \"x\"]\n\tpath = x\n\turl = \"ssh://h/x\"\n";
    assert_eq!(
        gitmodules_url(text, "vendor/lib").as_deref(),
        Some("https://git.lab/lib.git")
    );
    assert_eq!(gitmodules_url(text, "x").as_deref(), Some("ssh://h/x"));
    assert_eq!(gitmodules_url(text, "lib"), None);
}

/// A tree with more entries than the cap is listed up to the cap and said to be cut; the
/// refs are listed up to theirs the same way.
#[test]
fn walks_stop_at_their_caps() {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    for d in ["a", "b"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
        for f in 0..3 {
            std::fs::write(tmp.path().join(d).join(format!("f{f}")), d).unwrap();
        }
    }
    git(tmp.path(), &["add", "."]);
    git(tmp.path(), &["commit", "-q", "-m", "files"]);
    for t in ["t1", "t2", "t3"] {
        git(tmp.path(), &["tag", t]);
    }
    let cache = Arc::new(super::super::super::read::ReadCache::default());
    let dir = super::super::super::RepoDir(tmp.path().join(".git"));
    let reader = cache.open(&dir).unwrap();

    let all = reader.git_tree("main", true, 100).unwrap().unwrap();
    assert!(!all.cut);
    let paths: Vec<&str> = all.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["a", "a/f0", "a/f1", "a/f2", "b", "b/f0", "b/f1", "b/f2"]
    );
    assert_eq!(all.entries[0].mode, "040000");
    assert_eq!(all.entries[1].mode, "100644");
    assert_eq!(all.entries[1].size, 1);

    let cut = reader.git_tree("main", true, 5).unwrap().unwrap();
    assert!(cut.cut);
    assert_eq!(cut.entries.len(), 5);
    let flat = reader.git_tree("main", false, 100).unwrap().unwrap();
    assert_eq!(flat.entries.len(), 2);

    let (tags, more) = reader.list_refs("refs/tags/", 2).unwrap();
    assert!(more);
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0].name, "refs/tags/t1");
    let (tags, more) = reader.list_refs("refs/tags/", 3).unwrap();
    assert!(!more && tags.len() == 3);

    let Contents::Dir { entries, cut } = reader
        .contents(
            &CommitId(git(tmp.path(), &["rev-parse", "HEAD"])),
            &TreePath::parse("a").unwrap(),
            10,
            2,
        )
        .unwrap()
        .unwrap()
    else {
        panic!("a folder");
    };
    assert!(cut);
    assert_eq!(entries.len(), 2);
}

/// The API's commit count stops at its cap and says more follow.
#[test]
fn commit_counts_stop_at_their_cap() {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    for i in 0..3 {
        std::fs::write(tmp.path().join("f"), i.to_string()).unwrap();
        git(tmp.path(), &["add", "."]);
        git(tmp.path(), &["commit", "-q", "-m", "c"]);
    }
    let head = CommitId(git(tmp.path(), &["rev-parse", "HEAD"]));
    let cache = Arc::new(super::super::super::read::ReadCache::default());
    let reader = cache
        .open(&super::super::super::RepoDir(tmp.path().join(".git")))
        .unwrap();
    let root = TreePath::default();
    assert_eq!(reader.log_count(&head, &root, 2).unwrap(), (2, true));
    assert_eq!(reader.log_count(&head, &root, 3).unwrap(), (3, false));
    let file = TreePath::parse("f").unwrap();
    assert_eq!(reader.log_count(&head, &file, 10).unwrap(), (3, false));
    assert_eq!(reader.log_count(&head, &file, 1).unwrap(), (1, true));
}

/// `git` in `dir` with the committer's (and tagger's) date set.
fn git_at(dir: &std::path::Path, date: &str, args: &[&str]) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@lab.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@lab.test")
        .env("GIT_COMMITTER_DATE", date)
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}");
}

/// Tags newest first as `git for-each-ref --sort=-*creatordate` (Gitea's order): an annotated
/// tag by its tagger's date, a lightweight one by its commit's; equal dates by name.
#[test]
fn tags_and_branches_are_listed_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    git_at(
        tmp.path(),
        "2026-01-01T00:00:00Z",
        &["commit", "-q", "--allow-empty", "-m", "old"],
    );
    git_at(tmp.path(), "2026-01-01T00:00:00Z", &["tag", "b-light-old"]);
    git_at(tmp.path(), "2026-01-01T00:00:00Z", &["tag", "a-light-old"]);
    git_at(
        tmp.path(),
        "2026-03-01T00:00:00Z",
        &["tag", "-a", "z-annotated-new", "-m", "n"],
    );
    git_at(
        tmp.path(),
        "2026-02-01T00:00:00Z",
        &["commit", "-q", "--allow-empty", "-m", "mid"],
    );
    git_at(tmp.path(), "2026-02-01T00:00:00Z", &["tag", "m-light-mid"]);
    let cache = Arc::new(super::super::super::read::ReadCache::default());
    let reader = cache
        .open(&super::super::super::RepoDir(tmp.path().join(".git")))
        .unwrap();
    let (tags, more) = reader.tags_by_date(10).unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "refs/tags/z-annotated-new",
            "refs/tags/m-light-mid",
            "refs/tags/a-light-old",
            "refs/tags/b-light-old"
        ]
    );
    assert!(!more);
    git_at(
        tmp.path(),
        "2026-01-01T00:00:00Z",
        &["branch", "old", "HEAD~1"],
    );
    git_at(
        tmp.path(),
        "2026-01-01T00:00:00Z",
        &["branch", "a-old", "HEAD~1"],
    );
    let (branches, _) = reader.branches_by_date(10).unwrap();
    let names: Vec<&str> = branches.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["refs/heads/main", "refs/heads/a-old", "refs/heads/old"]
    );
    let (first, more) = reader.tags_by_date(2).unwrap();
    assert!(more && first.len() == 2, "the cap holds before dating");
}
