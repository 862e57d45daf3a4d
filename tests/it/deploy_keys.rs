//! Deploy keys with the real OpenSSH client against the built-in SSH server: a GitOps pull as
//! Flux and Argo CD make it (clone and fetch over `ssh://git@host:PORT/OWNER/REPO.git` with the
//! host key pinned), pushes by read-only and read-write keys, every other repository answered
//! as a missing one, the SSH commands refused, a key that is a user's key refused both ways.
//! Managing them (API, settings page, `admin deploy-key`) is in `deploy_keys_admin.rs`.

use std::path::Path;

use labforge::model::{TokenScope, Username};

use crate::helpers::*;
use crate::ssh::{SshClient, keygen, public_key, stdout, user_with_key};
use crate::web_auth::client;

/// A key pair made by `ssh-keygen`, attached to `repo` as a deploy key through the domain.
async fn deploy_key(
    app: &TestApp,
    name: &str,
    repos: &[&str],
    read_only: bool,
) -> std::path::PathBuf {
    let key = keygen(&app.work.path().join("keys"), name, "ed25519");
    for repo in repos {
        let grant = app.grant(repo).await;
        app.forge
            .add_deploy_key(&grant, name, &public_key(&key), read_only)
            .await
            .expect("add deploy key");
    }
    key
}

/// A repository with one commit on main, pushed by its owner over HTTP.
async fn seeded(app: &TestApp, owner: &str, name: &str, private: bool) -> String {
    app.create_repo(owner, name, private).await;
    let src = app.workdir(&format!("seed-{owner}-{name}"));
    local_repo(&src, 1).await;
    let repo = format!("{owner}/{name}");
    app.push(
        &src,
        (owner, &format!("{owner}-password")),
        &repo,
        &["main"],
    )
    .await;
    git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned()
}

async fn commit(dir: &Path, file: &str) -> String {
    std::fs::write(dir.join(file), file).unwrap();
    git_ok(dir, &["add", file]).await;
    git_ok(dir, &["commit", "-q", "-m", file]).await;
    git_ok(dir, &["rev-parse", "HEAD"]).await.trim().to_owned()
}

