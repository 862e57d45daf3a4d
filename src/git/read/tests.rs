use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

use crate::git::testing::git;

/// A repository with branches `main`, `a`, `a/b/c`, `release/1.0` and tag `v1`, one file
/// `a/b/file`; made once for every case.
fn reader() -> Reader {
    static REPO: OnceLock<(tempfile::TempDir, Arc<ReadCache>)> = OnceLock::new();
    let (dir, cache) = REPO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        git(p, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(p.join("a/b")).unwrap();
        std::fs::write(p.join("a/b/file"), "x\n").unwrap();
        git(p, &["add", "."]);
        git(p, &["commit", "-q", "-m", "one"]);
        for branch in ["a", "release/1.0"] {
            git(p, &["branch", branch]);
        }
        git(p, &["tag", "v1"]);
        git(p, &["branch", "-D", "a"]);
        git(p, &["branch", "a/b/c"]);
        git(p, &["branch", "ab"]);
        (dir, Arc::default())
    });
    cache
        .open(&super::super::RepoDir(dir.path().join(".git")))
        .unwrap()
}

#[test]
fn the_longest_ref_wins_and_the_rest_is_the_path() {
    let r = reader();
    let at = r.resolve("a/b/c/a/b/file").unwrap().unwrap();
    assert_eq!((at.rev.as_str(), at.path.as_str()), ("a/b/c", "a/b/file"));
    let at = r.resolve("release/1.0/a").unwrap().unwrap();
    assert_eq!((at.rev.as_str(), at.path.as_str()), ("release/1.0", "a"));
    let at = r.resolve("v1").unwrap().unwrap();
    assert!(at.path.is_root());
    assert!(
        r.resolve("a/b").unwrap().is_none(),
        "a/b is neither a ref nor in one"
    );
    assert!(r.resolve("").unwrap().is_none());
}

#[test]
fn thousands_of_segments_resolve_at_once() {
    let r = reader();
    for rest in ["a/".repeat(4_000), format!("main/{}", "a/".repeat(4_000))] {
        let started = std::time::Instant::now();
        let _ = r.resolve(&rest).unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
}

/// A repository with one commit of `file` (content `text`) on `main`, read through `cache`.
fn one_commit(text: &str, cache: &Arc<ReadCache>) -> (tempfile::TempDir, Reader) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    git(p, &["init", "-q", "-b", "main"]);
    std::fs::write(p.join("file"), text).unwrap();
    git(p, &["add", "."]);
    git(p, &["commit", "-q", "-m", "one"]);
    let reader = cache.open(&super::super::RepoDir(p.join(".git"))).unwrap();
    (dir, reader)
}

#[test]
fn an_annotated_tag_names_the_commit_it_tags() {
    let (dir, r) = one_commit("x\n", &Arc::default());
    git(dir.path(), &["tag", "-a", "-m", "release", "v2"]);
    let head = git(dir.path(), &["rev-parse", "main"]);
    let at = r.resolve("v2/file").unwrap().unwrap();
    assert_eq!(at.commit.0, head.trim());
    assert_eq!(at.path.as_str(), "file");
    assert!(r.read_blob(&at.commit, &at.path, 100).unwrap().is_some());
}

#[test]
fn a_remembered_file_is_never_read_through_another_repository() {
    let cache: Arc<ReadCache> = Arc::default();
    let (_a_dir, a) = one_commit("in a\n", &cache);
    let (_b_dir, b) = one_commit("in b, another commit\n", &cache);
    let at = a.resolve("main/file").unwrap().unwrap();
    let blob = a.read_blob(&at.commit, &at.path, 100).unwrap().unwrap();
    assert_eq!(blob.data, b"in a\n");
    // Remembered now; b has no such commit, and must not answer with a's file.
    assert!(a.read_blob(&at.commit, &at.path, 100).unwrap().is_some());
    assert!(!matches!(
        b.read_blob(&at.commit, &at.path, 100),
        Ok(Some(_))
    ));
    let mine = b.resolve("main/file").unwrap().unwrap();
    let blob = b.read_blob(&mine.commit, &mine.path, 100).unwrap().unwrap();
    assert_eq!(blob.data, b"in b, another commit\n");
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    /// What resolves names a ref made of the URL's first segments (or a commit id), and
    /// the rest of the URL, as a valid path; nothing else, and quickly.
    #[test]
    fn resolution_takes_a_prefix_of_the_url_as_the_ref(
        rest in "(main|a|ab|a/b/c|release/1.0|release|v1|[0-9a-f]{4,8})(/[a-z.0-9]{0,4}){0,6}|\\PC{0,80}",
    ) {
        let r = reader();
        let limit = Duration::from_millis(500);
        let resolved = crate::fuzz::within(limit, "resolve", || r.resolve(&rest)).unwrap();
        if let Some(at) = resolved {
            let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
            let n = at.rev.split('/').count();
            prop_assert_eq!(segments[..n].join("/"), at.rev.clone());
            prop_assert_eq!(segments[n..].join("/"), at.path.as_str());
        }
    }
}
