//! Issue 21, items 6 to 8, with real pushes, the real binary, real git and real bubblewrap:
//! a push's trees are capped per push and across pushes (and a large blob is streamed, so
//! labforge's own peak memory stays far below the blob); the work folder is refused when it is
//! not labforge's own with mode 0700; inside a check `/dev` is read-only, `/dev/shm` and `/tmp`
//! are small, and a fork loop stops at the cgroup's `pids.max`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::bounds::Served;
use crate::checks::{PW, app_with, script, setup};
use crate::helpers::{TestApp, eventually, eventually_true, git, git_ok, stderr};

/// The large blob: 64 MiB of zeros (a 64 KiB pack), big enough that reading it whole would
/// show in the server's peak memory, small enough to write in a second.
const BLOB: u64 = 64 << 20;

/// A repository in `dir` whose commits c1..c4 each hold `big` (the same zero blob) and a file
/// naming the commit, so their trees differ and each ref's tree is written on its own.
async fn four_commits(dir: &Path) -> Vec<String> {
    git_ok(dir, &["init", "-q", "-b", "main"]).await;
    let file = std::fs::File::create(dir.join("big")).unwrap();
    file.set_len(BLOB).unwrap();
    let mut ids = Vec::new();
    for i in 1..=4 {
        std::fs::write(dir.join("which"), format!("{i}\n")).unwrap();
        git_ok(dir, &["add", "-A"]).await;
        git_ok(dir, &["commit", "-q", "-m", &format!("c{i}")]).await;
        ids.push(git_ok(dir, &["rev-parse", "HEAD"]).await.trim().to_owned());
    }
    ids
}

/// `field` (VmHWM: peak resident memory, VmRSS: resident now) of `pid`, in MiB.
fn status_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("the field in /proc/PID/status");
    kib / 1024
}

