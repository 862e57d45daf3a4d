//! Git and the command interface over the built-in SSH server, driven by the real OpenSSH client.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::helpers::*;

/// A client key pair made by `ssh-keygen`; `kind` is `ed25519`, `ecdsa-256`, `ecdsa-384` or `rsa`.
pub(crate) fn keygen(dir: &Path, name: &str, kind: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let (t, bits) = match kind {
        "ed25519" => ("ed25519", None),
        "ecdsa-256" => ("ecdsa", Some("256")),
        "ecdsa-384" => ("ecdsa", Some("384")),
        "rsa" => ("rsa", Some("3072")),
        other => panic!("unknown key kind {other}"),
    };
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-q", "-t", t, "-N", "", "-C", name, "-f"])
        .arg(&path);
    if let Some(b) = bits {
        cmd.args(["-b", b]);
    }
    assert!(cmd.status().unwrap().success(), "ssh-keygen {kind}");
    path
}

pub(crate) fn public_key(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub")).unwrap()
}

/// Everything a test needs to reach the app over SSH with one key.
pub(crate) struct SshClient {
    port: u16,
    known_hosts: PathBuf,
    key: PathBuf,
    pub(crate) extra: Vec<String>,
}

impl SshClient {
    pub(crate) fn new(app: &TestApp, key: &Path) -> Self {
        Self::at(app.data.path(), app.work.path(), app.ssh_port, key)
    }

    /// For a server on `data` listening on `port` (a `labforge serve` of its own).
    pub(crate) fn at(data: &Path, work: &Path, port: u16, key: &Path) -> Self {
        let host_key = std::fs::read_to_string(data.join("ssh_host_ed25519_key.pub")).unwrap();
        let known_hosts = work.join(format!("known_hosts_{port}"));
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_key}")).unwrap();
        Self {
            port,
            known_hosts,
            key: key.to_path_buf(),
            extra: Vec::new(),
        }
    }

    /// The options, without `-p` (git passes the port from the URL itself).
    pub(crate) fn options(&self) -> Vec<String> {
        let mut o = vec![
            "-i".into(),
            self.key.to_str().unwrap().into(),
            "-F".into(),
            "/dev/null".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
        ];
        o.extend(self.extra.iter().cloned());
        o
    }

    pub(crate) fn git_ssh_command(&self) -> String {
        format!("ssh {}", self.options().join(" "))
    }

    pub(crate) fn url(&self, repo: &str) -> String {
        format!("ssh://git@127.0.0.1:{}/{repo}.git", self.port)
    }

    /// `ssh git@host COMMAND…` (no command: the greeting).
    pub(crate) async fn run(&self, command: &[&str]) -> Output {
        tokio::process::Command::new("ssh")
            .args(self.options())
            .args(["-p", &self.port.to_string(), "git@127.0.0.1"])
            .args(command)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap()
    }

    pub(crate) async fn git(&self, dir: &Path, args: &[&str]) -> Output {
        git_env(dir, args, &[("GIT_SSH_COMMAND", &self.git_ssh_command())]).await
    }

    pub(crate) async fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git(dir, args).await;
        assert!(
            out.status.success(),
            "git {args:?} over ssh failed: {}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) async fn user_with_key(app: &TestApp, user: &str, kind: &str) -> PathBuf {
    if app
        .forge
        .user(&labforge::model::Username::parse(user).unwrap())
        .await
        .is_err()
    {
        app.create_user(user, &format!("{user}-password")).await;
    }
    let key = keygen(
        &app.work.path().join("keys"),
        &format!("{user}-{kind}"),
        kind,
    );
    app.forge
        .add_key(
            &labforge::model::Username::parse(user).unwrap(),
            kind,
            &public_key(&key),
        )
        .await
        .expect("add key");
    key
}

