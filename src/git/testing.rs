//! For unit tests of this room: the real `git` on a scratch repository, isolated from the
//! machine's and the user's configuration.

use std::path::Path;

/// Runs `git ARGS` in `dir` as a fixed author; panics unless it succeeds; its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@lab.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@lab.test")
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout)
        .expect("git's answer is UTF-8 here")
        .trim()
        .to_owned()
}