fn server_head(app: &TestApp, repo: &str) -> String {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(app.server_repo(repo))
        .args(["rev-parse", "refs/heads/main"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gitops_pull_clones_and_fetches_with_a_read_only_deploy_key_and_never_pushes() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let first = seeded(&app, "alice", "cluster", true).await;
    // Added over the API as `flux bootstrap` and Terraform add it (Gitea's CreateKeyOption).
    let key = keygen(&app.work.path().join("keys"), "flux", "ed25519");
    let token = app.create_token("alice", TokenScope::Write).await;
    let res = client()
        .post(format!("{}/api/v1/repos/alice/cluster/keys", app.base))
        .header("authorization", format!("token {token}"))
        .json(&serde_json::json!({"title": "flux", "key": public_key(&key), "read_only": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let made: serde_json::Value = res.json().await.unwrap();
    assert_eq!(made["read_only"], true);

    // Flux's way: ssh://git@HOST:PORT/OWNER/REPO.git, StrictHostKeyChecking=yes with the
    // server's host key in a known_hosts file (SshClient pins it), the private key alone.
    let ssh = SshClient::new(&app, &key);
    let url = ssh.url("alice/cluster");
    let clone = app.workdir("clone");
    ssh.git_ok(
        app.work.path(),
        &["clone", "-q", &url, clone.to_str().unwrap()],
    )
    .await;
    assert_eq!(git_ok(&clone, &["rev-parse", "HEAD"]).await.trim(), first);

    // The owner pushes; the controller's next reconcile fetches it.
    let src = app.work.path().join("seed-alice-cluster");
    let second = commit(&src, "kustomization.yaml").await;
    app.push(
        &src,
        ("alice", "alice-password"),
        "alice/cluster",
        &["main"],
    )
    .await;
    ssh.git_ok(&clone, &["fetch", "-q", "origin"]).await;
    assert_eq!(
        git_ok(&clone, &["rev-parse", "origin/main"]).await.trim(),
        second
    );
    // A shallow fetch as Argo CD's repo server may make.
    let shallow = app.workdir("shallow");
    ssh.git_ok(
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
        git_ok(&shallow, &["rev-parse", "HEAD"]).await.trim(),
        second
    );

    // Read-only: a push is refused, naming the access, and nothing moves.
    git_ok(&clone, &["reset", "-q", "--hard", "origin/main"]).await;
    commit(&clone, "drift.yaml").await;
    let out = ssh.git(&clone, &["push", &url, "HEAD:main"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("you have read access to alice/cluster; this needs write"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server_head(&app, "alice/cluster"), second);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_key_reaches_its_repositories_and_answers_elsewhere_as_for_a_missing_one() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_user("bob", "bob-password").await;
    seeded(&app, "alice", "apps", true).await;
    let infra_head = seeded(&app, "alice", "infra", true).await;
    seeded(&app, "alice", "secrets", true).await;
    seeded(&app, "alice", "website", false).await;
    seeded(&app, "bob", "home", false).await;
    // One key on two repositories (Gitea allows it): read-only on apps, read-write on infra.
    let key = deploy_key(&app, "argocd", &["alice/apps"], true).await;
    let grant = app.grant("alice/infra").await;
    app.forge
        .add_deploy_key(&grant, "argocd", &public_key(&key), false)
        .await
        .unwrap();
    let ssh = SshClient::new(&app, &key);

    // git archive --remote (upload-archive) on its own repository works too.
    let out = ssh
        .git(
            app.work.path(),
            &["archive", "--remote", &ssh.url("alice/apps"), "main"],
        )
        .await;
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "{}",
        stderr(&out)
    );
    for repo in ["alice/apps", "alice/infra"] {
        let dest = app.workdir(&format!("clone-{}", repo.replace('/', "-")));
        ssh.git_ok(
            app.work.path(),
            &["clone", "-q", &ssh.url(repo), dest.to_str().unwrap()],
        )
        .await;
    }
    // Read-write on infra: the push lands, recorded under the repository's owner.
    let infra = app.work.path().join("clone-alice-infra");
    let pushed = commit(&infra, "release.yaml").await;
    ssh.git_ok(&infra, &["push", "-q", "origin", "HEAD:main"])
        .await;
    assert_eq!(server_head(&app, "alice/infra"), pushed);
    assert_ne!(pushed, infra_head);
    // Read-only on apps.
    let apps = app.work.path().join("clone-alice-apps");
    commit(&apps, "x.yaml").await;
    let out = ssh.git(&apps, &["push", "origin", "HEAD:main"]).await;
    assert!(!out.status.success(), "a read-only key pushed");

    // Everything else, private or public, the owner's or another user's, answers exactly as
    // a repository that does not exist.
    let probe = |repo: &'static str| {
        let (ssh, apps) = (&ssh, &apps);
        let work = app.work.path().to_path_buf();
        async move {
            let fetch = ssh.git(&work, &["ls-remote", &ssh.url(repo)]).await;
            let push = ssh.git(apps, &["push", &ssh.url(repo), "HEAD:main"]).await;
            let archive = ssh
                .git(&work, &["archive", "--remote", &ssh.url(repo), "main"])
                .await;
            (
                fetch.status.code(),
                stderr(&fetch).replace(repo, "OWNER/REPO"),
                push.status.code(),
                stderr(&push).replace(repo, "OWNER/REPO"),
                archive.status.code(),
                stderr(&archive).replace(repo, "OWNER/REPO"),
            )
        }
    };
    let missing = probe("alice/nope").await;
    assert!(
        missing.1.contains("repository 'OWNER/REPO' not found"),
        "{}",
        missing.1
    );
    for repo in ["alice/secrets", "alice/website", "bob/home"] {
        assert_eq!(probe(repo).await, missing, "{repo}");
    }
    // Never push-to-create, not even under the owner's name.
    assert!(!app.server_repo("alice/nope").exists());
    let out = ssh
        .git(&apps, &["push", &ssh.url("alice/fresh"), "HEAD:main"])
        .await;
    assert!(!out.status.success());
    assert!(!app.server_repo("alice/fresh").exists());

    // The SSH commands and the greeting are refused, each the same way.
    for command in [
        &["whoami"][..],
        &["repo", "list"],
        &["repo", "create", "new"],
        &["repo", "info", "alice/apps"],
        &["key", "list"],
        &["help"],
        &[],
    ] {
        let out = ssh.run(command).await;
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        assert!(
            stderr(&out).contains("this is a deploy key"),
            "{command:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{command:?}: {}", stdout(&out));
    }
    assert!(!app.server_repo("alice/new").exists());

    // Removed from apps: apps answers as missing now; infra still works.
    let grant = app.grant("alice/apps").await;
    let id = app.forge.deploy_keys(&grant).await.unwrap()[0].id;
    app.forge.remove_deploy_key(&grant, id).await.unwrap();
    assert_eq!(probe("alice/apps").await.0, missing.0);
    ssh.git_ok(&infra, &["fetch", "-q", "origin"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_is_a_users_key_or_a_deploy_key_never_both() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "apps", true).await;
    app.create_repo("alice", "infra", true).await;
    let user_key = user_with_key(&app, "alice", "ed25519").await;
    let grant = app.grant("alice/apps").await;
    let err = app
        .forge
        .add_deploy_key(&grant, "reuse", &public_key(&user_key), true)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("that SSH key is a user's key"),
        "{err}"
    );
    // Over the API: Gitea's 422 for a key in use, with the reason.
    let token = app.create_token("alice", TokenScope::Write).await;
    let res = client()
        .post(format!("{}/api/v1/repos/alice/apps/keys", app.base))
        .header("authorization", format!("token {token}"))
        .json(&serde_json::json!({"title": "reuse", "key": public_key(&user_key)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("user's key"),
        "{body}"
    );

    // The other way: a deploy key (on two repositories) is refused as a user's key.
    let key = deploy_key(&app, "flux", &["alice/apps", "alice/infra"], true).await;
    let err = app
        .forge
        .add_key(
            &Username::parse("alice").unwrap(),
            "mine",
            &public_key(&key),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("that SSH key is a repository's deploy key"),
        "{err}"
    );
    // The same key twice on one repository is refused too.
    let err = app
        .forge
        .add_deploy_key(&grant, "again", &public_key(&key), true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already a deploy key"), "{err}");
    // So it signs in as the deploy key, not as alice.
    let out = SshClient::new(&app, &key).run(&["whoami"]).await;
    assert!(
        stderr(&out).contains("this is a deploy key"),
        "{}",
        stderr(&out)
    );

    // Both at once, a few times over: exactly one of the two wins each time.
    let alice = Username::parse("alice").unwrap();
    for i in 0..5 {
        let (line, title) = (ed25519_line(1000 + i), format!("race{i}"));
        let (as_user, as_deploy) = tokio::join!(
            app.forge.add_key(&alice, &title, &line),
            app.forge.add_deploy_key(&grant, &title, &line, true)
        );
        assert!(
            as_user.is_ok() != as_deploy.is_ok(),
            "race {i}: {as_user:?} / {as_deploy:?}"
        );
    }
}

/// An ed25519 public key line made in-process (distinct for each `i`; never used to sign).
pub(crate) fn ed25519_line(i: usize) -> String {
    use base64::Engine;
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    let mut raw = [0u8; 32];
    raw[..8].copy_from_slice(&(i as u64).to_be_bytes());
    blob.extend_from_slice(&raw);
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// A read-write deploy key pushes as a writer and no more: an admins-only branch and
/// `-o skip-checks` refuse it, though its pushes are recorded under the owner (an admin).
#[tokio::test(flavor = "multi_thread")]
async fn a_read_write_deploy_key_never_has_an_admins_rights_when_pushing() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password").await;
    let first = seeded(&app, "alice", "infra", true).await;
    let key = deploy_key(&app, "ci", &["alice/infra"], false).await;
    let ssh = SshClient::new(&app, &key);
    let clone = app.workdir("clone");
    ssh.git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &ssh.url("alice/infra"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    commit(&clone, "a.yaml").await;
    let out = ssh
        .git(
            &clone,
            &["push", "-o", "skip-checks", "origin", "HEAD:main"],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only repository admins may push with -o skip-checks"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server_head(&app, "alice/infra"), first);
    let grant = app.grant("alice/infra").await;
    app.forge
        .protect_branch_requiring(&grant, "main", true, &[])
        .await
        .unwrap();
    let out = ssh.git(&clone, &["push", "origin", "HEAD:main"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only repository admins may push here"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server_head(&app, "alice/infra"), first);
    // Another branch is a writer's to push.
    ssh.git_ok(&clone, &["push", "-q", "origin", "HEAD:feature"])
        .await;
}
