//! Sharing port 22 with the host's OpenSSH: a real `sshd` (Debian's openssh-server) started on
//! a loopback port with its own host key, its `AuthorizedKeysCommand` the built `labforge keys`
//! and the forced command it prints `labforge serv`, both talking to the test's running forge.
//! The login user is root (the tests run as root and may not add a `git` account to the
//! machine), so `keys -e root`; the README's lines use `git`.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::helpers::*;
use crate::ssh::{keygen, public_key, stdout, user_with_key};

mod deploy_keys;
mod socket;

pub(super) const LABFORGE: &str = env!("CARGO_BIN_EXE_labforge");

/// A running sshd for one test; killed when dropped.
struct Sshd {
    port: u16,
    dir: PathBuf,
    _child: tokio::process::Child,
}

/// The configuration `serv` and `keys` read: only where the data folder is.
pub(super) fn serv_config(app: &TestApp) -> PathBuf {
    let file = app.work.path().join("serv.toml");
    let data = app.data.path().canonicalize().unwrap();
    std::fs::write(&file, format!("data_dir = \"{}\"\n", data.display())).unwrap();
    file
}

impl Sshd {
    async fn start(app: &TestApp) -> Self {
        let dir = app.work.path().join("sshd");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap(); // sshd's privilege separation folder
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(dir.join("ssh_host_ed25519_key"))
            .status()
            .unwrap();
        assert!(status.success());
        let config = serv_config(app);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The README's lines, with root for git (see the module comment).
        let sshd_config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/ssh_host_ed25519_key\n\
             PidFile {dir}/sshd.pid\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nPermitRootLogin forced-commands-only\n\
             AcceptEnv GIT_PROTOCOL GIT_* LABFORGE_*\n\
             Match User root\n\
             \x20   AuthorizedKeysFile none\n\
             \x20   AuthorizedKeysCommandUser root\n\
             \x20   AuthorizedKeysCommand {LABFORGE} --config {config} keys -e root -u %u -t %t -k %k\n\
             \x20   DisableForwarding yes\n\
             \x20   PermitTTY no\n",
            dir = dir.display(),
            config = config.display(),
        );
        let file = dir.join("sshd_config");
        std::fs::write(&file, sshd_config).unwrap();
        let child = tokio::process::Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("sshd (Debian's openssh-server) is installed");
        eventually(10, "sshd listens", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
        })
        .await;
        Self {
            port,
            dir,
            _child: child,
        }
    }

    fn client(&self, key: &Path) -> Client {
        let host_key = std::fs::read_to_string(self.dir.join("ssh_host_ed25519_key.pub")).unwrap();
        let known_hosts = self.dir.join("known_hosts");
        std::fs::write(
            &known_hosts,
            format!("[127.0.0.1]:{} {host_key}", self.port),
        )
        .unwrap();
        Client {
            port: self.port,
            options: vec![
                "-i".into(),
                key.display().to_string(),
                "-F".into(),
                "/dev/null".into(),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
                "-o".into(),
                "BatchMode=yes".into(),
                "-o".into(),
                "StrictHostKeyChecking=yes".into(),
                "-o".into(),
                format!("UserKnownHostsFile={}", known_hosts.display()),
            ],
        }
    }
}

struct Client {
    port: u16,
    options: Vec<String>,
}

impl Client {
    fn url(&self, repo: &str) -> String {
        format!("ssh://root@127.0.0.1:{}/{repo}.git", self.port)
    }

    async fn run(&self, command: &[&str]) -> Output {
        tokio::process::Command::new("ssh")
            .args(&self.options)
            .args(["-p", &self.port.to_string(), "root@127.0.0.1"])
            .args(command)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap()
    }

    async fn git(&self, dir: &Path, args: &[&str]) -> Output {
        let ssh = format!("ssh {}", self.options.join(" "));
        git_env(dir, args, &[("GIT_SSH_COMMAND", &ssh)]).await
    }
}

