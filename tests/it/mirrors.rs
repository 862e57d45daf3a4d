//! Push mirrors against real far sides on loopback: `git http-backend` behind basic auth (a small
//! Python server) and OpenSSH's `sshd` on a random port with its own config and host key.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::cli::free_port;
use crate::helpers::*;
use labforge::model::TokenScope;

const FAR_SIDE_HTTP: &str = include_str!("far_side_http.py");

pub(crate) async fn wait_port(port: u16) {
    wait_address("127.0.0.1", port).await;
}

pub(crate) async fn wait_address(address: &str, port: u16) {
    eventually(30, "the far side to listen", || async move {
        tokio::net::TcpStream::connect((address, port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

/// `git http-backend` serving bare repositories under `root`, for USER:PASSWORD only.
pub(crate) async fn far_http(root: &Path, port: u16, user: &str, password: &str) -> Child {
    far_http_on(root, "127.0.0.1", port, user, password).await
}

/// `far_http` listening on `address` (another loopback address than 127.0.0.1).
pub(crate) async fn far_http_on(
    root: &Path,
    address: &str,
    port: u16,
    user: &str,
    password: &str,
) -> Child {
    let script = root.join("far_side_http.py");
    std::fs::write(&script, FAR_SIDE_HTTP).unwrap();
    let child = Command::new("python3")
        .arg(&script)
        .arg(root)
        .arg(port.to_string())
        .args([user, password, address])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    wait_address(address, port).await;
    child
}

/// OpenSSH `sshd` on `port` with `host_key`, taking keys from `dir/authorized_keys`.
async fn far_sshd(dir: &Path, port: u16, host_key: &Path) -> Child {
    far_sshd_on(dir, "127.0.0.1", port, host_key).await
}

/// `far_sshd` listening on `address`.
pub(crate) async fn far_sshd_on(dir: &Path, address: &str, port: u16, host_key: &Path) -> Child {
    std::fs::create_dir_all("/run/sshd").unwrap();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress {address}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nLogLevel ERROR\n",
            host_key.display(),
            dir.join("sshd.pid").display(),
            dir.join("authorized_keys").display()
        ),
    )
    .unwrap();
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sshd is installed (Debian: openssh-server)");
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("sshd runs");
    wait_address(address, port).await;
    child
}

pub(crate) fn keygen(path: &Path) {
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path)
            .status()
            .unwrap()
            .success()
    );
}

pub(crate) async fn bare(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    git_ok(path, &["init", "-q", "--bare", "-b", "main"]).await;
}

pub(crate) async fn refs(repo: &Path) -> String {
    git_ok(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]).await
}

