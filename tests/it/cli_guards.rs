//! The command line's guards, with the real binary: commands other than `serve` and `restore`
//! refuse a missing data folder (and create nothing), `serve --help` lists every setting,
//! signed backups and `restore --verify-key`, `admin protect --require-check` asking the running
//! serve, and a `serve` that fails PostgreSQL's access check leaving nothing behind.

use std::path::Path;
use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::checks::{app_with, script};
use crate::cli::free_port;
use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_labforge");

/// `labforge ARGS` in `dir` with nothing from this process's environment but PATH and `env`.
async fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("labforge runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_a_folder_without_data_create_nothing_and_say_where_they_looked() {
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL (as the postgres user when we are root) must enter the folder for `serve`.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let here = dir.path().canonicalize().unwrap();
    let commands: &[&[&str]] = &[
        &["admin", "user", "list"],
        &[
            "admin",
            "user",
            "create",
            "carol",
            "--email",
            "carol@lab.test",
            "--password-stdin",
        ],
        &["admin", "repo", "list"],
        &["admin", "protect", "alice/dns", "main"],
        &["migrate"],
        &["migrate", "--status"],
        &["backup", "b.tar"],
    ];
    for args in commands {
        let out = run_in(&here, args, &[], "carol-password-1\n").await;
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded: {err}");
        for needed in [
            format!("no labforge data folder at {}/data", here.display()),
            "LABFORGE_DATA_DIR".into(),
            "--config".into(),
        ] {
            assert!(err.contains(&needed), "{args:?}: {needed:?} not in {err}");
        }
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(
            entries(&here),
            Vec::<String>::new(),
            "{args:?} created something"
        );
    }
    // The folder named is the one the settings point at.
    let elsewhere = here.join("elsewhere/data");
    let out = run_in(
        &here,
        &["admin", "user", "list"],
        &[("LABFORGE_DATA_DIR", elsewhere.to_str().unwrap())],
        "",
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "no labforge data folder at {}",
            elsewhere.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(entries(&here), Vec::<String>::new());

    // `serve` still makes ./data, and then the admin commands work on it.
    let (http, ssh) = (free_port(), free_port());
    let logs = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(logs.path().join("serve.log")).ok();
    let mut serve = Command::new(BIN);
    serve
        .current_dir(&here)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LABFORGE_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("LABFORGE_SSH_ADDR", format!("127.0.0.1:{ssh}"))
        .arg("serve")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    if let Some(log) = log {
        serve.stderr(log);
    }
    let mut serve = serve.spawn().unwrap();
    wait_healthy(http).await;
    assert!(here.join("data/pg").is_dir(), "serve made ./data");
    let out = run_in(
        &here,
        &[
            "admin",
            "user",
            "create",
            "carol",
            "--email",
            "carol@lab.test",
            "--password-stdin",
        ],
        &[],
        "carol-password-1\n",
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_in(&here, &["admin", "user", "list"], &[], "").await;
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("carol\t"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(serve.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), serve.wait())
        .await
        .expect("serve stops")
        .unwrap();
    assert!(status.success(), "{status}");
}

/// Every setting the configuration knows is in `serve --help`, with its file key as the file
/// spells it; the list comes from `config::settings`, whose own tests hold it to the loader.
#[tokio::test]
async fn serve_help_lists_every_setting_with_its_file_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["serve", "--help"], &[], "").await;
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for s in labforge::config::settings::SETTINGS {
        assert!(
            help.contains(&format!("  {}", s.env)),
            "{} missing:\n{help}",
            s.env
        );
    }
    for line in [
        "LABFORGE_WEBHOOK_ALLOWED_HOSTS, [webhook] allowed_hosts",
        "LABFORGE_CACHE_MEMORY_MIB, [cache] memory_mib",
        "LABFORGE_BACKUP_KEEP, [backup] keep",
        "LABFORGE_HTTP_MAX_CONNECTIONS_PER_ADDRESS, http_max_connections_per_address",
    ] {
        assert!(help.contains(line), "{line} missing:\n{help}");
    }
    assert!(!help.contains("without the LABFORGE_ prefix"), "{help}");
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "--help creates nothing"
    );
}