/// Resets `pid`'s peak to its resident memory now (`clear_refs` 5); returns that.
fn reset_peak(pid: u32) -> u64 {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    status_mib(pid, "VmRSS:")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_four_ref_dry_run_of_a_large_blob_is_capped_per_push_and_streamed() {
    let conf = tempfile::tempdir().unwrap();
    // Sandboxed: the check sees the whole blob at /work/big.
    script(
        conf.path(),
        "size.sh",
        "echo \"big holds $(wc -c < big) bytes\"",
    );
    let file = conf.path().join("labforge.toml");
    std::fs::write(
        &file,
        "[[check]]\nname = \"size\"\nrepo = \"alice/big\"\nbranch = \"*\"\nrun = \"size.sh\"\n",
    )
    .unwrap();
    // 160 MiB per push: two of the four 64 MiB trees fit, the third does not.
    let server = Served::start(&[
        ("LABFORGE_CONFIG", file.to_str().unwrap()),
        ("LABFORGE_CHECKS_PUSH_MIB", "160"),
    ])
    .await;
    server.alice_with_repo("big").await;
    let local = server.data.path().join("local");
    std::fs::create_dir(&local).unwrap();
    let ids = four_commits(&local).await;
    let url = server.url("alice/big");
    let pid = server.pid();
    // Start-up's own peak (migrations, the first connections) must not hide the pushes'.
    let before = reset_peak(pid);

    let specs: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("{id}:refs/heads/r{}", i + 1))
        .collect();
    let mut args = vec!["push", "-o", "dry-run", url.as_str()];
    args.extend(specs.iter().map(String::as_str));
    let started = Instant::now();
    let out = git(&local, &args).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "a dry run never lands: {err}");
    for r in ["r1", "r2"] {
        assert!(
            err.contains(&format!("labforge: dry run of refs/heads/{r}")),
            "{err}"
        );
    }
    assert_eq!(
        err.matches(&format!("check size| big holds {BLOB} bytes"))
            .count(),
        2,
        "r1 and r2 were written whole and checked: {err}"
    );
    for r in ["r3", "r4"] {
        assert!(
            err.contains(&format!(
                "labforge: refusing refs/heads/{r}: writing its tree would take this push past \
                 160 MiB written for checks (the per-push limit, LABFORGE_CHECKS_PUSH_MIB); its \
                 checks cannot run"
            )),
            "{err}"
        );
    }
    assert!(err.contains("dry run: this push would be refused"), "{err}");

    // One ref, under the cap: checked and it would land.
    let one = format!("{}:refs/heads/r1", ids[0]);
    let out = git(&local, &["push", "-o", "dry-run", &url, &one]).await;
    let err = stderr(&out);
    assert!(
        err.contains(&format!("check size| big holds {BLOB} bytes")),
        "{err}"
    );
    assert!(err.contains("dry run: this push would land"), "{err}");

    // What was measured: the server process's own peak resident memory (VmHWM, from /proc)
    // over both pushes, against its resident memory when the peak was reset before them. Three 64 MiB blobs were written; read whole, one alone
    // would lift the peak by 64 MiB. git's own processes (receive-pack, cat-file) are not
    // counted here: they are children, with their own memory.
    let after = status_mib(pid, "VmHWM:");
    assert!(
        after.saturating_sub(before) < 40,
        "labforge's peak memory rose from {before} MiB to {after} MiB"
    );
    // The trees are removed once each push is decided.
    let work = server.data.path().join("checks");
    eventually_true(30, "the push folders to be removed", || {
        std::fs::read_dir(&work).is_ok_and(|mut d| d.next().is_none())
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_written_across_pushes_at_once_are_capped() {
    let conf = tempfile::tempdir().unwrap();
    let gate = conf.path().join("gate");
    std::fs::create_dir(&gate).unwrap();
    // Holds its push (and its 64 MiB tree) until the test opens the gate (30 s at most).
    script(
        conf.path(),
        "hold.sh",
        &format!(
            "touch {g}/$LABFORGE_REF_NAME.started\n\
             i=0; while [ ! -e {g}/open ]; do i=$((i + 1)); [ $i -gt 600 ] && exit 1; sleep 0.05; done\n\
             echo held",
            g = gate.display()
        )
        .replace("$LABFORGE_REF_NAME", "held"),
    );
    let app = {
        let file = conf.path().join("labforge.toml");
        std::fs::write(
            &file,
            "[checks]\ntotal_mib = 100\n\n[[check]]\nname = \"hold\"\nrepo = \"alice/dns\"\n\
             branch = \"*\"\nrun = \"hold.sh\"\nsandbox = false\n",
        )
        .unwrap();
        TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await
    };
    let _ = setup(&app).await;
    let local = app.workdir("big");
    let ids = four_commits(&local).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");

    let first = {
        let (local, url, spec) = (
            local.clone(),
            url.clone(),
            format!("{}:refs/heads/a", ids[0]),
        );
        tokio::spawn(async move { git(&local, &["push", &url, &spec]).await })
    };
    eventually_true(60, "the first push's check to start", || {
        gate.join("held.started").exists()
    })
    .await;
    assert_eq!(
        app.forge.check_state().bytes_in_use(),
        BLOB + 2,
        "64 MiB and `which`"
    );

    // A second push while the first holds 64 MiB of the 100: refused, saying why.
    let out = git(&local, &["push", &url, &format!("{}:refs/heads/b", ids[1])]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(
            "refusing refs/heads/b: the pushes being checked now hold 64 MiB of the 100 MiB all \
             pushes may write for checks at once (LABFORGE_CHECKS_TOTAL_MIB); try again shortly"
        ),
        "{err}"
    );

    std::fs::write(gate.join("open"), "").unwrap();
    let out = first.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Given back once its folder is gone; then the second push goes through.
    eventually_true(30, "the first push's bytes to be given back", || {
        app.forge.check_state().bytes_in_use() == 0
    })
    .await;
    let out = git(&local, &["push", &url, &format!("{}:refs/heads/b", ids[1])]).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn a_work_folder_of_another_owner_or_mode_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let conf = tempfile::tempdir().unwrap();
    script(conf.path(), "ok.sh", "echo ran");
    let toml =
        "[[check]]\nname = \"ok\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"ok.sh\"\n";
    let open = conf.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut cases = vec![open];
    // Another user's folder (mode 0700, as ours would be): root can make one for the test.
    if nix::unistd::geteuid().is_root() {
        let theirs = conf.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&theirs, Some(12345), Some(12345)).unwrap();
        cases.push(theirs);
    }
    for folder in cases {
        let file = conf.path().join("labforge.toml");
        std::fs::write(&file, toml).unwrap();
        let app = TestApp::spawn_with(&[
            ("LABFORGE_CONFIG", file.to_str().unwrap()),
            ("LABFORGE_CHECKS_WORK_DIR", folder.to_str().unwrap()),
        ])
        .await;
        let local = setup(&app).await;
        let url = app.url(Some(("alice", PW)), "alice/dns");
        let out = git(&local, &["push", &url, "main"]).await;
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains(
                "labforge: refusing the push: its checks cannot run because the server's checks \
                 work folder is unusable (the server's log says why)"
            ),
            "{}: {err}",
            folder.display()
        );
        assert!(!err.contains("check ok|"), "{err}");
        assert_eq!(
            std::fs::read_dir(&folder).unwrap().count(),
            0,
            "nothing was written into {}",
            folder.display()
        );
    }
}

