//! Backups with real processes: `serve` on its own cluster, pushes in a loop while
//! `labforge backup` runs, `--verify`, `restore` into a fresh folder and a new `serve` on it;
//! truncated, tampered and newer backups refused; scheduled backups from `serve`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use sha2::Digest;
use tokio::process::{Child, Command};

use crate::cli::{admin, free_port, labforge};
use crate::helpers::*;

/// A `serve` on `data` with fixed HTTP and SSH ports and the deploy config in `etc`.
struct Server {
    child: Child,
    port: u16,
    ssh_port: u16,
}

impl Server {
    async fn start(data: &Path, etc: &Path) -> Self {
        Self::start_with(data, etc, &[]).await
    }

    async fn start_with(data: &Path, etc: &Path, env: &[(&str, &str)]) -> Self {
        let (port, ssh_port) = (free_port(), free_port());
        let log = std::fs::File::create(etc.join(format!("serve-{port}.log"))).unwrap();
        let child = serve_command(data, etc, port)
            .envs(env.iter().copied())
            .env("LABFORGE_SSH_ADDR", format!("127.0.0.1:{ssh_port}"))
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("serve starts");
        wait_healthy(port).await;
        Self {
            child,
            port,
            ssh_port,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn url(&self, creds: &str, repo: &str) -> String {
        format!("http://{creds}@127.0.0.1:{}/{repo}.git", self.port)
    }

    async fn stop(mut self) {
        let pid = self.child.id().expect("running") as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("serve exits")
            .unwrap();
        assert!(status.success(), "{status}");
    }
}

fn serve_command(data: &Path, etc: &Path, port: u16) -> Command {
    let mut cmd = labforge(data, port);
    cmd.env("LABFORGE_CONFIG", etc.join("labforge.toml"));
    cmd
}

/// `labforge ARGS` against `data`; (success, stdout, stderr).
async fn run(data: &Path, etc: &Path, args: &[&str]) -> (bool, String, String) {
    let out = serve_command(data, etc, 0)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("labforge runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn admin_ok(data: &Path, args: &[&str], stdin: &str) -> String {
    let (ok, out, err) = admin(data, args, stdin).await;
    assert!(ok, "admin {args:?}: {err}");
    out
}

fn etc_with_deploy() -> tempfile::TempDir {
    let etc = tempfile::tempdir().unwrap();
    let script = etc.path().join("deploy.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"deployed $LABFORGE_NEW\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        etc.path().join("labforge.toml"),
        "[webhook]\nallowed_hosts = \"loopback\"\n\n[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n",
    )
    .unwrap();
    etc
}

async fn api(server: &Server, token: &str, method: &str, path: &str, body: Value) -> Value {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1{path}", server.base());
    let req = match method {
        "POST" => client.post(url).json(&body),
        _ => client.get(url),
    };
    let res = req
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// The manifest inside a backup (compressed or not), read with the same crates a user's
/// `tar`/`zstd` would agree with.
fn manifest_of(path: &Path) -> Value {
    let mut bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        bytes = zstd::decode_all(&bytes[..]).unwrap();
    }
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(
        entry.path().unwrap().to_str().unwrap(),
        "labforge-backup/manifest.json"
    );
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `NAME ID` lines of a repository's refs, sorted.
async fn refs_on_disk(repo: &Path) -> Vec<String> {
    let out = git_ok(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]).await;
    let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn refs_in_manifest(repo: &Value) -> Vec<String> {
    let mut lines: Vec<String> = repo["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["name"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        })
        .collect();
    lines.sort();
    lines
}

fn psql(data: &Path, sql: &str) -> String {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("bin/psql"))
        .filter(|p| p.is_file())
        .max()
        .expect("psql is installed with the server");
    let out = std::process::Command::new(bin)
        .args(["-X", "-tA", "-U", "labforge", "-d", "labforge", "-h"])
        .arg(data.join("pg/run"))
        .args(["-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Signs in through the web form as a browser does; true when a session cookie comes back.
async fn signs_in(base: &str, user: &str, password: &str) -> bool {
    use crate::web_auth::{client, cookie_value, hidden, set_cookie};
    let form = client().get(format!("{base}/login")).send().await.unwrap();
    let login_cookie = cookie_value(&set_cookie(&form, "labforge_login").expect("login cookie"));
    let csrf = hidden(&form.text().await.unwrap(), "csrf");
    let res = client()
        .post(format!("{base}/login"))
        .header("cookie", format!("labforge_login={login_cookie}"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    res.status() == 303 && set_cookie(&res, "labforge_session").is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_while_pushing_then_restore_into_a_fresh_folder() {
    let etc = etc_with_deploy();
    let etc = etc.path();
    let dir1 = tempfile::tempdir().unwrap();
    let data1 = dir1.path();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let server = Server::start(data1, etc).await;

    // Several owners, a private repository, a collaborator, a token and an SSH key.
    admin_ok(
        data1,
        &[
            "user",
            "create",
            "alice",
            "--email",
            "alice@lab.test",
            "--admin",
            "--password-stdin",
        ],
        "alice-password-1\n",
    )
    .await;
    admin_ok(
        data1,
        &[
            "user",
            "create",
            "bob",
            "--email",
            "bob@lab.test",
            "--password-stdin",
        ],
        "bob-password-1\n",
    )
    .await;
    admin_ok(data1, &["repo", "create", "alice/dns", "--public"], "").await;
    admin_ok(data1, &["repo", "create", "alice/secrets", "--private"], "").await;
    admin_ok(data1, &["repo", "create", "bob/fw", "--public"], "").await;
    admin_ok(data1, &["repo", "create", "bob/empty", "--private"], "").await;
    admin_ok(
        data1,
        &[
            "collaborator",
            "add",
            "alice/secrets",
            "bob",
            "--access",
            "read",
        ],
        "",
    )
    .await;
    let token = admin_ok(
        data1,
        &["token", "create", "alice", "--title", "laptop"],
        "",
    )
    .await
    .trim()
    .to_owned();
    let key = work.join("bob_key");
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "bob", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    admin_ok(data1, &["key", "add", "bob", "--title", "laptop"], &public).await;

    // Pushes: a deploy runs for alice/dns; issues, labels, comments and a webhook.
    let dns = work.join("dns");
    local_repo(&dns, 2).await;
    git_ok(&dns, &["tag", "-a", "v1", "-m", "first release"]).await;
    let alice = format!("alice:{token}");
    git_ok(
        &dns,
        &["push", "-q", &server.url(&alice, "alice/dns"), "main", "v1"],
    )
    .await;
    eventually(60, "the deploy to succeed", || async {
        let (_, out, _) = admin(data1, &["deploys", "alice/dns"], "").await;
        out.contains("succeeded").then_some(())
    })
    .await;
    let secrets = work.join("secrets");
    local_repo(&secrets, 1).await;
    git_ok(
        &secrets,
        &["push", "-q", &server.url(&alice, "alice/secrets"), "main"],
    )
    .await;
    api(
        &server,
        &token,
        "POST",
        "/repos/alice/dns/labels",
        serde_json::json!({"name": "bug", "color": "#d73a4a"}),
    )
    .await;
    api(
        &server,
        &token,
        "POST",
        "/repos/alice/dns/issues",
        serde_json::json!({"title": "Resolver down", "body": "since 03:00", "labels": ["bug"]}),
    )
    .await;
    api(
        &server,
        &token,
        "POST",
        "/repos/alice/dns/issues/1/comments",
        serde_json::json!({"body": "restarted unbound"}),
    )
    .await;
    api(&server, &token, "POST", "/repos/alice/dns/hooks", serde_json::json!({
        "type": "gitea", "config": {"url": "http://127.0.0.1:9/hook", "content_type": "json", "secret": "s3cret"},
        "events": ["push"], "active": true})).await;

    // bob pushes in a loop while the backup runs.
    let fw = work.join("fw");
    local_repo(&fw, 1).await;
    let bob_url = server.url("bob:bob-password-1", "bob/fw");
    git_ok(&fw, &["push", "-q", &bob_url, "main"]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let pushed = Arc::new(AtomicUsize::new(0));
    let looping = {
        let (stop, pushed, fw, bob_url) =
            (stop.clone(), pushed.clone(), fw.clone(), bob_url.clone());
        tokio::spawn(async move {
            for i in 0..200 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::fs::write(fw.join("rules.txt"), format!("rule {i}\n")).unwrap();
                git_ok(&fw, &["add", "."]).await;
                git_ok(&fw, &["commit", "-qm", &format!("rule {i}")]).await;
                git_ok(&fw, &["push", "-q", &bob_url, "main"]).await;
                pushed.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    eventually_true(60, "the push loop to get going", || {
        pushed.load(Ordering::SeqCst) >= 2
    })
    .await;
    let backup = work.join("lab.tar.zst");
    let (ok, _, err) = run(data1, etc, &["backup", backup.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    assert!(err.contains("backup written: 4 repositories"), "{err}");
    let during = pushed.load(Ordering::SeqCst);
    eventually_true(60, "pushes after the backup", || {
        pushed.load(Ordering::SeqCst) >= during + 2
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    looping.await.expect("every push of the loop succeeded");
    let mode = std::fs::metadata(&backup).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );

    let (ok, out, err) = run(
        data1,
        etc,
        &["backup", "--verify", backup.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.starts_with("ok: 4 repositories"), "{out}");
    let plain = work.join("lab.tar");
    let (ok, _, err) = run(data1, etc, &["backup", plain.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    let dns_refs_now = refs_on_disk(&data1.join("repos/alice/dns.git")).await;
    let host_key = std::fs::read_to_string(data1.join("ssh_host_ed25519_key.pub")).unwrap();
    server.stop().await;

    refused_backups(etc, work, &plain, &backup).await;

    // Restore into a folder that does not exist yet, then serve it.
    let dir2 = tempfile::tempdir().unwrap();
    let data2 = dir2.path().join("data");
    let (ok, _, err) = run(&data2, etc, &["restore", backup.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = run(&data2, etc, &["restore", backup.to_str().unwrap()]).await;
    assert!(
        !ok && err.contains("not empty"),
        "a second restore is refused: {err}"
    );
    let server = Server::start(&data2, etc).await;

    // Every recorded ref, exactly; the database at the same instant; git fsck clean.
    let manifest = manifest_of(&backup);
    let repos = manifest["repositories"].as_array().unwrap();
    assert_eq!(repos.len(), 4);
    for repo in repos {
        let name = format!(
            "{}/{}",
            repo["owner"].as_str().unwrap(),
            repo["name"].as_str().unwrap()
        );
        let dir = data2.join(format!("repos/{name}.git"));
        assert_eq!(refs_on_disk(&dir).await, refs_in_manifest(repo), "{name}");
        git_ok(&dir, &["fsck", "--strict", "--no-dangling"]).await;
    }
    let dns = repos.iter().find(|r| r["name"] == "dns").unwrap();
    assert_eq!(refs_in_manifest(dns), dns_refs_now);
    let fw_manifest = repos.iter().find(|r| r["name"] == "fw").unwrap();
    let fw_main = fw_manifest["refs"][0]["id"].as_str().unwrap().to_owned();
    let recorded = psql(
        &data2,
        "SELECT r.new_id FROM push_event_refs r JOIN push_events e ON e.id = r.event_id \
         JOIN repositories p ON p.id = e.repo_id \
         WHERE p.name = 'fw' AND e.state = 'received' ORDER BY e.id DESC LIMIT 1",
    );
    assert_eq!(
        recorded, fw_main,
        "the database's last push is the recorded ref"
    );
    assert_eq!(
        psql(
            &data2,
            "SELECT count(*) FROM push_events WHERE state = 'pending'"
        ),
        "0"
    );
    assert_eq!(
        psql(&data2, "SELECT count(*) FROM sessions"),
        "0",
        "sessions are left out"
    );

    // Old passwords, tokens and SSH keys work; the host key is the same.
    assert!(signs_in(&server.base(), "alice", "alice-password-1").await);
    assert!(!signs_in(&server.base(), "alice", "wrong-password").await);
    git_ok(
        work,
        &[
            "clone",
            "-q",
            &server.url(&alice, "alice/secrets"),
            "secrets2",
        ],
    )
    .await;
    let known_hosts = work.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {host_key}", server.ssh_port),
    )
    .unwrap();
    let ssh = format!(
        "ssh -i {} -F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
        key.display(),
        known_hosts.display()
    );
    let ssh_url = format!("ssh://git@127.0.0.1:{}/bob/fw.git", server.ssh_port);
    let out = git_env(
        work,
        &["clone", "-q", &ssh_url, "fw2"],
        &[("GIT_SSH_COMMAND", &ssh)],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        git_ok(&work.join("fw2"), &["rev-parse", "HEAD"])
            .await
            .trim(),
        fw_main
    );

    // Issues, labels, comments, deploy logs and webhooks are there.
    let issue = api(
        &server,
        &token,
        "GET",
        "/repos/alice/dns/issues/1",
        Value::Null,
    )
    .await;
    assert_eq!(issue["title"], "Resolver down");
    assert_eq!(issue["labels"][0]["name"], "bug");
    let comments = api(
        &server,
        &token,
        "GET",
        "/repos/alice/dns/issues/1/comments",
        Value::Null,
    )
    .await;
    assert_eq!(comments[0]["body"], "restarted unbound");
    let page = reqwest::get(format!("{}/alice/dns/deploys/1", server.base()))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains("deployed "),
        "the deploy log survived"
    );
    let hooks = api(
        &server,
        &token,
        "GET",
        "/repos/alice/dns/hooks",
        Value::Null,
    )
    .await;
    assert_eq!(hooks[0]["config"]["url"], "http://127.0.0.1:9/hook");

    // And the restored forge takes pushes (hook shims in place).
    let dns_work = work.join("dns");
    std::fs::write(dns_work.join("zone.txt"), "after restore\n").unwrap();
    git_ok(&dns_work, &["add", "."]).await;
    git_ok(&dns_work, &["commit", "-qm", "after restore"]).await;
    git_ok(
        &dns_work,
        &["push", "-q", &server.url(&alice, "alice/dns"), "main"],
    )
    .await;
    server.stop().await;
}

/// A truncated, a tampered and a newer backup: `--verify` and `restore` refuse each, naming
/// what is wrong, and a refused restore leaves the folder empty.
async fn refused_backups(etc: &Path, work: &Path, plain: &Path, compressed: &Path) {
    let fresh = |name: &str| -> PathBuf { work.join(name) };
    let check = |path: PathBuf, what: &'static str| async move {
        let (ok, _, err) = run(
            &fresh("unused"),
            etc,
            &["backup", "--verify", path.to_str().unwrap()],
        )
        .await;
        assert!(
            !ok && err.contains(what),
            "--verify: expected {what:?} in {err}"
        );
        let target = work.join(format!("restore-{}", random_hex(3)));
        let (ok, _, err) = run(&target, etc, &["restore", path.to_str().unwrap()]).await;
        assert!(
            !ok && err.contains(what),
            "restore: expected {what:?} in {err}"
        );
        let left = std::fs::read_dir(&target).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "a refused restore leaves nothing behind");
    };

    let bytes = std::fs::read(compressed).unwrap();
    let truncated = fresh("truncated.tar.zst");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    check(truncated, "truncated").await;

    let mut bytes = std::fs::read(plain).unwrap();
    let at = bytes
        .windows(15)
        .position(|w| w == b"# v2 git bundle")
        .expect("a bundle in the plain tar");
    bytes[at + 120] ^= 0x55;
    let tampered = fresh("tampered.tar");
    std::fs::write(&tampered, &bytes).unwrap();
    check(tampered, "does not match its checksum").await;

    let newer = fresh("newer.tar");
    rewrite_manifest(plain, &newer, |m| {
        let v = m["schema_version"].as_i64().unwrap();
        m["schema_version"] = Value::from(v + 1_000_000);
    });
    let (ok, out, err) = run(
        &fresh("unused"),
        etc,
        &["backup", "--verify", newer.to_str().unwrap()],
    )
    .await;
    assert!(ok, "a newer backup is still a sound one: {out}{err}");
    let target = fresh("restore-newer");
    let (ok, _, err) = run(&target, etc, &["restore", newer.to_str().unwrap()]).await;
    assert!(!ok && err.contains("from a newer labforge"), "{err}");
}

/// Copies the plain backup `src` to `dest` with its manifest changed by `edit` and
/// `SHA256SUMS` written again to match: a well-formed backup with other contents.
fn rewrite_manifest(src: &Path, dest: &Path, edit: impl FnOnce(&mut Value)) {
    let mut archive = tar::Archive::new(std::fs::File::open(src).unwrap());
    let mut out = tar::Builder::new(std::fs::File::create(dest).unwrap());
    let mut sums = String::new();
    let mut edit = Some(edit);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_str().unwrap().to_owned();
        let name = path.strip_prefix("labforge-backup/").unwrap().to_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "SHA256SUMS" {
            data = sums.clone().into_bytes();
        } else if name == "manifest.json" {
            let mut m: Value = serde_json::from_slice(&data).unwrap();
            (edit.take().unwrap())(&mut m);
            data = serde_json::to_vec(&m).unwrap();
        }
        if name != "SHA256SUMS" {
            let hex: String = sha2::Sha256::digest(&data)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            sums.push_str(&format!("{hex}  {name}\n"));
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        out.append_data(&mut header, &path, &data[..]).unwrap();
    }
    out.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_backups_retry_after_a_failure_and_keep_the_newest() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().join("lab");
    // A file where the folder should be: the first attempt fails.
    std::fs::write(&dir, "in the way").unwrap();
    let app = TestApp::spawn_with(&[
        ("LABFORGE_BACKUP_DIR", dir.to_str().unwrap()),
        ("LABFORGE_BACKUP_EVERY", "2s"),
        ("LABFORGE_BACKUP_KEEP", "2"),
    ])
    .await;
    app.create_user("alice", "alice-password-1").await;
    app.create_repo("alice", "dns", false).await;
    let health = || async {
        let res = reqwest::get(format!("{}/healthz?verbose", app.base))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()
    };
    let failed = eventually(30, "a failed backup on /healthz", || async {
        let h = health().await;
        (h["backup"]["failures"].as_u64() >= Some(1)).then_some(h)
    })
    .await;
    assert_eq!(failed["status"], "ok");
    assert!(
        failed["backup"]["last_error"]
            .as_str()
            .unwrap()
            .contains("lab"),
        "{failed}"
    );
    assert!(failed["backup"]["last_success_at"].is_null());
    let plain = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(
        plain.text().await.unwrap(),
        "ok\n",
        "plain /healthz is unchanged"
    );

    std::fs::remove_file(&dir).unwrap();
    let ok = eventually(60, "a retried backup to succeed", || async {
        let h = health().await;
        h["backup"]["last_success_at"].is_string().then_some(h)
    })
    .await;
    assert_eq!(ok["backup"]["failures"], 0);
    let file = PathBuf::from(ok["backup"]["last_file"].as_str().unwrap());
    assert!(file.starts_with(&dir) && file.to_str().unwrap().ends_with(".tar.zst"));
    eventually_true(60, "more backups, the oldest pruned", || {
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        names.len() == 2 && !file.exists()
    })
    .await;
    let newest = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "zst"))
        .max()
        .expect("a finished backup");
    let manifest = manifest_of(&newest);
    assert_eq!(manifest["repositories"][0]["name"], "dns");
}

/// The same with an external PostgreSQL (`DATABASE_URL`): an online backup while serve runs on
/// it, a restore into another empty database, and a non-empty one refused.
#[tokio::test(flavor = "multi_thread")]
async fn backup_and_restore_with_an_external_database() {
    let etc = etc_with_deploy();
    let etc = etc.path();
    let url_of = |db: &sqlx::postgres::PgConnectOptions| {
        format!(
            "postgres://labforge@localhost/{}?host={}",
            db.get_database().unwrap(),
            db.get_socket().unwrap().display()
        )
    };
    let (first, second) = (
        url_of(&fresh_database().await),
        url_of(&fresh_database().await),
    );
    let dir1 = tempfile::tempdir().unwrap();
    let data1 = dir1.path();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let server = Server::start_with(data1, etc, &[("DATABASE_URL", &first)]).await;
    let external = |data: &Path, url: &str, args: &[&str]| {
        let mut cmd = serve_command(data, etc, 0);
        cmd.env("DATABASE_URL", url)
            .args(args)
            .stdin(Stdio::piped());
        cmd
    };
    let mut create = external(
        data1,
        &first,
        &[
            "admin",
            "user",
            "create",
            "alice",
            "--email",
            "a@lab.test",
            "--password-stdin",
        ],
    )
    .spawn()
    .unwrap();
    tokio::io::AsyncWriteExt::write_all(create.stdin.as_mut().unwrap(), b"alice-password-1\n")
        .await
        .unwrap();
    drop(create.stdin.take());
    assert!(create.wait().await.unwrap().success());
    let out = external(
        data1,
        &first,
        &["admin", "repo", "create", "alice/dns", "--public"],
    )
    .output()
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let src = work.join("dns");
    local_repo(&src, 3).await;
    git_ok(
        &src,
        &[
            "push",
            "-q",
            &server.url("alice:alice-password-1", "alice/dns"),
            "main",
        ],
    )
    .await;
    let backup = work.join("ext.tar.zst");
    let out = external(data1, &first, &["backup", backup.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !data1.join("pg").exists(),
        "no managed cluster beside an external database"
    );
    server.stop().await;

    let dir2 = tempfile::tempdir().unwrap();
    let data2 = dir2.path().join("data");
    let out = external(&data2, &second, &["restore", backup.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let data3 = dir2.path().join("again");
    let out = external(&data3, &second, &["restore", backup.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("is not empty"),
        "{err}"
    );
    let out = external(&data2, &second, &["admin", "repo", "list"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "alice/dns\tpublic\t\n"
    );
    let restored = data2.join("repos/alice/dns.git");
    assert_eq!(
        refs_on_disk(&restored).await,
        refs_on_disk(&data1.join("repos/alice/dns.git")).await
    );
    git_ok(&restored, &["fsck", "--no-dangling"]).await;
}
