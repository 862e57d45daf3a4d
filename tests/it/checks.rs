//! Checks in pre-receive with real pushes: a good push passes and lands, a failing check refuses
//! its ref with the check's own output shown to the pusher, a check on other paths does not run,
//! a timeout refuses, the sandbox holds (no network, no data folder, nothing writable but /tmp,
//! a memory limit), `-o dry-run` prints the plan and changes nothing over HTTP and SSH,
//! `-o skip-checks` is for admins and recorded, required checks are enforced, and a tree bomb
//! is refused within its cap.

use std::path::{Path, PathBuf};

use crate::helpers::{TestApp, git, git_ok, stderr};

pub(crate) const PW: &str = "correct-horse-battery";

/// An executable `#!/bin/sh` script `name` in `dir` running `body`.
pub(crate) fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// An app whose config (in `conf`) holds `tables` (TOML) after writing the scripts given.
pub(crate) async fn app_with(conf: &Path, tables: &str) -> TestApp {
    let file = conf.join("labforge.toml");
    std::fs::write(&file, tables).unwrap();
    TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await
}

/// alice (admin of alice/dns, which has a zone file on main) and a clone at main.
pub(crate) async fn setup(app: &TestApp) -> PathBuf {
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let local = app.workdir("dns");
    git_ok(&local, &["init", "-q", "-b", "main"]).await;
    std::fs::create_dir_all(local.join("zones")).unwrap();
    std::fs::write(
        local.join("zones/lab.zone"),
        "lab. IN SOA ns1.lab. admin.lab. 1 2 3 4 5\n",
    )
    .unwrap();
    std::fs::write(local.join("README.md"), "# dns\n").unwrap();
    git_ok(&local, &["add", "-A"]).await;
    git_ok(&local, &["commit", "-q", "-m", "first zone"]).await;
    local
}

pub(crate) async fn commit(local: &Path, file: &str, text: &str, message: &str) -> String {
    let path = local.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    git_ok(local, &["add", "-A"]).await;
    git_ok(local, &["commit", "-q", "-m", message]).await;
    git_ok(local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned()
}

pub(crate) fn server_ref(app: &TestApp, repo: &str, name: &str) -> String {
    let out = std::process::Command::new("git")
        .args(["--git-dir", app.server_repo(repo).to_str().unwrap()])
        .args(["rev-parse", "--verify", "-q", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) async fn dns(app: &TestApp) -> labforge::model::Repo {
    app.grant("alice/dns").await.repo().clone()
}

fn has_bwrap() -> bool {
    labforge::job::Sandbox::detect().is_ok()
}

#[tokio::test]
async fn a_good_push_lands_a_failing_check_refuses_and_checks_on_other_paths_do_not_run() {
    let conf = tempfile::tempdir().unwrap();
    let seen = conf.path().join("seen");
    // Records what it was given (unsandboxed, so it can write the record), then judges the
    // zone files: each must have an SOA record.
    script(
        conf.path(),
        "zones.sh",
        &format!(
            "{{ env | grep ^LABFORGE_ | sort; echo \"pwd=$(pwd)\"; echo changed:; cat \"$LABFORGE_CHANGED_FILES\"; \
               echo \"files=$(find . -type f | sort | tr '\\n' ' ')\"; echo \"stdin=$(cat)\"; }} > {seen}\n\
             for f in zones/*.zone; do grep -q SOA \"$f\" || {{ echo \"$f: zone has no SOA record\"; exit 1; }}; echo \"$f: ok\"; done",
            seen = seen.display()
        ),
    );
    script(conf.path(), "yaml.sh", "echo yaml check ran");
    let app = app_with(
        conf.path(),
        r#"
[[check]]
name = "zones"
repo = "alice/dns"
branch = "main"
paths = ["zones/**"]
run = "zones.sh"
sandbox = false

[[check]]
name = "yaml"
repo = "alice/*"
branch = "main"
paths = ["**/*.yml"]
run = "yaml.sh"
"#,
    )
    .await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");

    // A good push: the check runs, its output streams, the push lands.
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("remote: check zones| zones/lab.zone: ok"),
        "{err}"
    );
    assert!(err.contains("remote: check zones passed ("), "{err}");
    assert!(
        !err.contains("check yaml"),
        "no .yml changed, so yaml did not run: {err}"
    );
    let head = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), head);
    let record = std::fs::read_to_string(&seen).unwrap();
    for want in [
        "LABFORGE_REPO=alice/dns".to_owned(),
        "LABFORGE_REF=refs/heads/main".to_owned(),
        format!("LABFORGE_OLD={}", "0".repeat(40)),
        format!("LABFORGE_NEW={head}"),
        "LABFORGE_PUSHER=alice".to_owned(),
        "LABFORGE_CHECK=zones".to_owned(),
        "LABFORGE_DRY_RUN=0".to_owned(),
        "changed:\nREADME.md\nzones/lab.zone\n".to_owned(),
        "files=./README.md ./zones/lab.zone ".to_owned(),
        format!("\"after\":\"{head}\""),
    ] {
        assert!(record.contains(&want), "missing {want:?} in:\n{record}");
    }

    // A broken zone: refused with the check's words, the ref unchanged.
    commit(&local, "zones/bad.zone", "www IN A 10.0.0.5\n", "bad zone").await;
    let bad = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("remote: check zones| zones/bad.zone: zone has no SOA record"),
        "{err}"
    );
    assert!(
        err.contains(
            "remote: labforge: check zones failed (exit code 1): refusing refs/heads/main"
        ),
        "{err}"
    );
    assert!(
        err.contains("remote: labforge: nothing was changed"),
        "{err}"
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), head);
    let record = std::fs::read_to_string(&seen).unwrap();
    assert!(
        record.contains("changed:\nzones/bad.zone\n"),
        "only the new file: {record}"
    );

    // The failed run is recorded with its log, and its commit carries a failure status.
    let grant = app.grant("alice/dns").await;
    let combined = app
        .forge
        .latest_statuses(&grant, &[bad.clone(), head.clone()], 100)
        .await
        .unwrap();
    let failed = &combined[&bad];
    assert_eq!(failed.state.as_str(), "failure");
    assert_eq!(failed.statuses[0].context, "check/zones");
    assert!(
        failed.statuses[0].target_url.contains("/alice/dns/checks/"),
        "{:?}",
        failed.statuses[0]
    );
    assert_eq!(combined[&head].state.as_str(), "success");

    // A .yml change runs the yaml check too (repo glob alice/*, path glob **/*.yml).
    git_ok(&local, &["reset", "-q", "--hard", &head]).await;
    commit(&local, "ansible/site.yml", "- hosts: all\n", "playbook").await;
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("remote: check yaml| yaml check ran"), "{err}");
}