#[tokio::test]
async fn inside_a_check_dev_is_read_only_shm_and_tmp_are_small_and_forks_stop() {
    assert!(
        labforge::job::Sandbox::detect().is_ok(),
        "bubblewrap is needed for this test (Debian: apt-get install bubblewrap)"
    );
    let conf = tempfile::tempdir().unwrap();
    // memory 64M: /tmp 16 MiB, /dev/shm 4 MiB. Each write is tried and its fate printed.
    script(
        conf.path(),
        "fill.sh",
        "try() { if dd if=/dev/zero of=\"$1\" bs=1M count=\"$2\" 2>/dev/null; then echo \"$1: wrote $2 MiB\"; \
                 else echo \"$1: refused after $(( $(wc -c < \"$1\" 2>/dev/null || echo 0) >> 20 )) MiB\"; fi; }\n\
         try /dev/x 1\ntry /dev/shm/x 8\ntry /tmp/x 32\ntry /tmp/y 1\n",
    );
    // Starts up to 200 sleepers; pids.max = 32 stops it.
    script(
        conf.path(),
        "forks.sh",
        "i=0; while [ $i -lt 200 ]; do sleep 20 & i=$((i + 1)); done; echo \"started $i\"",
    );
    let app = app_with(
        conf.path(),
        "[[check]]\nname = \"fill\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"fill.sh\"\nmemory = \"64M\"\n\n\
         [[check]]\nname = \"forks\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"forks.sh\"\n\
         processes = 32\ntimeout = \"30s\"\n",
    )
    .await;
    let limit = app.forge.check_state().process_limit();
    assert!(
        limit.as_deref().is_some_and(|l| l.contains("pids.max")),
        "this machine gives labforge no cgroup for pids.max: {limit:?}"
    );
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    let started = Instant::now();
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    for want in [
        "check fill| /dev/x: refused after 0 MiB",
        "check fill| /dev/shm/x: refused after 4 MiB",
        "check fill| /tmp/x: refused after 16 MiB",
        "check fill| /tmp/y: refused after 0 MiB",
        "check fill passed",
    ] {
        assert!(err.contains(want), "missing {want:?}: {err}");
    }
    assert!(!err.contains("wrote"), "{err}");
    assert!(err.contains("Cannot fork"), "{err}");
    assert!(!err.contains("started 200"), "{err}");
    assert!(
        err.contains("labforge: check forks failed (exit code 2): refusing refs/heads/main"),
        "{err}"
    );
    assert!(!out.status.success(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the sleepers were ended with the check: {:?}",
        started.elapsed()
    );
    // No cgroup of a finished check is left behind.
    eventually(10, "the check cgroups to be removed", || async {
        let parent = limit.as_deref().and_then(|l| {
            let p = l.split(" in ").nth(1)?.split(',').next()?.to_owned();
            Some(std::path::PathBuf::from(p))
        })?;
        let left = std::fs::read_dir(&parent)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("check-"))
            .count();
        (left == 0).then_some(())
    })
    .await;
}
