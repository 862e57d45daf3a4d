//! What a pusher learns of a failed deploy. `-o deploy=gate` runs the deploy in pre-receive on
//! the quarantined objects: a failure refuses the push (git exits 1, the ref stays), a success
//! lets it land and the run is not made again by post-receive; a ref that git then fails to
//! move is reported in the run's log. `-o deploy=wait` cannot fail the push (the refs moved
//! before post-receive), so its failure is the last `remote:` line, starting with `error:`.

use std::path::Path;

use labforge::domain::deploys::DeployRun;

use crate::checks::server_ref;
use crate::deploy_scripts::{PW, app_with, executable, log_text};
use crate::helpers::{TestApp, eventually, git, git_ok, stderr};
use crate::hooks::settled_runs;

/// Writes `files` (None deletes), commits, and pushes main with `options`; returns the commit,
/// whether git succeeded, and what it printed.
async fn push_with(
    app: &TestApp,
    local: &Path,
    files: &[(&str, Option<&str>)],
    options: &[&str],
) -> (String, bool, String) {
    for (path, text) in files {
        match text {
            Some(text) => std::fs::write(local.join(path), text).unwrap(),
            None => std::fs::remove_file(local.join(path)).unwrap(),
        }
    }
    git_ok(local, &["add", "-A"]).await;
    git_ok(local, &["commit", "-q", "-m", "change"]).await;
    let head = git_ok(local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let url = app.url(Some(("alice", PW)), "alice/gate");
    let mut args = vec!["push"];
    for o in options {
        args.extend(["-o", o]);
    }
    args.extend([url.as_str(), "main"]);
    let out = git(local, &args).await;
    (head, out.status.success(), stderr(&out))
}

/// The last line git printed from the server before the request id a refused push ends with
/// (the pusher's pointer into the log, not part of the answer).
fn last_remote_line(err: &str) -> &str {
    err.lines()
        .rfind(|l| l.starts_with("remote:") && !l.starts_with("remote: labforge: request id "))
        .unwrap_or_default()
        .trim_end()
}

async fn runs(app: &TestApp) -> Vec<DeployRun> {
    settled_runs(app, "alice/gate").await
}

#[tokio::test]
async fn deploy_gate_refuses_a_push_whose_deploy_fails_and_wait_says_error_last() {
    let conf = tempfile::tempdir().unwrap();
    // Fails when the commit has `fail`; takes the ref's lock (as a concurrent push would)
    // when it has `lock`, so git cannot move the ref after the gate passed. It runs in
    // DATA/deploys/web/tree.
    executable(
        &conf.path().join("deploy.sh"),
        "#!/bin/sh\necho \"deploying $(cat version)\"\n\
         if [ -e fail ]; then echo 'broken on purpose' >&2; exit 4; fi\n\
         if [ -e lock ]; then : > ../../../repos/alice/gate.git/refs/heads/main.lock; fi\n",
    );
    let toml = "[[deploy]]\nname = \"web\"\nrepo = \"alice/gate\"\nbranch = \"main\"\nrun = \"deploy.sh\"\ntimeout = \"1m\"\n";
    let (app, local) = app_with(conf.path(), toml, "gate").await;
    let (first, ok, err) = push_with(&app, &local, &[("version", Some("v1\n"))], &[]).await;
    assert!(ok, "{err}");
    assert_eq!(runs(&app).await.len(), 1);

    // A failing gate: git exits 1, the ref does not move, the run is recorded as failed.
    let (broken, ok, err) = push_with(
        &app,
        &local,
        &[("version", Some("v2\n")), ("fail", Some("yes\n"))],
        &["deploy=gate"],
    )
    .await;
    assert!(!ok, "the push is refused: {err}");
    assert_eq!(server_ref(&app, "alice/gate", "refs/heads/main"), first);
    assert!(
        err.contains("| deploying v2"),
        "the run read the pushed commit: {err}"
    );
    assert!(err.contains("| broken on purpose"), "{err}");
    assert!(
        last_remote_line(&err).starts_with("remote: error: labforge: deploy web #")
            && last_remote_line(&err).ends_with(
                "did not succeed: refusing refs/heads/main (-o deploy=gate); nothing was changed"
            ),
        "{err}"
    );
    let all = runs(&app).await;
    assert_eq!(all.len(), 2);
    assert_eq!(
        (
            all[0].status.as_str(),
            all[0].exit_code,
            all[0].new_id.as_str()
        ),
        ("failed", Some(4), broken.as_str())
    );
    assert!(
        log_text(&app, &all[0])
            .await
            .contains("the push was refused and the ref did not move")
    );

    // A passing gate: the ref moves and the run is made once, not again by post-receive.
    let (good, ok, err) = push_with(
        &app,
        &local,
        &[("version", Some("v3\n")), ("fail", None)],
        &["deploy=gate"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(server_ref(&app, "alice/gate", "refs/heads/main"), good);
    assert!(err.contains("| deploying v3"), "{err}");
    assert!(err.contains("passed the gate"), "{err}");
    assert!(
        !err.contains("queued"),
        "post-receive queued nothing: {err}"
    );
    let all = runs(&app).await;
    assert_eq!(all.len(), 3, "one run for the gated push");
    assert_eq!(
        (all[0].status.as_str(), all[0].new_id.as_str()),
        ("succeeded", good.as_str())
    );

    // deploy=wait: the refs moved before the deploy ran, so git succeeds; the failure is the
    // last line, with git's `error:` keyword.
    let (waited, ok, err) =
        push_with(&app, &local, &[("fail", Some("yes\n"))], &["deploy=wait"]).await;
    assert!(ok, "{err}");
    assert_eq!(server_ref(&app, "alice/gate", "refs/heads/main"), waited);
    let last = last_remote_line(&err);
    assert!(
        last.starts_with("remote: error: deploy web #") && last.contains("failed (exit code 4)"),
        "{err}"
    );

    // The gate passes, then git cannot move the ref: the push fails, and the run's log says
    // the lab runs a commit that is not on the branch.
    let (locked, ok, err) = push_with(
        &app,
        &local,
        &[("fail", None), ("lock", Some("yes\n"))],
        &["deploy=gate"],
    )
    .await;
    let lock = app.server_repo("alice/gate").join("refs/heads/main.lock");
    assert!(lock.exists(), "the deploy took the ref's lock: {err}");
    std::fs::remove_file(&lock).unwrap();
    assert!(!ok, "{err}");
    assert_eq!(server_ref(&app, "alice/gate", "refs/heads/main"), waited);
    assert!(
        err.contains("passed the gate; should git still reject refs/heads/main below"),
        "{err}"
    );
    let run = runs(&app).await.remove(0);
    assert_eq!(
        (run.status.as_str(), run.new_id.as_str()),
        ("succeeded", locked.as_str())
    );
    eventually(10, "the run's log to say the ref did not move", || async {
        log_text(&app, &run)
            .await
            .contains("labforge: refs/heads/main did not move to")
            .then_some(())
    })
    .await;
}