#[tokio::test]
async fn a_check_that_runs_past_its_timeout_refuses_the_push() {
    let conf = tempfile::tempdir().unwrap();
    script(
        conf.path(),
        "slow.sh",
        "echo starting; sleep 60; echo never",
    );
    let app = app_with(
        conf.path(),
        "[[check]]\nname = \"slow\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"slow.sh\"\ntimeout = \"1s\"\n",
    )
    .await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    let started = std::time::Instant::now();
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the push waited {:?}",
        started.elapsed()
    );
    assert!(err.contains("remote: check slow| starting"), "{err}");
    assert!(
        err.contains("remote: labforge: check slow timed out after 1.0s: refusing refs/heads/main"),
        "{err}"
    );
    assert!(!err.contains("never"), "{err}");
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), "");
}

#[tokio::test]
async fn the_sandbox_keeps_a_check_off_the_network_the_data_folder_and_everything_but_tmp() {
    if !has_bwrap() {
        panic!("bubblewrap is needed for this test (Debian: apt-get install bubblewrap)");
    }
    let conf = tempfile::tempdir().unwrap();
    let outside = conf.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // Each script succeeds only if its escape works. The port and folders are filled in below.
    let escapes = [
        (
            "net",
            "exec python3 -c 'import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), timeout=5); print(\"reached 127.0.0.1\")' \"$PORT\"",
        ),
        (
            "data",
            "ls \"$DATA/repos/alice\" && cat \"$DATA/labforge.lock\" && echo read the data folder",
        ),
        (
            "write",
            "for f in \"$OUTSIDE/x\" /work/x /x /etc/x /usr/x /labforge/x; do touch \"$f\" && { echo \"wrote $f\"; exit 0; }; done; exit 1",
        ),
        (
            "memory",
            "exec python3 -c 'x = bytearray(256 * 1024 * 1024); print(\"allocated\", len(x))'",
        ),
    ];
    let mut toml = String::new();
    let app = {
        for (name, body) in &escapes {
            script(
                conf.path(),
                &format!("{name}.sh"),
                &format!("echo tmp-ok > /tmp/t && cat /tmp/t\n{body}"),
            );
            toml.push_str(&format!(
                "[[check]]\nname = \"{name}\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"{name}.sh\"\nmemory = \"96M\"\n\n\
                 [[check]]\nname = \"{name}-bare\"\nrepo = \"alice/dns\"\nbranch = \"bare\"\nrun = \"{name}.sh\"\nsandbox = false\n\n"
            ));
        }
        // The scripts read PORT, DATA and OUTSIDE from files written once the app is up.
        app_with(conf.path(), &toml).await
    };
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let data = app.data.path().display().to_string();
    for (name, body) in &escapes {
        let body = body
            .replace("\"$PORT\"", &port)
            .replace("$DATA", &data)
            .replace("$OUTSIDE", &outside.display().to_string());
        script(
            conf.path(),
            &format!("{name}.sh"),
            &format!("echo tmp-ok > /tmp/t && cat /tmp/t\n{body}"),
        );
    }
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");

    // Unsandboxed, every escape works: the scripts really try.
    let out = git(&local, &["push", &url, "main:bare"]).await;
    let err = stderr(&out);
    let wrote = format!("wrote {}/x", outside.display());
    for want in [
        "reached 127.0.0.1",
        "read the data folder",
        &wrote,
        "allocated 268435456",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(out.status.success(), "unsandboxed checks pass: {err}");

    // In the sandbox each one fails, /tmp still works, and the push is refused.
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("remote: check net| tmp-ok"), "{err}");
    for name in ["net", "data", "write", "memory"] {
        assert!(
            err.contains(&format!("check {name} failed (exit code")),
            "{name} must fail in the sandbox: {err}"
        );
    }
    assert!(
        err.contains("Connection refused") || err.contains("Network is unreachable"),
        "{err}"
    );
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(err.contains("MemoryError"), "{err}");
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), "");
}

