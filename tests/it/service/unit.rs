//! The unit file: `systemd-analyze verify` and its exposure score, and its system call filter
//! held to what serve, git and a sandboxed check really call.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::Command;

use super::{BIN, Systemd, alice_repo, log};
use crate::cli::free_port;
use crate::helpers::*;

const UNIT: &str = include_str!("../../../contrib/systemd/labforge.service");

/// `systemd-analyze` runs here (offline: it needs no running systemd); None with the reason
/// printed when it is not installed (Debian: `systemd`), so the caller skips.
fn systemd_analyze() -> Option<std::process::Command> {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze is not installed (Debian: apt-get install systemd)");
        return None;
    }
    Some(std::process::Command::new("systemd-analyze"))
}

/// The unit with this build's binary in place of /usr/bin/labforge (verify checks it exists).
fn unit_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("labforge.service");
    std::fs::write(&path, UNIT.replace("/usr/bin/labforge", BIN)).unwrap();
    path
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    for setting in [
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=labforge",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/labforge",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service @mount sethostname",
        "Delegate=yes",
    ] {
        assert!(
            UNIT.lines().any(|l| l.starts_with(setting)),
            "{setting} missing"
        );
    }
    assert!(
        !UNIT.contains("DynamicUser"),
        "a fixed labforge user owns the data"
    );
    let Some(mut verify) = systemd_analyze() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_file(dir.path());
    let out = verify.arg("verify").arg(&unit).output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = systemd_analyze()
        .unwrap()
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .split("Overall exposure level for labforge.service:")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(level <= 5.0, "exposure {level} (OK is below 5):\n{text}");
}

/// The system calls a systemd syscall group allows, its nested groups expanded (bounded).
fn syscall_group(groups: &[&str]) -> std::collections::BTreeSet<String> {
    let mut allowed = std::collections::BTreeSet::new();
    let mut todo: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(group) = todo.pop() {
        assert!(seen.len() < 100, "groups nest too deep: {seen:?}");
        if !seen.insert(group.clone()) {
            continue;
        }
        if !group.starts_with('@') {
            allowed.insert(group); // one call named by itself
            continue;
        }
        let out = systemd_analyze()
            .unwrap()
            .args(["syscall-filter", &group])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines().skip(1).map(str::trim) {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if line.starts_with('@') {
                todo.push(line.to_owned());
            } else {
                allowed.insert(line.to_owned());
            }
        }
    }
    allowed
}

/// Every system call serve makes (with git, a push's hooks, and a check inside bubblewrap,
/// counted by strace across all processes) is one the unit's `SystemCallFilter=` allows: the
/// sandbox keeps working under the unit. (On a host whose PID 1 is systemd the same is seen
/// with `systemd-run -p SystemCallFilter=...`; this machine's PID 1 is not.)
#[tokio::test(flavor = "multi_thread")]
async fn the_unit_s_system_call_filter_allows_a_sandboxed_check() {
    if systemd_analyze().is_none() {
        return;
    }
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: strace is not installed (Debian: apt-get install strace)");
        return;
    }
    let filter = UNIT
        .lines()
        .find_map(|l| l.strip_prefix("SystemCallFilter="))
        .unwrap();
    let groups: Vec<&str> = filter.split_whitespace().collect();
    let allowed = syscall_group(&groups);
    assert!(allowed.contains("pivot_root") && allowed.contains("openat"));

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let check = d.join("look.sh");
    std::fs::write(&check, "#!/bin/sh\necho \"look: $(ls | wc -l) files\"\n").unwrap();
    std::fs::set_permissions(&check, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = d.join("labforge.toml");
    std::fs::write(
        &config,
        "[[check]]\nname = \"look\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"look.sh\"\n",
    )
    .unwrap();
    let systemd = Systemd::new(d);
    let port = free_port();
    let database = fresh_database_url().await;
    let log_file = std::fs::File::create(d.join("serve.log")).unwrap();
    let counts = d.join("strace.txt");
    let mut server = Command::new("strace")
        .args(["-f", "-qq", "-c", "-o"])
        .arg(&counts)
        .arg(BIN)
        .arg("serve")
        .current_dir(d)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database)
        .env("LABFORGE_CONFIG", &config)
        .env("LABFORGE_DATA_DIR", d.join("data"))
        .env("LABFORGE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("LABFORGE_SSH_ADDR", "127.0.0.1:0")
        .env("NOTIFY_SOCKET", &systemd.path)
        .stdout(Stdio::null())
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::task::block_in_place(|| systemd.read_until(120, "READY=1"));
    assert!(
        log(d).contains("(sandboxed, timeout"),
        "the check runs in bubblewrap here:\n{}",
        log(d)
    );
    let url = alice_repo(d, &config, &database, port);
    let local = d.join("local");
    std::fs::create_dir_all(&local).unwrap();
    local_repo(&local, 2).await;
    let out = git(&local, &["push", &url, "HEAD:main"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("look: 2 files"), "{}", stderr(&out));

    // strace writes its counts when serve has stopped.
    let pid = nix::unistd::Pid::from_raw(
        std::fs::read_to_string(format!(
            "/proc/{}/task/{}/children",
            server.id().unwrap(),
            server.id().unwrap()
        ))
        .unwrap()
        .split_whitespace()
        .next()
        .expect("strace's child: serve")
        .parse()
        .unwrap(),
    );
    nix::sys::signal::kill(pid, Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("serve stops")
        .unwrap();
    assert!(status.success(), "{status}");
    let table = std::fs::read_to_string(&counts).unwrap();
    let used: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| {
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .filter(|s| *s != "total" && *s != "syscall")
        .collect();
    assert!(used.len() > 30, "strace counted: {table}");
    let refused: Vec<&&str> = used.iter().filter(|s| !allowed.contains(**s)).collect();
    assert!(
        refused.is_empty(),
        "system calls the unit's filter refuses: {refused:?}\n{table}"
    );
}
