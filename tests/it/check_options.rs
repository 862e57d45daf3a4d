//! `git push -o dry-run` (HTTP and SSH), `-o skip-checks`, required checks on protected
//! branches, and the cap on the tree a check is given.

use labforge::model::CheckName;

use crate::checks::{PW, app_with, commit, dns, script, server_ref, setup};
use crate::helpers::{TestApp, git, git_ok, stderr};
use crate::ssh::{SshClient, user_with_key};

/// zones (on zones/**) and a deploy of main, the deploy recording that it ran.
async fn app_with_check_and_deploy(conf: &std::path::Path) -> TestApp {
    script(
        conf,
        "zones.sh",
        "echo \"zone lab/IN: loaded, dry run=$LABFORGE_DRY_RUN\"; ! grep -l BROKEN zones/*.zone",
    );
    script(
        conf,
        "deploy.sh",
        &format!("touch {}/deployed", conf.display()),
    );
    app_with(
        conf,
        r#"
[[check]]
name = "zones"
repo = "alice/dns"
branch = "main"
paths = ["zones/**"]
run = "zones.sh"

[[check]]
name = "docs"
repo = "alice/dns"
branch = "main"
paths = ["docs/**"]
run = "zones.sh"

[[deploy]]
name = "dns"
repo = "alice/dns"
branch = "main"
run = "deploy.sh"
args = ["/srv/dns"]
"#,
    )
    .await
}

/// What a push may have left behind in the database: check runs, statuses (on any commit of
/// the clone at `local`, the pushed ones included), pending push events.
async fn recorded(app: &TestApp, local: &std::path::Path) -> (usize, usize, usize) {
    let repo = dns(app).await;
    let runs = app
        .store()
        .await
        .check_runs(repo.id, 1000)
        .await
        .unwrap()
        .len();
    let heads: Vec<String> = git_ok(local, &["rev-list", "--all"])
        .await
        .lines()
        .map(str::to_owned)
        .collect();
    let statuses = app
        .forge
        .latest_statuses(&app.grant("alice/dns").await, &heads, 100)
        .await
        .unwrap()
        .len();
    let pushes = app.store().await.pending_pushes().await.unwrap().len();
    (runs, statuses, pushes)
}

#[tokio::test]
async fn dry_run_prints_the_plan_over_http_and_ssh_and_changes_nothing() {
    let conf = tempfile::tempdir().unwrap();
    let app = app_with_check_and_deploy(conf.path()).await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    git_ok(&local, &["push", "-q", &url, "main"]).await;
    let first = server_ref(&app, "alice/dns", "refs/heads/main");
    // The deploy ran once for that push: it is the "last good" commit below.
    crate::hooks::settled_runs(&app, "alice/dns").await;
    std::fs::remove_file(conf.path().join("deployed")).unwrap();
    let before = recorded(&app, &local).await;
    commit(
        &local,
        "zones/lab.zone",
        "lab. IN SOA ns1 admin 2 2 3 4 5\n",
        "serial 2",
    )
    .await;
    let head = commit(
        &local,
        "zones/home.zone",
        "home. IN SOA ns1 admin 1 2 3 4 5\n",
        "home",
    )
    .await;

    let key = user_with_key(&app, "alice", "ed25519").await;
    let ssh = SshClient::new(&app, &key);
    for (how, out) in [
        (
            "http",
            git(
                &local,
                &["push", "-o", "dry-run", "-o", "deploy=wait", &url, "main"],
            )
            .await,
        ),
        (
            "ssh",
            ssh.git(
                &local,
                &["push", "-o", "dry-run", &ssh.url("alice/dns"), "main"],
            )
            .await,
        ),
    ] {
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "{how}: git reports the dry run as a refusal: {err}"
        );
        let lines: Vec<&str> = err
            .lines()
            .filter_map(|l| l.strip_prefix("remote: "))
            .map(str::trim_end)
            .collect();
        let want_head = format!(
            "labforge: dry run of refs/heads/main {}..{} (2 commits, 2 files changed)",
            &first[..7],
            &head[..7]
        );
        assert_eq!(lines[0], want_head, "{how}: {err}");
        assert!(
            lines.contains(&"check zones| zone lab/IN: loaded, dry run=1"),
            "{how}: {err}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("check zones passed (")),
            "{how}: {err}"
        );
        assert!(
            lines.contains(
                &"check docs would not run on refs/heads/main: the push changes none of its paths"
            ),
            "{how}: {err}"
        );
        let deploy = format!(
            "deploy dns would run {} /srv/dns (last good {}, 2 commits behind)",
            conf.path().join("deploy.sh").display(),
            &first[..7]
        );
        assert!(lines.contains(&deploy.as_str()), "{how}: {err}");
        assert!(
            lines.contains(&"labforge: dry run: this push would land"),
            "{how}: {err}"
        );
        assert_eq!(
            lines.last(),
            Some(&"labforge: dry run only; nothing was changed"),
            "{how}: {err}"
        );
        assert!(
            err.contains("[remote rejected] main -> main (pre-receive hook declined)"),
            "{err}"
        );
        // Nothing changed: the ref, the records, and no deploy ran.
        assert_eq!(
            server_ref(&app, "alice/dns", "refs/heads/main"),
            first,
            "{how}"
        );
        assert_eq!(recorded(&app, &local).await, before, "{how}");
        assert!(!conf.path().join("deployed").exists(), "{how}");
    }

    // A dry run of a push that would fail says so, and still changes nothing.
    commit(&local, "zones/bad.zone", "BROKEN\n", "broken").await;
    let out = git(&local, &["push", "-o", "dry-run", &url, "main"]).await;
    let err = stderr(&out);
    assert!(err.contains("remote: check zones| zones/bad.zone"), "{err}");
    assert!(
        err.contains(
            "remote: labforge: check zones failed (exit code 1): refusing refs/heads/main"
        ),
        "{err}"
    );
    assert!(
        err.contains("remote: labforge: dry run: this push would be refused"),
        "{err}"
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), first);
    assert_eq!(recorded(&app, &local).await, before);
}

