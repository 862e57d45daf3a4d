//! The first hour of a new user, literally: in an empty folder, `labforge serve` with the default
//! `./data` (relative), every shell example of the README and the book run as written (admin CLI, git over
//! HTTP and SSH, the SSH commands, the curl API calls; only the ports differ), a configured deploy
//! running on pushes over both transports; then `serve --config labforge.toml` holding
//! `data_dir = "data"`, and a second `serve` on the same folder refused at once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::cli::free_port;
use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_labforge");
const README: &str = include_str!("../../README.md");

/// A scratch folder set up like a new user's machine: `labforge` on PATH, an SSH key in
/// `~/.ssh`, git's identity, and a password helper that answers as alice.
struct Scratch {
    dir: tempfile::TempDir,
    http: u16,
    ssh: u16,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // PostgreSQL (as the postgres user when we are root) must enter the folder.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let s = Self {
            dir,
            http: free_port(),
            ssh: free_port(),
        };
        let bin = s.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(BIN, bin.join("labforge")).unwrap();
        let home = s.path("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let keygen = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(home.join(".ssh/id_ed25519"))
            .status()
            .unwrap();
        assert!(keygen.success());
        // OpenSSH reads ~ from the password database, not $HOME: a wrapper points it at this
        // home's config, key and known_hosts. Host keys are checked strictly, as OpenSSH does by
        // default: the README's `ssh-keyscan` line is what makes the first clone work.
        std::fs::write(
            home.join(".ssh/config"),
            format!(
                "Host localhost\n  StrictHostKeyChecking yes\n  UserKnownHostsFile {}/.ssh/known_hosts\n  LogLevel ERROR\n  IdentitiesOnly yes\n",
                home.display()
            ),
        )
        .unwrap();
        write_script(
            &bin.join("ssh"),
            &format!(
                "exec /usr/bin/ssh -F {home}/.ssh/config -i {home}/.ssh/id_ed25519 \"$@\"\n",
                home = home.display()
            ),
        );
        write_script(
            &bin.join("askpass"),
            "case \"$1\" in Username*) echo alice ;; *) echo 'a long password' ;; esac\n",
        );
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A command run in the scratch folder with the new user's environment; the ports (the
    /// only thing taken from the environment) are set by the caller for `serve`.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.path("home"))
            .env("LANG", "C.UTF-8")
            .env("GIT_ASKPASS", self.path("bin/askpass"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "init.defaultBranch")
            .env("GIT_CONFIG_VALUE_0", "main")
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.org")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.org")
            .kill_on_drop(true);
        cmd
    }

    /// `labforge serve ARGS` with only the listen ports from the environment.
    async fn serve(&self, args: &[&str], env: &[(&str, &str)], http: u16, ssh: u16) -> Child {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.path("serve.log"))
            .unwrap();
        let mut cmd = self.command("labforge");
        cmd.arg("serve")
            .args(args)
            .env("LABFORGE_HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("LABFORGE_SSH_ADDR", format!("127.0.0.1:{ssh}"))
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("labforge serve starts")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("serve.log")).unwrap_or_default()
    }

    fn deployed(&self) -> usize {
        std::fs::read_to_string(self.path("deployed.txt")).map_or(0, |t| t.lines().count())
    }

    /// Runs a shell script in the scratch folder; panics with its output unless it succeeds.
    async fn sh(&self, script: &str) -> String {
        let out = self
            .command("bash")
            .args(["-c", script])
            .output()
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "script failed:\n{script}\n--- output:\n{text}\n--- serve log:\n{}",
            self.log()
        );
        text
    }

    async fn admin(&self, args: &[&str]) -> String {
        let out = self
            .command("labforge")
            .arg("admin")
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// The shell examples (` ```sh ` blocks) of the README and then of the book's chapters, in
/// SUMMARY.md's order, with the documented ports replaced by the test's. The two commands for
/// developers (cargo) and the containers (docker) are not first steps; system set-up on the host
/// (copying files into /etc, systemd) is fenced ` ```shell ` and shown, not run.
fn readme_blocks(http: u16, ssh: u16) -> Vec<String> {
    let mut texts = vec![README.to_owned()];
    for chapter in crate::book::chapters() {
        texts.push(std::fs::read_to_string(chapter).unwrap());
    }
    texts
        .iter()
        .flat_map(|text| sh_blocks(text))
        .filter(|block| !block.contains("cargo ") && !block.contains("docker "))
        .map(|block| {
            block
                .replace("localhost:3000", &format!("localhost:{http}"))
                .replace("localhost:2222", &format!("localhost:{ssh}"))
                .replace("-p 2222", &format!("-p {ssh}"))
        })
        .collect()
}

/// The ` ```sh ` blocks of a markdown text, in order.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

async fn stop(mut server: Child, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(server.id().expect("running") as i32);
    nix::sys::signal::kill(pid, signal).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("serve stops")
        .unwrap();
    assert!(status.success(), "{status}");
}

fn fsck(repo: &Path) {
    let out = std::process::Command::new("git")
        .args(["--git-dir", repo.to_str().unwrap(), "fsck", "--strict"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_runs_as_written_from_an_empty_folder() {
    let s = Scratch::new();
    write_script(
        &s.path("deploy.sh"),
        &format!(
            "echo \"$LABFORGE_NEW\" >> {}\n",
            s.path("deployed.txt").display()
        ),
    );
    let deploy = "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n";
    std::fs::write(s.path("labforge.toml"), deploy).unwrap();

    // 1. `labforge serve` with the default ./data; the deploy from a relative LABFORGE_CONFIG.
    let server = s
        .serve(&[], &[("LABFORGE_CONFIG", "labforge.toml")], s.http, s.ssh)
        .await;
    wait_healthy(s.http).await;
    let root = s.dir.path().canonicalize().unwrap();
    let log = s.log();
    for line in [
        format!("deploy dns: alice/dns main -> {}/deploy.sh", root.display()),
        "deploy dns: repository alice/dns does not exist yet".to_owned(),
        format!("data_dir={}/data", root.display()),
        format!("managed PostgreSQL in {}/data/pg", root.display()),
        "no users yet: create the first admin with".to_owned(),
    ] {
        assert!(log.contains(&line), "missing {line:?} in:\n{log}");
    }
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes off a terminal:\n{log}"
    );
    assert!(!log.contains("hunter2"));

    let blocks = readme_blocks(s.http, s.ssh);
    assert!(blocks.len() >= 6, "{blocks:?}");
    let mut script = String::from("set -e\n");
    for block in &blocks {
        script.push_str(&format!("cd {}\n{block}", s.dir.path().display()));
    }
    let out = s.sh(&script).await;
    assert!(out.contains("Hi alice!"), "{out}");

    // What the examples did, checked from outside.
    eventually_true(
        60,
        "the deploy to run for the HTTP and the SSH push",
        || s.deployed() >= 2,
    )
    .await;
    let repos = s.admin(&["repo", "list"]).await;
    for line in [
        "alice/dns\tprivate\tDNS zones",
        "alice/firewall\tprivate\tnftables rules",
        "alice/lab-notes\tprivate\t",
        "alice/new-repo\tprivate\t",
    ] {
        assert!(repos.contains(line), "{line:?} in\n{repos}");
    }
    let users = s.admin(&["user", "list"]).await;
    assert_eq!(
        users,
        "alice\talice@example.org\tadmin\tactive\nbob\tbob@example.org\tuser\tactive\n"
    );
    let token = s
        .admin(&["token", "create", "alice", "--title", "check"])
        .await;
    let api = |path: &str| {
        let url = format!("http://127.0.0.1:{}/api/v1/repos/alice/dns{path}", s.http);
        let token = token.trim().to_owned();
        async move {
            reqwest::Client::new()
                .get(url)
                .header("Authorization", format!("token {token}"))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(api("/hooks").await.as_array().unwrap().len(), 1);
    let issue = api("/issues/1").await;
    assert_eq!(issue["state"], "closed", "{issue}");
    assert_eq!(issue["labels"][0]["name"], "bug", "{issue}");
    assert_eq!(
        api("/issues?state=all").await.as_array().unwrap().len(),
        1,
        "one issue, no duplicate"
    );
    fsck(&s.path("data/repos/alice/dns.git"));
    // The backup examples: three backups of the running forge, one restored into ./restored,
    // whose PostgreSQL the restore stopped again.
    for file in ["lab-2026-11-28.tar.zst", "lab.tar", "lab-copy.tar.zst"] {
        let size = std::fs::metadata(s.path(file)).map_or(0, |m| m.len());
        assert!(size > 1000, "{file}: {size} bytes");
    }
    fsck(&s.path("restored/repos/alice/dns.git"));
    assert!(!s.path("restored/pg/data/postmaster.pid").exists());
    stop(server, nix::sys::signal::Signal::SIGINT).await;
    assert!(
        !s.path("data/pg/data/postmaster.pid").exists(),
        "Ctrl-C stopped the cluster serve started"
    );

    // 2. `serve --config labforge.toml` holding data_dir = "data": the same folder, relative.
    std::fs::write(
        s.path("labforge.toml"),
        format!("data_dir = \"data\"\n{deploy}"),
    )
    .unwrap();
    let server = s
        .serve(&["--config", "labforge.toml"], &[], s.http, s.ssh)
        .await;
    wait_healthy(s.http).await;
    let before = s.deployed();
    let http_url = format!(
        "http://alice:{}@localhost:{}/alice/dns.git",
        token.trim(),
        s.http
    );
    s.sh(&format!(
        "cd dns && git pull -q --rebase {http_url} main && echo 'ns IN A 10.0.0.7' >> db.lab && \
         git commit -qam ns && git push -q {http_url} main"
    ))
    .await;
    s.sh(&format!(
        "cd dns-over-ssh && git pull -q --rebase origin main && echo 'ntp IN A 10.0.0.8' >> db.lab \
         && git commit -qam ntp && git push -q ssh://git@localhost:{}/alice/dns.git main",
        s.ssh
    ))
    .await;
    eventually_true(60, "the deploy to run for both pushes", || {
        s.deployed() >= before + 2
    })
    .await;

    // 3. A second serve on the same folder (other ports) exits 1 at once, naming the first,
    //    and touches nothing: pushes through the first still work.
    let first = server.id().unwrap();
    let second = s
        .serve(
            &["--config", "labforge.toml"],
            &[],
            free_port(),
            free_port(),
        )
        .await;
    let out = tokio::time::timeout(Duration::from_secs(30), second.wait_with_output())
        .await
        .expect("the second serve exits at once")
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = s.log();
    assert!(
        log.contains(&format!("/data is already served by pid {first}")),
        "{log}"
    );
    s.sh(&format!(
        "cd dns && git pull -q --rebase {http_url} main && echo 'git IN A 10.0.0.9' >> db.lab && \
         git commit -qam git && git push -q {http_url} main"
    ))
    .await;
    wait_healthy(s.http).await;
    fsck(&s.path("data/repos/alice/dns.git"));
    stop(server, nix::sys::signal::Signal::SIGTERM).await;
}