#[tokio::test(flavor = "multi_thread")]
async fn push_and_clone_with_ed25519_ecdsa_and_rsa_keys() {
    let app = TestApp::spawn().await;
    let src = app.workdir("src");
    local_repo(&src, 3).await;
    for (i, kind) in ["ed25519", "ecdsa-256", "ecdsa-384", "rsa"]
        .into_iter()
        .enumerate()
    {
        let key = user_with_key(&app, "alice", kind).await;
        let ssh = SshClient::new(&app, &key);
        let repo = format!("alice/r{i}");
        // Push-to-create, as over HTTP.
        ssh.git_ok(&src, &["push", "-q", &ssh.url(&repo), "main"])
            .await;
        let dest = app.workdir(&format!("clone-{kind}"));
        ssh.git_ok(
            app.work.path(),
            &["clone", "-q", &ssh.url(&repo), dest.to_str().unwrap()],
        )
        .await;
        assert_eq!(
            git_ok(&dest, &["rev-parse", "HEAD"]).await,
            git_ok(&src, &["rev-parse", "HEAD"]).await,
            "{kind}"
        );
    }
    // RSA signatures with SHA-256 and SHA-512 both work.
    let rsa = app.work.path().join("keys/alice-rsa");
    for alg in ["rsa-sha2-256", "rsa-sha2-512"] {
        let mut ssh = SshClient::new(&app, &rsa);
        ssh.extra = vec!["-o".into(), format!("PubkeyAcceptedAlgorithms={alg}")];
        let out = ssh.run(&["whoami"]).await;
        assert!(out.status.success(), "{alg}: {}", stderr(&out));
        assert!(stdout(&out).contains("user: alice"), "{alg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_v0_v2_and_shallow_clones_over_ssh() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let ssh = SshClient::new(&app, &key);
    let src = app.workdir("src");
    local_repo(&src, 4).await;
    git_ok(&src, &["tag", "v1"]).await;
    ssh.git_ok(&src, &["push", "-q", &ssh.url("alice/dns"), "main", "v1"])
        .await;
    for version in ["0", "2"] {
        let dest = app.workdir(&format!("v{version}"));
        let out = git_env(
            app.work.path(),
            &[
                "-c",
                &format!("protocol.version={version}"),
                "clone",
                "-q",
                "--mirror",
                &ssh.url("alice/dns"),
                dest.to_str().unwrap(),
            ],
            &[
                ("GIT_SSH_COMMAND", &ssh.git_ssh_command()),
                ("GIT_TRACE_PACKET", "1"),
            ],
        )
        .await;
        assert!(out.status.success(), "v{version}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).contains("< version 2"),
            version == "2",
            "protocol v{version} negotiated"
        );
        let refs = git_ok(
            &dest,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        )
        .await;
        let want = git_ok(&src, &["for-each-ref", "--format=%(refname) %(objectname)"]).await;
        assert_eq!(refs, want);
    }
    let shallow = app.workdir("shallow");
    ssh.git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &ssh.url("alice/dns"),
            shallow.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        git_ok(&shallow, &["rev-list", "--count", "HEAD"])
            .await
            .trim(),
        "1"
    );
    // The scp-like form git users type with port 22 maps to the same path parsing.
    let out = ssh.run(&["git-upload-pack", "'alice/dns.git'"]).await;
    assert!(stdout(&out).contains("refs/heads/main"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_keys_readers_and_outsiders_are_refused() {
    let app = TestApp::spawn().await;
    let alice = user_with_key(&app, "alice", "ed25519").await;
    let bob = user_with_key(&app, "bob", "ed25519").await;
    let carol = user_with_key(&app, "carol", "ed25519").await;
    app.create_repo("alice", "secret", true).await;
    app.add_collaborator("alice/secret", "bob", "read").await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    let owner = SshClient::new(&app, &alice);
    owner
        .git_ok(&src, &["push", "-q", &owner.url("alice/secret"), "main"])
        .await;
    let before = git_ok(&app.server_repo("alice/secret"), &["rev-parse", "main"]).await;

    // A key nobody registered: refused at authentication.
    let stranger = keygen(&app.work.path().join("keys"), "stranger", "ed25519");
    let out = SshClient::new(&app, &stranger).run(&["whoami"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Permission denied (publickey)"),
        "{}",
        stderr(&out)
    );

    // A reader clones but cannot push.
    let reader = SshClient::new(&app, &bob);
    let clone = app.workdir("bob");
    reader
        .git_ok(
            app.work.path(),
            &[
                "clone",
                "-q",
                &reader.url("alice/secret"),
                clone.to_str().unwrap(),
            ],
        )
        .await;
    std::fs::write(clone.join("x"), "x").unwrap();
    git_ok(&clone, &["add", "."]).await;
    git_ok(&clone, &["commit", "-q", "-m", "x"]).await;
    let out = reader.git(&clone, &["push", "origin", "main"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("you have read access to alice/secret"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        git_ok(&app.server_repo("alice/secret"), &["rev-parse", "main"]).await,
        before
    );

    // An outsider learns neither content nor existence: same answer as a missing repository.
    let outsider = SshClient::new(&app, &carol);
    let private = outsider
        .git(
            app.work.path(),
            &["clone", &outsider.url("alice/secret"), "c1"],
        )
        .await;
    let missing = outsider
        .git(
            app.work.path(),
            &["clone", &outsider.url("alice/nothing"), "c2"],
        )
        .await;
    assert!(!private.status.success() && !missing.status.success());
    assert!(
        stderr(&private).contains("repository 'alice/secret' not found"),
        "{}",
        stderr(&private)
    );
    assert_eq!(
        stderr(&private).replace("secret", "X").replace("c1", "C"),
        stderr(&missing).replace("nothing", "X").replace("c2", "C")
    );
    let out = outsider.run(&["repo", "info", "alice/secret"]).await;
    assert_eq!(stderr(&out), "error: repository not found\n");
    assert!(!stdout(&outsider.run(&["repo", "list"]).await).contains("secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_interface() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    let ssh = SshClient::new(&app, &key);
    let fingerprint = app
        .forge
        .list_keys(
            &app.forge
                .user(&labforge::model::Username::parse("alice").unwrap())
                .await
                .unwrap(),
        )
        .await
        .unwrap()[0]
        .fingerprint
        .clone();

    let out = ssh.run(&["whoami"]).await;
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        format!("user: alice\nemail: alice@lab.test\nrole: user\nkey: {fingerprint}\n")
    );

    let out = ssh
        .run(&[
            "repo",
            "create",
            "lab-dns",
            "--private",
            "--description",
            "'DNS zones'",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("created alice/lab-dns\n"),
        "{}",
        stdout(&out)
    );
    assert!(app.server_repo("alice/lab-dns").join("HEAD").exists());

    let list = stdout(&ssh.run(&["repo", "list"]).await);
    assert!(
        list.contains(&format!(
            "alice/lab-dns\tprivate\tadmin\tssh://git@127.0.0.1:{}/alice/lab-dns.git",
            app.ssh_port
        )),
        "{list}"
    );
    let info = stdout(&ssh.run(&["repo", "info", "alice/lab-dns"]).await);
    assert!(info.contains("description: DNS zones\nvisibility: private\ndefault branch: main\nyour access: admin\n"), "{info}");
    let keys = stdout(&ssh.run(&["key", "list"]).await);
    assert!(
        keys.starts_with(&format!("{fingerprint}\tssh-ed25519\ted25519\t")),
        "{keys}"
    );
    assert!(stdout(&ssh.run(&["help"]).await).contains("repo create [ORG/]NAME"));

    let out = ssh.run(&["repo", "create", "lab-dns"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: a repository with that name already exists\n"
    );
    let out = ssh.run(&["frobnicate"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown command 'frobnicate'"));

    // No command: the greeting, then a clean close, even with a terminal requested.
    let mut tty = SshClient::new(&app, &key);
    tty.extra = vec!["-tt".into()];
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), tty.run(&[]))
        .await
        .expect("closes by itself");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Hi alice!") && text.contains("alice/lab-dns"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_exec_requests_are_refused_without_side_effects() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let ssh = SshClient::new(&app, &key);
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
    ] {
        let out = ssh.run(&command).await;
        assert_eq!(out.status.code(), Some(1), "{command:?} exits 1");
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{command:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!stdout(&out).contains("uid="), "{command:?} ran id");
    }
    assert!(!marker.exists(), "no command ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_environment_never_reaches_git_except_git_protocol() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    // The operator's hook (written straight to disk, as only an operator can) records git's env.
    let dump = app.work.path().join("hook-env");
    let hook = app.server_repo("alice/dns").join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\nenv > '{}'\ncat >/dev/null\n", dump.display()),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut ssh = SshClient::new(&app, &key);
    for var in [
        "LD_PRELOAD=/tmp/evil.so",
        "GIT_CONFIG_COUNT=1",
        "GIT_CONFIG_KEY_0=core.hooksPath",
        "GIT_EXEC_PATH=/tmp",
        "BASH_ENV=/tmp/x",
    ] {
        ssh.extra.extend(["-o".into(), format!("SetEnv={var}")]);
    }
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    let out = git_env(
        &src,
        // Pushes speak v0 or v1 (receive-pack has no v2); v1 makes git send GIT_PROTOCOL.
        &[
            "-c",
            "protocol.version=1",
            "push",
            &ssh.url("alice/dns"),
            "main",
        ],
        &[("GIT_SSH_COMMAND", &ssh.git_ssh_command())],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let env = std::fs::read_to_string(&dump).expect("the hook ran");
    for banned in [
        "LD_PRELOAD",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_KEY_0",
        "GIT_EXEC_PATH=/tmp",
        "BASH_ENV",
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

/// The identity is the key that signed, never one merely offered: offer Alice's public key (the
/// server says it would accept it), fail to sign with it, then sign with Bob's. The session must
/// be Bob's. (Gitea, Soft Serve and others once took the first offered key.)
#[tokio::test(flavor = "multi_thread")]
async fn the_session_identity_is_the_key_that_signed() {
    let app = TestApp::spawn().await;
    let alice = user_with_key(&app, "alice", "ed25519").await;
    let bob = user_with_key(&app, "bob", "ed25519").await;
    // Alice's public half alone, where ssh finds no private key to sign with.
    let offered = app.work.path().join("offer-only");
    std::fs::create_dir_all(&offered).unwrap();
    let alice_pub = offered.join("alice.pub");
    std::fs::copy(alice.with_extension("pub"), &alice_pub).unwrap();
    let mut ssh = SshClient::new(&app, &alice_pub);
    ssh.extra = vec!["-i".into(), bob.to_str().unwrap().into(), "-v".into()];
    let out = ssh.run(&["whoami"]).await;
    let log = stderr(&out);
    assert!(
        log.contains("Server accepts key") && log.contains("alice.pub"),
        "Alice's key was offered and accepted:\n{log}"
    );
    assert!(out.status.success(), "{log}");
    assert!(
        stdout(&out).starts_with("user: bob\n"),
        "the signer is the identity: {}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_takes_its_git_process_with_it() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let ssh = SshClient::new(&app, &key);
    let repo_path = app.server_repo("alice/dns").canonicalize().unwrap();
    let running = || git_processes_for(&repo_path);
    // upload-pack advertises its refs and then waits for the client's wants, forever.
    let mut client = tokio::process::Command::new("ssh")
        .args(ssh.options())
        .args([
            "-p",
            &app.ssh_port.to_string(),
            "git@127.0.0.1",
            "git-upload-pack 'alice/dns.git'",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    eventually_true(30, "upload-pack to start", || running() > 0).await;
    client.kill().await.unwrap();
    eventually_true(30, "upload-pack to be killed", || running() == 0).await;
}

fn git_processes_for(repo: &Path) -> usize {
    let needle = repo.to_str().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmd| {
            let cmd = String::from_utf8_lossy(cmd);
            cmd.contains("upload-pack") && cmd.contains(needle)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_concurrent_clones_over_ssh_all_succeed() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "small", false).await;
    let ssh = std::sync::Arc::new(SshClient::new(&app, &key));
    let src = app.workdir("src");
    local_repo(&src, 5).await;
    ssh.git_ok(&src, &["push", "-q", &ssh.url("alice/small"), "main"])
        .await;
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await;
    let mut clones = tokio::task::JoinSet::new();
    for i in 0..100 {
        let ssh = std::sync::Arc::clone(&ssh);
        let dest = app.workdir(&format!("c{i}"));
        let work = app.work.path().to_path_buf();
        clones.spawn(async move {
            let out = ssh
                .git(
                    &work,
                    &[
                        "clone",
                        "-q",
                        &ssh.url("alice/small"),
                        dest.to_str().unwrap(),
                    ],
                )
                .await;
            (out.status.success(), stderr(&out), dest)
        });
    }
    let mut failures = Vec::new();
    while let Some(result) = clones.join_next().await {
        let (ok, err, dest) = result.unwrap();
        if ok {
            assert_eq!(git_ok(&dest, &["rev-parse", "HEAD"]).await, head);
        } else {
            failures.push(err);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 100 clones failed; first: {}",
        failures.len(),
        failures[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_never_authenticates_is_closed() {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn_with(&[("LABFORGE_SSH_AUTH_TIMEOUT_SECS", "1")]).await;
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", app.ssh_port))
        .await
        .unwrap();
    // Say nothing; the server greets, then hangs up once the timeout passes.
    let mut seen = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        socket.read_to_end(&mut seen),
    )
    .await;
    assert!(read.is_ok(), "the server kept a silent connection open");
    assert!(
        seen.starts_with(b"SSH-2.0-labforge"),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn git_archive_remote_over_ssh() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let ssh = SshClient::new(&app, &key);
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    ssh.git_ok(&src, &["push", "-q", &ssh.url("alice/dns"), "main"])
        .await;
    let tar = app.work.path().join("out.tar");
    ssh.git_ok(
        app.work.path(),
        &[
            "archive",
            &format!("--remote={}", ssh.url("alice/dns")),
            "-o",
            tar.to_str().unwrap(),
            "main",
        ],
    )
    .await;
    let listing = std::process::Command::new("tar")
        .arg("tf")
        .arg(&tar)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        "file0.txt\nfile1.txt\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_speak_to_the_pusher_over_ssh_too() {
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
    let ssh = SshClient::new(&app, &key);
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

    let repo = app.grant("alice/dns").await;
    app.forge.protect_branch(&repo, "ma*", false).await.unwrap();
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