pub(crate) async fn api(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1{path}", app.base);
    let req = match method {
        "POST" => client.post(url).json(&body),
        "DELETE" => client.delete(url),
        _ => client.get(url),
    };
    let res = req
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn mirrors(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, list) = api(
        app,
        token,
        "GET",
        "/repos/alice/dns/push_mirrors",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    list.as_array().unwrap().clone()
}

/// The far sides here listen on loopback, which `[mirror] allowed_hosts` refuses by default.
pub(crate) const ALLOW_LOOPBACK: (&str, &str) = ("LABFORGE_MIRROR_ALLOWED_HOSTS", "loopback");

async fn setup() -> (TestApp, String, PathBuf) {
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    app.create_user("alice", "alice-password-1").await;
    app.create_repo("alice", "dns", true).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let src = app.workdir("src");
    local_repo(&src, 2).await;
    app.push(&src, ("alice", &token), "alice/dns", &["main"])
        .await;
    (app, token, src)
}

/// Every process's command line, to prove a secret never appears in one.
fn command_lines() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn https_push_mirror_follows_pushes_retries_and_keeps_its_token_secret() {
    let (app, token, src) = setup().await;
    let far = tempfile::tempdir().unwrap();
    bare(&far.path().join("dns.git")).await;
    bare(&far.path().join("other.git")).await;
    let port = free_port();
    let mut far_side = far_http(far.path(), port, "mirror", "right-token-1234").await;
    let (status, made) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/push_mirrors",
        serde_json::json!({"remote_address": format!("http://127.0.0.1:{port}/dns.git"),
                           "remote_username": "mirror", "remote_password": "right-token-1234",
                           "sync_on_commit": true}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["remote_name"], "remote_mirror_1");
    assert_eq!(made["public_key"], "");
    let server = app.server_repo("alice/dns");
    let far_dns = far.path().join("dns.git");
    eventually(30, "the first sync", || async {
        (refs(&far_dns).await == refs(&server).await).then_some(())
    })
    .await;

    // A branch and a tag follow the next push; a deleted branch is deleted there too.
    git_ok(&src, &["branch", "topic"]).await;
    git_ok(&src, &["tag", "v1"]).await;
    app.push(&src, ("alice", &token), "alice/dns", &["topic", "v1"])
        .await;
    eventually(30, "the branch and tag on the mirror", || async {
        refs(&far_dns)
            .await
            .contains("refs/heads/topic")
            .then_some(())
    })
    .await;
    app.push(&src, ("alice", &token), "alice/dns", &[":topic"])
        .await;
    eventually(30, "the deletion on the mirror", || async {
        let r = refs(&far_dns).await;
        (!r.contains("refs/heads/topic") && r.contains("refs/tags/v1")).then_some(())
    })
    .await;

    // The far side down: the error is shown; back up: the retry syncs.
    far_side.kill().await.unwrap();
    std::fs::write(src.join("zone.txt"), "while the mirror is down\n").unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-qm", "while down"]).await;
    app.push(&src, ("alice", &token), "alice/dns", &["main"])
        .await;
    let failed = eventually(30, "the failure on the mirror's record", || async {
        let m = mirrors(&app, &token).await.remove(0);
        (!m["last_error"].as_str().unwrap().is_empty()).then_some(m)
    })
    .await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("git push failed"),
        "{failed}"
    );
    let _far_side = far_http(far.path(), port, "mirror", "right-token-1234").await;
    // The refs arrive there a moment before the success is recorded here: wait for both.
    let m = eventually(90, "the retry once the far side is back", || async {
        let m = mirrors(&app, &token).await.remove(0);
        (refs(&far_dns).await == refs(&server).await && m["last_error"] == "").then_some(m)
    })
    .await;
    assert!(m["last_update"].is_string());

    // A wrong token: a clear error, and the token is in no command line, page or error.
    let wrong = "wrong-token-5678";
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/push_mirrors",
        serde_json::json!({"remote_address": format!("http://127.0.0.1:{port}/other.git"),
                           "remote_username": "mirror", "remote_password": wrong}),
    )
    .await;
    assert_eq!(status, 201);
    let mut saw_git = false;
    let failed = eventually(60, "the wrong token's error", || {
        let lines = command_lines();
        assert!(
            !lines.iter().any(|l| l.contains(wrong)),
            "a command line shows the token"
        );
        saw_git |= lines
            .iter()
            .any(|l| l.contains("other.git") && l.contains("push"));
        let app = &app;
        let token = &token;
        async move {
            let m = mirrors(app, token).await.remove(1);
            (!m["last_error"].as_str().unwrap().is_empty()).then_some(m)
        }
    })
    .await;
    assert!(saw_git, "the check ran while git was pushing");
    let error = failed["last_error"].as_str().unwrap();
    // A refused login reads like any other failure (a port scan learns nothing from it).
    assert!(
        error.contains("no git repository at that address"),
        "{error}"
    );
    assert!(!error.contains(wrong), "{error}");
    let cookie = crate::web_auth::session(&app, "alice", "alice-password-1").await;
    let (status, page) = crate::web_auth::page(&app, &cookie, "/alice/dns/settings/mirrors").await;
    assert_eq!(status, 200);
    assert!(page.contains("no git repository at that address") && !page.contains(wrong));
    assert!(!page.contains("right-token-1234"));
    let config = std::fs::read_to_string(server.join("config")).unwrap();
    assert!(
        !config.contains("token") && !config.contains("[remote"),
        "{config}"
    );

    // Removing it stops it.
    let (status, _) = api(
        &app,
        &token,
        "DELETE",
        "/repos/alice/dns/push_mirrors/remote_mirror_2",
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(mirrors(&app, &token).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_push_mirror_uses_its_own_key_pins_the_host_key_and_stops_when_it_changes() {
    let (app, token, src) = setup().await;
    let far = tempfile::tempdir().unwrap();
    let far_dns = far.path().join("dns.git");
    bare(&far_dns).await;
    let (key_a, key_b) = (far.path().join("host_a"), far.path().join("host_b"));
    keygen(&key_a);
    keygen(&key_b);
    std::fs::write(far.path().join("authorized_keys"), "").unwrap();
    let port = free_port();
    let mut sshd = far_sshd(far.path(), port, &key_a).await;
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    let url = format!("ssh://{user}@127.0.0.1:{port}{}", far_dns.display());
    let (status, made) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/push_mirrors",
        serde_json::json!({"remote_address": url, "use_ssh": true}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let public = made["public_key"].as_str().unwrap().to_owned();
    assert!(public.starts_with("ssh-ed25519 "), "{public}");

    // Before the key is on the far side the sync fails; then "sync now" works.
    eventually(30, "the refused first sync", || async {
        let m = mirrors(&app, &token).await.remove(0);
        (!m["last_error"].as_str().unwrap().is_empty()).then_some(())
    })
    .await;
    std::fs::write(far.path().join("authorized_keys"), format!("{public}\n")).unwrap();
    let (status, _) = api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/push_mirrors-sync",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let server = app.server_repo("alice/dns");
    eventually(30, "the sync with the key in place", || async {
        (refs(&far_dns).await == refs(&server).await).then_some(())
    })
    .await;
    let pinned: String = std::fs::read_to_string(key_a.with_extension("pub"))
        .unwrap()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let cookie = crate::web_auth::session(&app, "alice", "alice-password-1").await;
    let (_, page) = crate::web_auth::page(&app, &cookie, "/alice/dns/settings/mirrors").await;
    assert!(
        page.contains(&pinned),
        "the settings page shows the pinned host key"
    );
    assert!(page.contains(&public), "and the mirror's public key");

    // A different host key on the same address: the mirror stops and says why.
    sshd.kill().await.unwrap();
    let _sshd = far_sshd(far.path(), port, &key_b).await;
    std::fs::write(src.join("zone.txt"), "after the host key changed\n").unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-qm", "after the change"]).await;
    app.push(&src, ("alice", &token), "alice/dns", &["main"])
        .await;
    eventually(30, "the host key error", || async {
        let m = mirrors(&app, &token).await.remove(0);
        m["last_error"]
            .as_str()
            .unwrap()
            .contains("host key is not the pinned one")
            .then_some(())
    })
    .await;
    let (_, page) = crate::web_auth::page(&app, &cookie, "/alice/dns/settings/mirrors").await;
    assert!(page.contains("stopped"), "the mirror is shown stopped");
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await;
    assert!(
        !refs(&far_dns).await.contains(head.trim()),
        "nothing reached the impostor"
    );
}