/// `labforge keys` run as sshd runs it.
pub(super) fn keys(config: &Path, user: &str, key: &Path) -> Output {
    let public = public_key(key);
    let mut words = public.split_whitespace();
    let (kind, base64) = (words.next().unwrap(), words.next().unwrap());
    std::process::Command::new(LABFORGE)
        .arg("--config")
        .arg(config)
        .args(["keys", "-e", "root", "-u", user, "-t", kind, "-k", base64])
        .env_clear()
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_prints_a_forced_command_only_for_known_keys_and_the_expected_user() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    let config = serv_config(&app);
    let out = keys(&config, "root", &key);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let expected_key = public_key(&key)
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let config = config.canonicalize().unwrap();
    let prefix = format!(
        "command=\"{LABFORGE} --config {} serv key-",
        config.display()
    );
    assert!(line.starts_with(&prefix), "{line}");
    assert!(
        line.ends_with(&format!("\",restrict {expected_key}\n")),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");

    // Another login user, an unknown key: nothing, and sshd goes on to refuse.
    let out = keys(&config, "www-data", &key);
    assert!(out.status.success() && out.stdout.is_empty());
    let stranger = keygen(&app.work.path().join("keys"), "stranger", "ed25519");
    let out = keys(&config, "root", &stranger);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        stderr(&out)
    );
    // A disabled account's keys are no longer printed (sshd asks at every login).
    let alice = labforge::model::Username::parse("alice").unwrap();
    let operator = app.forge.site_admin_for_operator(&app.system_key);
    app.forge
        .set_user_disabled(&operator, &alice, true)
        .await
        .unwrap();
    let out = keys(&config, "root", &key);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_push_and_commands_through_the_hosts_sshd() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let sshd = Sshd::start(&app).await;
    let ssh = sshd.client(&key);

    let src = app.workdir("src");
    local_repo(&src, 2).await;
    let out = ssh
        .git(&src, &["push", &ssh.url("alice/dns"), "main"])
        .await;
    assert!(out.status.success(), "push: {}", stderr(&out));
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await;
    let clone = app.workdir("clone");
    let out = ssh
        .git(
            app.work.path(),
            &["clone", &ssh.url("alice/dns"), clone.to_str().unwrap()],
        )
        .await;
    assert!(out.status.success(), "clone: {}", stderr(&out));
    assert_eq!(git_ok(&clone, &["rev-parse", "HEAD"]).await, head);
    // The short form port 22 gets (`git@host:OWNER/REPO.git`) sends the path without its
    // leading slash; the port comes from the ssh options here, as a scp-like URL has none.
    let mut short = sshd.client(&key);
    short.options.extend(["-p".into(), sshd.port.to_string()]);
    let out = short
        .git(&src, &["ls-remote", "root@127.0.0.1:alice/dns.git", "main"])
        .await;
    assert!(out.status.success(), "ls-remote: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(head.trim()));

    // `git archive --remote` (upload-archive), counted first as on the built-in server.
    let tar = app.work.path().join("dns.tar");
    let out = ssh
        .git(
            &src,
            &[
                "archive",
                "--remote",
                &ssh.url("alice/dns"),
                "-o",
                tar.to_str().unwrap(),
                "main",
            ],
        )
        .await;
    assert!(out.status.success(), "archive: {}", stderr(&out));
    assert!(std::fs::metadata(&tar).unwrap().len() > 0);

    // Push-to-create, as on the built-in server.
    let out = ssh
        .git(&src, &["push", &ssh.url("alice/fresh"), "main"])
        .await;
    assert!(out.status.success(), "push-to-create: {}", stderr(&out));
    assert!(app.server_repo("alice/fresh").exists());

    let out = ssh.run(&["whoami"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("alice"), "{}", stdout(&out));
    let out = ssh.run(&["repo", "list"]).await;
    assert!(stdout(&out).contains("alice/dns"), "{}", stdout(&out));
    assert!(stdout(&out).contains("alice/fresh"), "{}", stdout(&out));
    // No command: the greeting.
    let out = ssh.run(&[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("Hi alice!"), "{}", stdout(&out));

    // A key labforge does not know never logs in.
    let stranger = keygen(&app.work.path().join("keys"), "stranger", "ed25519");
    let out = sshd.client(&stranger).run(&["whoami"]).await;
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn protected_branches_and_deploy_wait_through_the_hosts_sshd() {
    let conf = tempfile::tempdir().unwrap();
    let deploy = conf.path().join("hello.sh");
    std::fs::write(&deploy, "#!/bin/sh\necho \"hello $LABFORGE_PUSHER\"\n").unwrap();
    std::fs::set_permissions(&deploy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = conf.path().join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"hello.sh\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let sshd = Sshd::start(&app).await;
    let ssh = sshd.client(&key);
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    let out = ssh
        .git(
            &src,
            &["push", "-o", "deploy=wait", &ssh.url("alice/dns"), "main"],
        )
        .await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("remote: deploy dns #1 queued: "), "{err}");
    assert!(err.contains("remote: deploy dns #1| hello alice"), "{err}");
    assert!(err.contains("remote: deploy dns #1 succeeded in "), "{err}");

    let grant = app.grant("alice/dns").await;
    app.forge
        .protect_branch(&grant, "ma*", false)
        .await
        .unwrap();
    let out = ssh
        .git(&src, &["push", &ssh.url("alice/dns"), "+HEAD~1:main"])
        .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("remote: labforge: refusing refs/heads/main: force-push"),
        "{}",
        stderr(&out)
    );
}

/// The built-in server's corpus (ssh.rs, `hostile_exec_requests_are_refused_without_side_effects`),
/// here reaching `serv` as `SSH_ORIGINAL_COMMAND`.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_commands_through_the_hosts_sshd_are_refused_without_side_effects() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let sshd = Sshd::start(&app).await;
    let ssh = sshd.client(&key);
    let marker = app.work.path().join("pwned");
    let touch = format!("touch {}", marker.display());
    for command in [
        vec!["git-upload-pack", "'../../etc'"],
        vec!["git-upload-pack", "'alice/dns'", ";", "id"],
        vec!["git-upload-pack", "'alice/dns';", &touch],
        vec!["git-upload-pack", "'alice/dns'", "&&", &touch],
        vec!["git-upload-pack", "'--upload-pack=touch", "/tmp/x'"],
        vec![&touch],
        vec!["sh", "-c", "id"],
        vec!["$(touch", "/tmp/y)"],
        vec!["`id`"],
    ] {
        let out = ssh.run(&command).await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{command:?} exits 1: {}",
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{command:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!stdout(&out).contains("uid="), "{command:?} ran id");
    }
    assert!(!marker.exists(), "no command ran");
    // The answers are labforge's own (its parser and its command interface), not a shell's.
    let out = ssh.run(&["git-upload-pack", "'../../etc'"]).await;
    assert!(
        stderr(&out).starts_with("error: refused: "),
        "{}",
        stderr(&out)
    );
    let out = ssh.run(&["sh", "-c", "id"]).await;
    assert!(
        stderr(&out).starts_with("error: unknown command 'sh -c id'"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_environment_through_the_hosts_sshd_never_reaches_git_or_serv() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let dump = app.work.path().join("hook-env");
    let hook = app.server_repo("alice/dns").join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\nenv > '{}'\ncat >/dev/null\n", dump.display()),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sshd = Sshd::start(&app).await;
    let mut ssh = sshd.client(&key);
    // This sshd accepts GIT_* and LABFORGE_* from clients (a careless AcceptEnv): serv must not
    // let them steer it (another data folder) nor pass them to git.
    for var in [
        "GIT_CONFIG_COUNT=1",
        "GIT_CONFIG_KEY_0=core.hooksPath",
        "GIT_CONFIG_VALUE_0=/tmp",
        "GIT_EXEC_PATH=/tmp",
        "LABFORGE_DATA_DIR=/nonexistent",
        "LABFORGE_CONFIG=/nonexistent",
    ] {
        ssh.options.extend(["-o".into(), format!("SetEnv={var}")]);
    }
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    let out = ssh
        .git(
            &src,
            &[
                "-c",
                "protocol.version=1",
                "push",
                &ssh.url("alice/dns"),
                "main",
            ],
        )
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let env = std::fs::read_to_string(&dump).expect("the hook ran");
    for banned in [
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_KEY_0",
        "GIT_EXEC_PATH=/tmp",
        "LABFORGE_DATA_DIR",
        "LABFORGE_CONFIG",
    ] {
        assert!(
            !env.contains(banned),
            "{banned} leaked into git's environment:\n{env}"
        );
    }
    assert!(
        env.lines().any(|l| l == "GIT_PROTOCOL=version=1"),
        "GIT_PROTOCOL passes:\n{env}"
    );
}
