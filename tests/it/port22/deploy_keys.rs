//! A deploy key through the host's sshd: `labforge keys` prints `serv deploy-key-ID` for it, and
//! `serv` gives it the built-in server's rules (its repository only, no commands, no pushes when
//! read-only).

use super::{LABFORGE, Sshd, keys, serv_config};
use crate::helpers::*;
use crate::ssh::{keygen, public_key, stdout};

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_key_clones_through_the_hosts_sshd_and_reaches_nothing_else() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    for name in ["cluster", "secrets"] {
        app.create_repo("alice", name, true).await;
    }
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    for repo in ["alice/cluster", "alice/secrets"] {
        app.push(&src, ("alice", "alice-password"), repo, &["main"])
            .await;
    }
    let key = keygen(&app.work.path().join("keys"), "flux", "ed25519");
    let grant = app.grant("alice/cluster").await;
    let added = app
        .forge
        .add_deploy_key(&grant, "flux", &public_key(&key), true)
        .await
        .unwrap();

    let config = serv_config(&app);
    let out = keys(&config, "root", &key);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let config = config.canonicalize().unwrap();
    assert!(
        line.starts_with(&format!(
            "command=\"{LABFORGE} --config {} serv deploy-key-{}\",restrict ssh-ed25519 ",
            config.display(),
            added.id
        )),
        "{line}"
    );

    let sshd = Sshd::start(&app).await;
    let ssh = sshd.client(&key);
    let clone = app.workdir("clone");
    let out = ssh
        .git(
            app.work.path(),
            &["clone", &ssh.url("alice/cluster"), clone.to_str().unwrap()],
        )
        .await;
    assert!(out.status.success(), "clone: {}", stderr(&out));
    assert_eq!(
        git_ok(&clone, &["rev-parse", "HEAD"]).await,
        git_ok(&src, &["rev-parse", "HEAD"]).await
    );
    let out = ssh.git(&clone, &["fetch", "origin"]).await;
    assert!(out.status.success(), "fetch: {}", stderr(&out));

    // Read-only: no push.
    std::fs::write(clone.join("drift"), "x").unwrap();
    git_ok(&clone, &["add", "drift"]).await;
    git_ok(&clone, &["commit", "-q", "-m", "drift"]).await;
    let out = ssh.git(&clone, &["push", "origin", "HEAD:main"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("you have read access to alice/cluster; this needs write"),
        "{}",
        stderr(&out)
    );
    // Another repository of the same owner answers as a missing one.
    let other = ssh
        .git(app.work.path(), &["ls-remote", &ssh.url("alice/secrets")])
        .await;
    let missing = ssh
        .git(app.work.path(), &["ls-remote", &ssh.url("alice/nope")])
        .await;
    assert!(!other.status.success());
    assert_eq!(
        stderr(&other).replace("alice/secrets", "X"),
        stderr(&missing).replace("alice/nope", "X")
    );
    // No commands, no greeting.
    for command in [&["whoami"][..], &["repo", "list"], &[]] {
        let out = ssh.run(command).await;
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        assert!(
            stderr(&out).contains("this is a deploy key"),
            "{command:?}: {}",
            stderr(&out)
        );
    }
}
