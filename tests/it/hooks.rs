//! Push hooks with real pushes: protected branches refuse with the rule, deploys run with the
//! right environment and files, `-o deploy=wait` streams, quick pushes supersede, and a push that
//! did not come through the server is refused.

use std::path::{Path, PathBuf};

use labforge::model::DeployStatus;

use crate::helpers::{TestApp, eventually, git, git_ok, local_repo, stderr};

const PW: &str = "correct-horse-battery";

/// An app whose config (in `conf`) deploys alice/dns's main with a script running `body`.
async fn dns_deploy_app(conf: &Path, body: &str) -> TestApp {
    script(conf, "deploy.sh", body);
    let file = conf.join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n",
    )
    .unwrap();
    TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await
}

/// alice/dns as the domain sees it (the repository every test here pushes to).
async fn dns_repo(app: &TestApp) -> labforge::model::Repo {
    app.grant("alice/dns").await.repo().clone()
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

async fn setup(app: &TestApp) -> PathBuf {
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let local = app.workdir("dns");
    local_repo(&local, 2).await;
    local
}

async fn commit_and_push(local: &Path, url: &str, message: &str) {
    git_ok(local, &["add", "-A"]).await;
    git_ok(local, &["commit", "-q", "-m", message]).await;
    git_ok(local, &["push", "-q", url, "main"]).await;
}

fn server_ref(app: &TestApp, repo: &str, name: &str) -> String {
    let out = std::process::Command::new("git")
        .args([
            "--git-dir",
            app.server_repo(repo).to_str().unwrap(),
            "rev-parse",
            "--verify",
            "-q",
            name,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A run's stored log (what its page shows), read with the system's grant on its repository.
pub(crate) async fn stored_log(
    app: &TestApp,
    run: &labforge::domain::deploys::DeployRun,
) -> Vec<labforge::domain::deploys::DeployLogLine> {
    let grant = app
        .forge
        .grant_for_system::<labforge::domain::Read>(&app.system_key, run.repo_id)
        .await
        .expect("the run's repository exists");
    app.forge.deploy_log(&grant, run).await.unwrap()
}

/// Waits until every run of the repository has ended; returns them newest first.
pub(crate) async fn settled_runs(
    app: &TestApp,
    repo: &str,
) -> Vec<labforge::domain::deploys::DeployRun> {
    let repo = app.grant(repo).await;
    eventually(30, "every deploy run to finish", || async {
        let runs = app.forge.deploy_runs(&repo, 0).await.unwrap();
        let finished = runs
            .iter()
            .all(|r| !matches!(r.status.as_str(), "queued" | "running"));
        finished.then_some(runs)
    })
    .await
}

#[tokio::test]
async fn protected_branch_refuses_force_push_deletion_and_non_admins() {
    let app = TestApp::spawn().await;
    let local = setup(&app).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let repo = app.grant("alice/dns").await;
    app.forge
        .protect_branch(&repo, "main", false)
        .await
        .unwrap();
    let before = server_ref(&app, "alice/dns", "refs/heads/main");

    // A rewritten history: force-push refused, ref unchanged.
    git_ok(&local, &["reset", "-q", "--hard", "HEAD~1"]).await;
    std::fs::write(local.join("other.txt"), "x\n").unwrap();
    git_ok(&local, &["add", "."]).await;
    git_ok(&local, &["commit", "-q", "-m", "rewritten"]).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    let out = git(&local, &["push", "-f", &url, "main"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("remote: labforge: refusing refs/heads/main: force-push"),
        "{err}"
    );
    assert!(err.contains("protected by rule \"main\""), "{err}");
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);

    // Deletion refused.
    let out = git(&local, &["push", &url, ":main"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("deleting it is not allowed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);

    // A fast-forward passes; an unprotected branch may be force-pushed and deleted.
    git_ok(&local, &["reset", "-q", "--hard", &before]).await;
    std::fs::write(local.join("ff.txt"), "ff\n").unwrap();
    git_ok(&local, &["add", "."]).await;
    git_ok(&local, &["commit", "-q", "-m", "fast forward"]).await;
    git_ok(&local, &["push", "-q", &url, "main", "main:scratch"]).await;
    git_ok(&local, &["push", "-q", "-f", &url, "HEAD~2:scratch"]).await;
    git_ok(&local, &["push", "-q", &url, ":scratch"]).await;

    // Admins only: a writer is refused, the owner passes.
    app.forge.protect_branch(&repo, "main", true).await.unwrap();
    app.create_user("bob", PW).await;
    app.add_collaborator("alice/dns", "bob", "write").await;
    std::fs::write(local.join("bob.txt"), "bob\n").unwrap();
    git_ok(&local, &["add", "."]).await;
    git_ok(&local, &["commit", "-q", "-m", "by bob"]).await;
    let bob_url = app.url(Some(("bob", PW)), "alice/dns");
    let out = git(&local, &["push", &bob_url, "main"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only repository admins may push here"),
        "{}",
        stderr(&out)
    );
    git_ok(&local, &["push", "-q", &url, "main"]).await;
}

#[tokio::test]
async fn a_matching_push_runs_the_deploy_with_its_environment_and_files() {
    let conf = tempfile::tempdir().unwrap();
    let out_file = conf.path().join("seen.txt");
    script(
        conf.path(),
        "deploy.sh",
        &format!(
            "{{ env | grep -E '^(LABFORGE_|TARGET|SECRET_TOKEN)' | sort; echo \"args=$*\"; echo \"pwd-files=$(ls | tr '\\n' ' ')\"; \
             echo \"zone=$(cat zone.txt)\"; echo \"stdin=$(cat)\"; }} > {out}; echo deploying to $TARGET with $SECRET_TOKEN; echo warn >&2",
            out = out_file.display()
        ),
    );
    let toml = r#"[[deploy]]
name = "dns"
repo = "alice/dns"
branch = "main"
run = "deploy.sh"
args = ["/srv/dns"]
timeout = "1m"
env = { TARGET = "dns1" }
secret_env = { SECRET_TOKEN = "s3cr3t-value" }
"#;
    std::fs::write(conf.path().join("labforge.toml"), toml).unwrap();
    let file = conf
        .path()
        .join("labforge.toml")
        .to_str()
        .unwrap()
        .to_owned();
    let app = TestApp::spawn_with(&[("LABFORGE_CONFIG", &file)]).await;
    let local = setup(&app).await;
    std::fs::write(local.join("zone.txt"), "lab. IN SOA ns1.lab.\n").unwrap();
    git_ok(&local, &["add", "."]).await;
    git_ok(&local, &["commit", "-q", "-m", "zone"]).await;
    let head = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let url = app.url(Some(("alice", PW)), "alice/dns");

    let out = git(&local, &["push", &url, "main"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("remote: deploy dns #") && err.contains(" queued: http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("/alice/dns/deploys/"), "{err}");

    let runs = settled_runs(&app, "alice/dns").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, DeployStatus::Succeeded);
    assert_eq!(runs[0].new_id, head);
    let seen = std::fs::read_to_string(&out_file).unwrap();
    for want in [
        "LABFORGE_REPO=alice/dns".to_owned(),
        "LABFORGE_REF=refs/heads/main".to_owned(),
        format!("LABFORGE_NEW={head}"),
        format!("LABFORGE_OLD={}", "0".repeat(40)),
        "LABFORGE_PUSHER=alice".to_owned(),
        format!("LABFORGE_DEPLOY_ID={}", runs[0].id),
        format!(
            "LABFORGE_DEPLOY_URL={}/alice/dns/deploys/{}",
            app.base, runs[0].id
        ),
        "TARGET=dns1".to_owned(),
        "args=/srv/dns".to_owned(),
        "zone=lab. IN SOA ns1.lab.".to_owned(),
    ] {
        assert!(seen.contains(&want), "missing {want} in:\n{seen}");
    }
    assert!(
        seen.contains("pwd-files=file0.txt file1.txt zone.txt"),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("\"after\":\"{head}\"")),
        "stdin is the event: {seen}"
    );

    // The stored log has stdout and stderr (one stream, in order), with the secret (and only
    // the secret) redacted.
    let log = stored_log(&app, &runs[0]).await;
    let text: Vec<String> = log
        .iter()
        .map(|l| format!("{} {}", l.stream, l.line))
        .collect();
    assert!(
        text.contains(&"o deploying to dns1 with [redacted]".to_owned()),
        "{text:?}"
    );
    assert!(text.contains(&"o warn".to_owned()), "{text:?}");
    assert!(!text.iter().any(|l| l.contains("s3cr3t-value")));

    // Another branch does not deploy.
    git_ok(&local, &["push", "-q", &url, "main:dev"]).await;
    let runs = settled_runs(&app, "alice/dns").await;
    assert_eq!(runs.len(), 1, "a push to dev queued nothing");
}

#[tokio::test]
async fn deploy_wait_streams_the_output_and_the_failure() {
    let conf = tempfile::tempdir().unwrap();
    let app = dns_deploy_app(
        conf.path(),
        "echo 'hello from the deploy'; sleep 0.3; echo 'bad zone' >&2; exit 3",
    )
    .await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    let out = git(&local, &["push", "-o", "deploy=wait", &url, "main"]).await;
    assert!(
        out.status.success(),
        "the push itself succeeded: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("| hello from the deploy"), "{err}");
    assert!(err.contains("| bad zone"), "{err}");
    assert!(err.contains("failed (exit code 3) after"), "{err}");
    let hello = err.find("hello from the deploy").unwrap();
    let failed = err.find("failed (exit code 3)").unwrap();
    assert!(hello < failed);
}

#[tokio::test]
async fn quick_pushes_run_at_most_two_deploys_the_last_being_the_newest() {
    let conf = tempfile::tempdir().unwrap();
    let release = conf.path().join("release");
    // Each run waits for the test to let it go: no timing in this test.
    let app = dns_deploy_app(
        conf.path(),
        &format!(
            "while [ ! -e {} ]; do sleep 0.05; done; echo done",
            release.display()
        ),
    )
    .await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    for i in 0..3 {
        std::fs::write(local.join("n.txt"), format!("{i}\n")).unwrap();
        git_ok(&local, &["add", "."]).await;
        git_ok(&local, &["commit", "-q", "-m", &format!("change {i}")]).await;
        git_ok(&local, &["push", "-q", &url, "main"]).await;
    }
    let head = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    std::fs::write(&release, "").unwrap();
    let runs = settled_runs(&app, "alice/dns").await;
    assert_eq!(runs.len(), 3);
    let ran: Vec<_> = runs
        .iter()
        .filter(|r| r.status == DeployStatus::Succeeded)
        .collect();
    assert!(
        ran.len() <= 2,
        "{:?}",
        runs.iter().map(|r| &r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        ran[0].new_id, head,
        "the last run deployed the newest commit"
    );
    assert!(runs.iter().any(|r| r.status == DeployStatus::Superseded));
}

/// The working folder is kept between runs, so each run must still get exactly its commit's
/// files: whatever the last run changed, removed or added is undone, files the commit
/// dropped are gone, and a broken folder (here: a garbage index) is written afresh.
#[tokio::test]
async fn each_run_gets_exactly_its_commits_files_whatever_the_last_run_did() {
    let conf = tempfile::tempdir().unwrap();
    let seen = conf.path().join("seen");
    std::fs::create_dir(&seen).unwrap();
    // Records the folder (names, modes, contents), then vandalises it.
    let mut app = dns_deploy_app(
        conf.path(),
        &format!(
            "find . -mindepth 1 | sort | while read -r f; do \
               if [ -f \"$f\" ]; then echo \"$f $(stat -c %a \"$f\") $(cat \"$f\")\"; else echo \"$f/\"; fi; \
             done > {seen}/$LABFORGE_DEPLOY_ID
             echo tampered >> zone.txt; rm file0.txt; chmod -x run.sh
             echo junk > junk.txt; mkdir -p junk-dir/deeper; echo junk > junk-dir/deeper/x",
            seen = seen.display()
        ),
    )
    .await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    let listing = |id: i64| std::fs::read_to_string(seen.join(id.to_string())).unwrap();

    std::fs::write(local.join("zone.txt"), "lab. IN SOA ns1.lab.\n").unwrap();
    std::fs::create_dir(local.join("sub")).unwrap();
    std::fs::write(local.join("sub/a.conf"), "a\n").unwrap();
    script(&local, "run.sh", "true");
    commit_and_push(&local, &url, "first").await;
    let first = settled_runs(&app, "alice/dns").await;
    assert_eq!(first[0].status, DeployStatus::Succeeded);
    let want_first = "./file0.txt 644 content 0\n./file1.txt 644 content 1\n./run.sh 755 #!/bin/sh\ntrue\n\
                      ./sub/\n./sub/a.conf 644 a\n./zone.txt 644 lab. IN SOA ns1.lab.\n";
    assert_eq!(listing(first[0].id), want_first);

    // Next commit drops file1.txt and sub/, adds new.txt.
    std::fs::remove_file(local.join("file1.txt")).unwrap();
    std::fs::remove_dir_all(local.join("sub")).unwrap();
    std::fs::write(local.join("new.txt"), "new\n").unwrap();
    commit_and_push(&local, &url, "second").await;
    let second = settled_runs(&app, "alice/dns").await;
    assert_eq!(second.len(), 2);
    assert_eq!(second[0].status, DeployStatus::Succeeded);
    let want_second = "./file0.txt 644 content 0\n./new.txt 644 new\n./run.sh 755 #!/bin/sh\ntrue\n\
                       ./zone.txt 644 lab. IN SOA ns1.lab.\n";
    assert_eq!(listing(second[0].id), want_second);

    // A folder git cannot update (its index is garbage) is written afresh.
    let folder = app.data.path().join("deploys/dns");
    std::fs::write(folder.join("index"), "not an index").unwrap();
    std::fs::write(local.join("new.txt"), "newer\n").unwrap();
    commit_and_push(&local, &url, "third").await;
    let third = settled_runs(&app, "alice/dns").await;
    assert_eq!(third[0].status, DeployStatus::Succeeded);
    assert_eq!(
        listing(third[0].id),
        want_second.replace("./new.txt 644 new", "./new.txt 644 newer")
    );

    // At start, folders of deploys no longer configured (and older versions' per-run ones) go.
    let deploys = app.data.path().join("deploys");
    for stale in ["gone/tree", "run-7"] {
        std::fs::create_dir_all(deploys.join(stale)).unwrap();
        std::fs::write(deploys.join(stale).join("f"), "x").unwrap();
    }
    app.restart().await;
    let mut left: Vec<_> = std::fs::read_dir(&deploys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["dns"]);
}

#[tokio::test]
async fn a_push_straight_into_the_repository_on_disk_is_refused() {
    let mut app = TestApp::spawn().await;
    let local = setup(&app).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let before = server_ref(&app, "alice/dns", "refs/heads/main");
    std::fs::write(local.join("sneaky.txt"), "x\n").unwrap();
    git_ok(&local, &["add", "."]).await;
    git_ok(&local, &["commit", "-q", "-m", "sneaky"]).await;
    let on_disk = app.server_repo("alice/dns").to_str().unwrap().to_owned();
    for running in [true, false] {
        if !running {
            app.shutdown().await;
        }
        let out = git(&local, &["push", &on_disk, "main"]).await;
        assert!(!out.status.success(), "running={running}");
        let err = stderr(&out);
        assert!(
            err.contains("takes pushes only through the labforge server"),
            "{err}"
        );
        assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), before);
    }
}

#[tokio::test]
async fn a_push_whose_post_receive_never_came_is_settled_at_start() {
    let conf = tempfile::tempdir().unwrap();
    let mut app = dns_deploy_app(conf.path(), "echo deployed").await;
    let local = setup(&app).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    assert_eq!(settled_runs(&app, "alice/dns").await.len(), 1);
    let head = server_ref(&app, "alice/dns", "refs/heads/main");
    let parent = git_ok(&local, &["rev-parse", "HEAD~1"])
        .await
        .trim()
        .to_owned();
    let repo = dns_repo(&app).await;
    // As if the server died after git moved main (applied) and before post-receive; and a
    // second push that git never applied.
    let applied = labforge::model::RefUpdate {
        name: "refs/heads/main".into(),
        old: parent.clone(),
        new: head.clone(),
    };
    let never = labforge::model::RefUpdate {
        name: "refs/heads/main".into(),
        old: head.clone(),
        new: parent.clone(),
    };
    for (nonce, update) in [("n-applied", &applied), ("n-never", &never)] {
        app.store()
            .await
            .insert_pending_push(labforge::storage::NewPush {
                repo_id: repo.id,
                pusher_id: None,
                pusher_name: "alice",
                nonce,
                push_options: &[],
                refs: std::slice::from_ref(update),
                checks_skipped: false,
            })
            .await
            .unwrap();
    }
    app.restart().await;
    // Recovery runs in the background once the server answers.
    eventually(60, "the pending pushes to be settled", || async {
        app.store()
            .await
            .pending_pushes()
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    let runs = settled_runs(&app, "alice/dns").await;
    assert_eq!(runs.len(), 2, "the applied push queued its deploy once");
    assert_eq!(
        (runs[0].status.as_str(), runs[0].new_id.as_str()),
        ("succeeded", head.as_str())
    );
    assert!(app.store().await.pending_pushes().await.unwrap().is_empty());
    app.restart().await;
    assert_eq!(
        settled_runs(&app, "alice/dns").await.len(),
        2,
        "nothing is done twice"
    );
}

#[tokio::test]
async fn deploy_pages_show_runs_logs_and_the_last_good_commit() {
    let conf = tempfile::tempdir().unwrap();
    let app = dns_deploy_app(conf.path(), "echo \"deployed <b>$LABFORGE_NEW</b>\"").await;
    let local = setup(&app).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let runs = settled_runs(&app, "alice/dns").await;
    let head = server_ref(&app, "alice/dns", "refs/heads/main");
    let base = app.base.clone();
    let get = |path: String| {
        let url = format!("{base}{path}");
        async move {
            let res = reqwest::get(url).await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, list) = get("/alice/dns/deploys".into()).await;
    assert_eq!(status, 200);
    assert!(
        list.contains(&format!("#{}", runs[0].id)) && list.contains("succeeded"),
        "{list}"
    );
    assert!(list.contains("on branch main"), "{list}");
    let (status, page) = get(format!("/alice/dns/deploys/{}", runs[0].id)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("deployed &#60;b&#62;{head}&#60;/b&#62;")),
        "log shown, escaped: {page}"
    );
    assert!(
        !page.contains("Re-run"),
        "anonymous visitors get no buttons"
    );
    let (_, summary) = get("/alice/dns".into()).await;
    assert!(
        summary.contains("last good") && summary.contains(&head[..10]),
        "{summary}"
    );
    assert_eq!(get("/alice/dns/deploys/999".into()).await.0, 404);
    // A private repository's deploys are a 404 to anyone who cannot read it.
    let repo = app.grant("alice/dns").await;
    app.forge
        .update_repo(&repo, "", true, "main")
        .await
        .unwrap();
    assert_eq!(get("/alice/dns/deploys".into()).await.0, 404);
    assert_eq!(
        get(format!("/alice/dns/deploys/{}", runs[0].id)).await.0,
        404
    );
}

#[tokio::test]
async fn writers_rerun_cancel_and_roll_back_from_the_pages_readers_cannot() {
    use crate::web_auth::{hidden, page, post, session};
    let conf = tempfile::tempdir().unwrap();
    let gate = conf.path().join("gate");
    // A run waits while the gate file exists, so a run can be caught running.
    let app = dns_deploy_app(
        conf.path(),
        &format!(
            "while [ -e {} ]; do sleep 0.05; done; echo \"at $LABFORGE_NEW\"",
            gate.display()
        ),
    )
    .await;
    let local = setup(&app).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let first = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    std::fs::write(local.join("two.txt"), "2\n").unwrap();
    git_ok(&local, &["add", "."]).await;
    git_ok(&local, &["commit", "-q", "-m", "two"]).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let runs = settled_runs(&app, "alice/dns").await;
    assert_eq!(runs.len(), 2);
    let alice = session(&app, "alice", PW).await;

    // Roll back: deploy the first commit again from its commit page.
    let (_, commit_page) = page(&app, &alice, &format!("/alice/dns/commit/{first}")).await;
    assert!(
        commit_page.contains("Deploy this commit to dns"),
        "{commit_page}"
    );
    let csrf = hidden(&commit_page, "csrf");
    let (status, body) = post(
        &app,
        &alice,
        "/alice/dns/deploys",
        &[("csrf", &csrf), ("deploy", "dns"), ("commit", &first)],
    )
    .await;
    assert_eq!(status, 303, "{body}"); // to the new run's page
    let runs = settled_runs(&app, "alice/dns").await;
    assert_eq!(
        (runs[0].reason.as_str(), runs[0].new_id.as_str()),
        ("manual", first.as_str())
    );
    assert_eq!(runs[0].status, DeployStatus::Succeeded);

    // Re-run, held at the gate, then cancelled while running.
    std::fs::write(&gate, "").unwrap();
    let (status, _) = post(
        &app,
        &alice,
        &format!("/alice/dns/deploys/{}/rerun", runs[1].id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    let repo = app.grant("alice/dns").await;
    let rerun = eventually(30, "the re-run to start", || async {
        let latest = app.forge.deploy_runs(&repo, 0).await.unwrap().remove(0);
        (latest.status == DeployStatus::Running).then_some(latest)
    })
    .await;
    assert_eq!(
        (rerun.reason.as_str(), rerun.rerun_of),
        ("rerun", Some(runs[1].id))
    );
    let (_, live) = page(&app, &alice, &format!("/alice/dns/deploys/{}", rerun.id)).await;
    assert!(
        live.contains("http-equiv=\"refresh\"") && live.contains(">Cancel</button>"),
        "{live}"
    );

    // A reader sees the run but may not cancel it.
    app.create_user("bob", PW).await;
    app.add_collaborator("alice/dns", "bob", "read").await;
    let bob = session(&app, "bob", PW).await;
    let (status, bob_view) = page(&app, &bob, &format!("/alice/dns/deploys/{}", rerun.id)).await;
    assert_eq!(status, 200);
    assert!(!bob_view.contains(">Cancel</button>"));
    let bob_csrf = hidden(&bob_view, "csrf");
    let (status, _) = post(
        &app,
        &bob,
        &format!("/alice/dns/deploys/{}/cancel", rerun.id),
        &[("csrf", &bob_csrf)],
    )
    .await;
    assert_eq!(status, 403);

    let (status, _) = post(
        &app,
        &alice,
        &format!("/alice/dns/deploys/{}/cancel", rerun.id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200);
    let runs = settled_runs(&app, "alice/dns").await;
    assert_eq!(runs[0].status, DeployStatus::Cancelled);
    std::fs::remove_file(&gate).unwrap();
}

#[tokio::test]
async fn admins_set_protected_branches_on_the_settings_page() {
    use crate::web_auth::{hidden, page, post, session};
    let app = TestApp::spawn().await;
    let local = setup(&app).await;
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let alice = session(&app, "alice", PW).await;
    let (_, settings) = page(&app, &alice, "/alice/dns/settings/branches").await;
    assert!(settings.contains("Protected branches"));
    let csrf = hidden(&settings, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("pattern", "release/*"),
        ("admins_only", "on"),
    ];
    let (status, body) = post(&app, &alice, "/alice/dns/settings/branches", &form).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<code>release/*</code>") && body.contains("admins only"),
        "{body}"
    );
    let (_, body) = post(
        &app,
        &alice,
        "/alice/dns/settings/branches",
        &[("csrf", &csrf), ("pattern", "refs/heads/x")],
    )
    .await;
    assert!(
        body.contains("a branch pattern is a glob on the branch name"),
        "{body}"
    );
    // The rule holds for pushes: deleting release/1 is refused.
    let url = app.url(Some(("alice", PW)), "alice/dns");
    git_ok(&local, &["push", "-q", &url, "main:release/1"]).await;
    let out = git(&local, &["push", &url, ":release/1"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("protected by rule \"release/*\""),
        "{}",
        stderr(&out)
    );
    // Removing it from the page lifts it.
    let repo = app.grant("alice/dns").await;
    let rule = app.forge.branch_rules(&repo).await.unwrap().remove(0);
    let (status, _) = post(
        &app,
        &alice,
        &format!("/alice/dns/settings/branches/{}/remove", rule.id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 303);
    git_ok(&local, &["push", "-q", &url, ":release/1"]).await;
}
