//! The real binary killed with -9 while a deploy runs and another is queued: after the restart
//! the running one is `interrupted` and its left-over script ended, the queued one runs, and the
//! repository is intact with its refs equal to the recorded push.

use std::path::Path;
use std::time::Duration;

use crate::cli::{admin, free_port, labforge};
use crate::helpers::{
    eventually, eventually_true, git, git_ok, local_repo, random_hex, stderr, wait_healthy,
};

async fn serve_with_config(data: &Path, port: u16) -> tokio::process::Child {
    let log = std::fs::File::create(data.join(format!("serve-{}.log", random_hex(3)))).unwrap();
    let child = labforge(data, port)
        .env("LABFORGE_CONFIG", data.join("labforge.toml"))
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts");
    wait_healthy(port).await;
    child
}

/// Whether `pid` runs (a zombie waiting for its reaper does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

async fn runs(data: &Path) -> Vec<Vec<String>> {
    let (ok, out, err) = admin(data, &["deploys", "alice/dns"], "").await;
    assert!(ok, "{err}");
    out.lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_with_a_deploy_running_and_one_queued() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();
    let (marker, pidfile, ran) = (
        data.join("marker"),
        data.join("deploy.pid"),
        data.join("ran.txt"),
    );
    // The first run sleeps (and is killed with the server); later runs finish at once.
    std::fs::write(
        data.join("deploy.sh"),
        format!(
            "#!/bin/sh\necho \"$LABFORGE_NEW\" >> {ran}\nif [ ! -e {marker} ]; then touch {marker}; echo $$ > {pid}; sleep 600; fi\necho done\n",
            ran = ran.display(),
            marker = marker.display(),
            pid = pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        data.join("deploy.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        data.join("labforge.toml"),
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n",
    )
    .unwrap();
    let (ok, _, err) = admin(
        data,
        &[
            "user",
            "create",
            "alice",
            "--email",
            "a@lab.test",
            "--password-stdin",
        ],
        "alice-password\n",
    )
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = admin(data, &["repo", "create", "alice/dns"], "").await;
    assert!(ok, "{err}");

    let port = free_port();
    let mut server = serve_with_config(data, port).await;
    let work = data.join("work");
    local_repo(&work, 1).await;
    let url = format!("http://alice:alice-password@127.0.0.1:{port}/alice/dns.git");
    git_ok(&work, &["push", "-q", &url, "main"]).await;
    eventually_true(60, "the first deploy to start", || pidfile.exists()).await;
    std::fs::write(work.join("b.txt"), "b\n").unwrap();
    git_ok(&work, &["add", "."]).await;
    git_ok(&work, &["commit", "-q", "-m", "second"]).await;
    let out = git(&work, &["push", &url, "main"]).await;
    assert!(
        out.status.success() && stderr(&out).contains("deploy dns #2 queued"),
        "{}",
        stderr(&out)
    );
    let head = git_ok(&work, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();

    server.kill().await.unwrap(); // SIGKILL: no shutdown code runs
    // The deploy's script outlives the server (its own process group, sleeping on).
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid), "the script runs on after the server died");

    // The restart ends it before the queued run uses the deploy's folder.
    let mut server = serve_with_config(data, port).await;
    eventually_true(60, "the left-over script to be ended", || !alive(pid)).await;
    eventually_true(60, "the queued deploy to run after the restart", || {
        std::fs::read_to_string(&ran).is_ok_and(|t| t.lines().count() == 2)
    })
    .await;
    let listed = eventually(30, "both runs to finish", || async {
        let listed = runs(data).await;
        let finished = listed.iter().all(|r| r[2] != "running" && r[2] != "queued");
        finished.then_some(listed)
    })
    .await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        (listed[0][0].as_str(), listed[0][2].as_str()),
        ("2", "succeeded"),
        "{listed:?}"
    );
    assert_eq!(
        (listed[1][0].as_str(), listed[1][2].as_str()),
        ("1", "interrupted"),
        "{listed:?}"
    );
    assert_eq!(
        listed[0][4], head,
        "run 2 deployed the recorded push's commit"
    );

    let repo = data.join("repos/alice/dns.git");
    let fsck = std::process::Command::new("git")
        .args(["--git-dir", repo.to_str().unwrap(), "fsck", "--strict"])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    let on_disk = std::process::Command::new("git")
        .args([
            "--git-dir",
            repo.to_str().unwrap(),
            "rev-parse",
            "refs/heads/main",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&on_disk.stdout).trim(), head);

    // SIGTERM: a clean stop, cluster included.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