#[tokio::test]
async fn checks_run_in_parallel_up_to_the_core_count_and_refuse_over_ssh_too() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let conf = tempfile::tempdir().unwrap();
    let shared = conf.path().join("shared");
    for dir in ["running", "started"] {
        std::fs::create_dir_all(shared.join(dir)).unwrap();
    }
    // Each check waits (at most 15 s) until a second one has started: run one after the
    // other, the first would give up. While running, each counts the checks running with it.
    // Unsandboxed, so they can meet in a shared folder.
    script(
        conf.path(),
        "meet.sh",
        &format!(
            "cd_tree=$(pwd); cd {shared}\n\
             touch running/$LABFORGE_CHECK started/$LABFORGE_CHECK\n\
             ls running | wc -l >> counts\n\
             i=0; while [ \"$(ls started | wc -l)\" -lt 2 ]; do\n\
               i=$((i + 1)); [ $i -gt 300 ] && {{ echo alone; rm running/$LABFORGE_CHECK; exit 1; }}; sleep 0.05\n\
             done\n\
             sleep 0.2; rm running/$LABFORGE_CHECK\n\
             [ -e \"$cd_tree/fail\" ] && {{ echo \"$LABFORGE_CHECK: the tree has a fail file\"; exit 1; }}\n\
             echo met",
            shared = shared.display()
        ),
    );
    let count = cores + 1;
    let mut toml = String::new();
    for i in 0..count {
        toml.push_str(&format!(
            "[[check]]\nname = \"meet{i}\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"meet.sh\"\nsandbox = false\n\n"
        ));
    }
    let app = app_with(conf.path(), &toml).await;
    let local = setup(&app).await;
    let key = crate::ssh::user_with_key(&app, "alice", "ed25519").await;
    let ssh = crate::ssh::SshClient::new(&app, &key);
    let url = ssh.url("alice/dns");

    let out = ssh.git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for i in 0..count {
        assert!(
            err.contains(&format!("remote: check meet{i}| met")),
            "{err}"
        );
        assert!(
            err.contains(&format!("remote: check meet{i} passed (")),
            "{err}"
        );
    }
    let head = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), head);
    let counts: Vec<usize> = std::fs::read_to_string(shared.join("counts"))
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(counts.len(), count, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n <= cores),
        "never more than {cores} at once: {counts:?}"
    );

    // Over SSH a failing check refuses too, with its words, and the ref stays.
    commit(&local, "fail", "x\n", "fail").await;
    let out = ssh.git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("remote: check meet0| meet0: the tree has a fail file"),
        "{err}"
    );
    assert!(
        err.contains(
            "remote: labforge: check meet0 failed (exit code 1): refusing refs/heads/main"
        ),
        "{err}"
    );
    assert_eq!(server_ref(&app, "alice/dns", "refs/heads/main"), head);
}