#[tokio::test]
async fn skip_checks_is_for_repository_admins_and_is_recorded() {
    let conf = tempfile::tempdir().unwrap();
    let app = app_with_check_and_deploy(conf.path()).await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    git_ok(&local, &["push", "-q", &url, "main"]).await;
    let broken = commit(&local, "zones/bad.zone", "BROKEN\n", "broken, but urgent").await;

    // A writer may not skip.
    app.create_user("bob", PW).await;
    app.add_collaborator("alice/dns", "bob", "write").await;
    let bob = app.url(Some(("bob", PW)), "alice/dns");
    let out = git(&local, &["push", "-o", "skip-checks", &bob, "main"]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("remote: labforge: refusing the push: only repository admins may push with -o skip-checks"),
        "{err}"
    );
    assert_ne!(server_ref(&app, "alice/dns", "refs/heads/main"), broken);

    // The owner (a repository admin) may: no check runs, the push lands, and says so.
    let out = git(&local, &["push", "-o", "skip-checks", &url, "main"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("remote: labforge: checks skipped by alice (-o skip-checks)"),
        "{err}"
    );
    assert!(!err.contains("check zones|"), "{err}");
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), broken);

    // Recorded: the commit page and the deploy's page say who skipped the checks.
    let grant = app.grant("alice/dns").await;
    let skipped = app.forge.checks_skipped_for(&grant, &broken).await.unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].0, "alice");
    let page = reqwest::get(format!("{}/alice/dns/commit/{broken}", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("checks were skipped"), "{page}");
    let runs = crate::hooks::settled_runs(&app, "alice/dns").await;
    let deploy_page = reqwest::get(format!("{}/alice/dns/deploys/{}", app.base, runs[0].id))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(deploy_page.contains("checks were skipped"), "{deploy_page}");
}