fn keypair(dir: &Path, name: &str) -> (String, String) {
    let key = dir.join(name);
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    (
        key.to_str().unwrap().to_owned(),
        format!("{}.pub", key.display()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_backups_restore_only_with_the_signers_key() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-password-1").await;
    app.create_repo("alice", "dns", false).await;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (mine, mine_pub) = keypair(w, "mine");
    let (_, theirs_pub) = keypair(w, "theirs");
    let db = app.database_url();
    let source = [
        ("LABFORGE_DATA_DIR", app.data.path().to_str().unwrap()),
        ("DATABASE_URL", db.as_str()),
    ];
    let (signed, unsigned) = (w.join("signed.tar"), w.join("unsigned.tar"));
    let (signed, unsigned) = (signed.to_str().unwrap(), unsigned.to_str().unwrap());
    let out = run_in(w, &["backup", signed, "--sign", &mine], &source, "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("signed with the key SHA256:"),
        "{}",
        stderr(&out)
    );
    let out = run_in(w, &["backup", unsigned], &source, "").await;
    assert!(out.status.success(), "{}", stderr(&out));

    // --verify says what it proves.
    for backup in [signed, unsigned] {
        let out = run_in(w, &["backup", "--verify", backup], &[], "").await;
        assert!(out.status.success(), "{}", stderr(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("integrity only") && said.contains("not who made it"),
            "{said}"
        );
    }
    let out = run_in(
        w,
        &["backup", "--verify", signed, "--verify-key", &mine_pub],
        &[],
        "",
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("authentic: signed by the key SHA256:"));
    let out = run_in(
        w,
        &["backup", "--verify", signed, "--verify-key", &theirs_pub],
        &[],
        "",
    )
    .await;
    assert!(!out.status.success());

    // Refused before anything changes: no data folder, and the database stays empty (the
    // restore below needs an empty one).
    let target = w.join("restored");
    let empty_db = fresh_database_url().await;
    let to = [
        ("LABFORGE_DATA_DIR", target.to_str().unwrap()),
        ("DATABASE_URL", empty_db.as_str()),
    ];
    for (backup, key, why) in [
        (unsigned, &mine_pub, "the backup is not signed"),
        (signed, &theirs_pub, "not a valid one by a key in"),
    ] {
        let out = run_in(w, &["restore", backup, "--verify-key", key], &to, "").await;
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains(why) && err.contains("nothing was restored"),
            "{err}"
        );
        assert!(
            !target.exists(),
            "a refused restore made {}",
            target.display()
        );
    }
    let out = run_in(w, &["restore", signed, "--verify-key", &mine_pub], &to, "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("signed by the trusted key SHA256:"),
        "{}",
        stderr(&out)
    );
    let out = run_in(w, &["admin", "repo", "list"], &to, "").await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "alice/dns\tpublic\t\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn protect_asks_the_running_serve_which_checks_it_has() {
    let conf = tempfile::tempdir().unwrap();
    script(conf.path(), "zones.sh", "exit 0");
    let mut app = app_with(
        conf.path(),
        "[[check]]\nname = \"zones\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"zones.sh\"\nsandbox = false\n",
    )
    .await;
    app.create_user("alice", "alice-password-1").await;
    app.create_repo("alice", "dns", false).await;
    // No --config, no LABFORGE_CONFIG: only the running serve knows about `zones`.
    let (data, db) = (
        app.data.path().to_str().unwrap().to_owned(),
        app.database_url(),
    );
    let protect = |check: &'static str| {
        let (data, db) = (data.clone(), db.clone());
        let dir = conf.path().to_path_buf();
        async move {
            let env = [
                ("LABFORGE_DATA_DIR", data.as_str()),
                ("DATABASE_URL", db.as_str()),
            ];
            let args = [
                "admin",
                "protect",
                "alice/dns",
                "main",
                "--require-check",
                check,
            ];
            let out = run_in(&dir, &args, &env, "").await;
            assert!(out.status.success(), "{}", stderr(&out));
            stderr(&out)
        }
    };
    let err = protect("zones").await;
    assert!(
        !err.contains("warning") && !err.contains("not verified"),
        "{err}"
    );
    assert!(err.contains("required checks: zones"), "{err}");
    let err = protect("nosuch").await;
    assert!(
        err.contains(
            "warning: no [[check]] named nosuch is configured for alice/dns (asked the running serve)"
        ),
        "{err}"
    );
    // With no serve to ask and no file, it says so instead of guessing.
    app.shutdown().await;
    let err = protect("zones").await;
    assert!(!err.contains("warning"), "{err}");
    assert!(
        err.contains("no configuration file given") && err.contains("not verified"),
        "{err}"
    );
}

/// As root, PostgreSQL runs as another user, which must enter every folder above the data; a
/// `serve` that fails that check removes what it made (the folder, `pg`, the lock file).
#[tokio::test(flavor = "multi_thread")]
async fn a_serve_failing_the_postgres_access_check_leaves_nothing_behind() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the access check only applies when labforge runs as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Mode 0700 and ours: the postgres user cannot enter it.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let here = dir.path().canonicalize().unwrap();
    let env = [
        ("LABFORGE_HTTP_ADDR", "127.0.0.1:0"),
        ("LABFORGE_SSH_ADDR", "127.0.0.1:0"),
    ];
    // Bounded: a serve that passed the check would run until stopped.
    let serve = || async {
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            run_in(&here, &["serve"], &env, ""),
        )
        .await
        .expect("serve exits at the access check")
    };
    let out = serve().await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("cannot enter") && err.contains(&here.display().to_string()),
        "{err}"
    );
    assert_eq!(
        entries(&here),
        Vec::<String>::new(),
        "left behind after: {err}"
    );

    // A data folder that was there stays, emptied of what this run made.
    std::fs::create_dir(here.join("data")).unwrap();
    std::fs::write(here.join("data/notes.txt"), "mine").unwrap();
    let out = serve().await;
    assert!(!out.status.success());
    assert_eq!(entries(&here.join("data")), vec!["notes.txt".to_owned()]);
}