#[tokio::test]
async fn required_checks_run_whatever_their_paths_and_must_be_configured() {
    let conf = tempfile::tempdir().unwrap();
    let app = app_with_check_and_deploy(conf.path()).await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    git_ok(&local, &["push", "-q", &url, "main"]).await;
    let repo = app.grant("alice/dns").await;
    let name = |n: &str| CheckName::parse(n).unwrap();

    // docs only runs on docs/**; required on main (set on the settings page), it runs on a
    // README change too.
    use crate::web_auth::{hidden, page, post, session};
    let alice = session(&app, "alice", PW).await;
    let (_, settings) = page(&app, &alice, "/alice/dns/settings").await;
    let csrf = hidden(&settings, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("pattern", "main"),
        ("required_checks", "docs"),
    ];
    let (status, body) = post(&app, &alice, "/alice/dns/settings/branches", &form).await;
    assert_eq!(status, 200);
    assert!(body.contains("requires docs"), "{body}");
    let bad = [
        ("csrf", csrf.as_str()),
        ("pattern", "main"),
        ("required_checks", "../x"),
    ];
    let (_, body) = post(&app, &alice, "/alice/dns/settings/branches", &bad).await;
    assert!(body.contains("a check name may only contain"), "{body}");
    let rules = app.forge.branch_rules(&repo).await.unwrap();
    assert_eq!(
        rules[0].required_checks,
        ["docs"],
        "the bad form changed nothing"
    );
    app.forge
        .protect_branch_requiring(&repo, "main", false, &[name("docs")])
        .await
        .unwrap();
    commit(&local, "README.md", "# dns zones\n", "readme").await;
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("remote: check docs passed"), "{err}");
    assert!(
        !err.contains("check zones"),
        "zones is not required and its paths are untouched: {err}"
    );

    // A required check nobody configured: every push to main is refused, saying why.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labforge"))
        .args([
            "admin",
            "protect",
            "alice/dns",
            "main",
            "--require-check",
            "lint",
        ])
        .env("DATABASE_URL", app.database_url())
        .env("LABFORGE_DATA_DIR", app.data.path())
        .env("LABFORGE_CONFIG", conf.path().join("labforge.toml"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("no [[check]] named lint is configured for alice/dns"),
        "{said}"
    );
    assert!(said.contains("required checks: lint"), "{said}");
    let before = server_ref(&app, "alice/dns", "refs/heads/main");
    commit(&local, "README.md", "# dns zones, again\n", "readme 2").await;
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("remote: labforge: refusing refs/heads/main: its protection rule requires check lint, which is not configured for this ref"),
        "{err}"
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);
    // Another branch is not protected: it lands.
    git_ok(&local, &["push", "-q", &url, "main:feature"]).await;
}

/// A tree that names one subtree ten times, six levels deep: 10^6 files from a few hundred
/// bytes. The check is never given it: the push is refused at the cap, in bounded time.
#[tokio::test]
async fn a_tree_bomb_is_refused_at_the_cap() {
    let conf = tempfile::tempdir().unwrap();
    script(conf.path(), "any.sh", "echo ran");
    let app = app_with(
        conf.path(),
        "[[check]]\nname = \"any\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"any.sh\"\n",
    )
    .await;
    let local = setup(&app).await;
    let blob = git_ok(&local, &["hash-object", "-w", "README.md"])
        .await
        .trim()
        .to_owned();
    let mut tree = mktree(
        &local,
        &(0..10)
            .map(|i| format!("100644 blob {blob}\tf{i}"))
            .collect::<Vec<_>>(),
    )
    .await;
    for _ in 0..5 {
        tree = mktree(
            &local,
            &(0..10)
                .map(|i| format!("040000 tree {tree}\td{i}"))
                .collect::<Vec<_>>(),
        )
        .await;
    }
    let bomb = git_ok(&local, &["commit-tree", &tree, "-m", "bomb"])
        .await
        .trim()
        .to_owned();
    let url = app.url(Some(("alice", PW)), "alice/dns");
    let started = std::time::Instant::now();
    let out = git(&local, &["push", &url, &format!("{bomb}:refs/heads/main")]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("remote: labforge: refusing refs/heads/main: the pushed tree has more than 100000 files and folders; its checks cannot run"),
        "{err}"
    );
    assert!(!err.contains("check any|"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), "");
    // The partial tree is gone once the push is decided.
    let work = app.forge.check_state().work_dir().to_path_buf();
    crate::helpers::eventually_true(30, "the check folder to be removed", || {
        std::fs::read_dir(&work).map_or(true, |mut d| d.next().is_none())
    })
    .await;
}

async fn mktree(dir: &std::path::Path, entries: &[String]) -> String {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("git")
        .current_dir(dir)
        .args(["mktree"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((entries.join("\n") + "\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
