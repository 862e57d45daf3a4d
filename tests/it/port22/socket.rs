//! `labforge serv` and the socket without an sshd in front: what it does when `serve` is down,
//! and what it refuses (other users, wrong secrets, oversized requests, too many sessions).

use std::path::Path;
use std::process::Output;

use super::{LABFORGE, keys, serv_config};
use crate::helpers::*;
use crate::ssh::{stdout, user_with_key};

#[tokio::test(flavor = "multi_thread")]
async fn serv_refuses_clearly_when_serve_is_not_running() {
    let app = TestApp::spawn().await;
    let empty = app.workdir("no-forge-here");
    std::fs::create_dir_all(&empty).unwrap();
    let config = app.work.path().join("elsewhere.toml");
    std::fs::write(&config, format!("data_dir = \"{}\"\n", empty.display())).unwrap();
    let out = std::process::Command::new(LABFORGE)
        .arg("--config")
        .arg(&config)
        .args(["serv", "key-1"])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", "git-upload-pack 'alice/dns.git'")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: labforge is not running on this host right now"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

/// `serv` with `SSH_ORIGINAL_COMMAND` set, run directly as sshd would run it.
fn serv(config: &Path, key: &str, command: &str) -> Output {
    std::process::Command::new(LABFORGE)
        .arg("--config")
        .arg(config)
        .args(["serv", key])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", command)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// What a caller that is not the forge's own `serv` gets from the socket: another user (by
/// its peer credentials) nothing at all, a wrong secret a refusal, an endless request line a
/// closed connection; and `serv` bounds the command it forwards.
#[tokio::test(flavor = "multi_thread")]
async fn the_socket_refuses_strangers_wrong_secrets_and_oversized_requests() {
    use std::io::{Read, Write};
    let app = TestApp::spawn().await;
    user_with_key(&app, "alice", "ed25519").await;
    let config = serv_config(&app);
    let socket = app.data.path().join("labforge-serv.sock");
    let secret = std::fs::read_to_string(app.data.path().join("labforge-serv.secret")).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "only the forge's user may connect");

    // A wrong secret: refused, in words the person at the client can read.
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream
        .write_all(b"{\"Serv\":{\"secret\":\"guess\",\"key_id\":1,\"command\":null,\"git_protocol\":null}}\n")
        .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    assert!(
        String::from_utf8_lossy(&reply).contains("labforge refused this program's secret"),
        "{reply:?}"
    );

    // A request line past 64 KiB: the connection closes without an answer.
    // (At once: not after the 10 s a request line may take, which a missing cap would wait.)
    let started = std::time::Instant::now();
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    let _ = stream.write_all(&vec![b'a'; 70 * 1024]);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    assert!(reply.is_empty(), "{reply:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // Another user with the right secret, on a socket it was let into: the peer credentials
    // refuse it before the secret is read (nothing comes back), while root's same request works.
    let perms = |mode| <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(mode);
    let open = app.work.path().join("open");
    std::fs::create_dir_all(&open).unwrap();
    for (path, mode) in [
        (app.data.path(), 0o711),
        (app.work.path(), 0o711),
        (&open, 0o755),
        (&socket, 0o666),
    ] {
        std::fs::set_permissions(path, perms(mode)).unwrap();
    }
    std::os::unix::fs::symlink(&socket, open.join("labforge-serv.sock")).unwrap();
    std::fs::write(open.join("labforge-serv.secret"), &secret).unwrap();
    std::fs::set_permissions(open.join("labforge-serv.secret"), perms(0o644)).unwrap();
    let open_config = open.join("serv.toml");
    std::fs::write(&open_config, format!("data_dir = \"{}\"\n", open.display())).unwrap();
    std::fs::set_permissions(&open_config, perms(0o644)).unwrap();
    let as_nobody = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            LABFORGE,
            "--config",
        ])
        .arg(&open_config)
        .args(["serv", "key-1"])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", "whoami")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(as_nobody.status.code(), Some(1), "{}", stderr(&as_nobody));
    assert!(as_nobody.stdout.is_empty(), "another user got an answer");
    assert!(
        stderr(&as_nobody).starts_with("error: the labforge server did not answer"),
        "{}",
        stderr(&as_nobody)
    );
    let as_root = serv(&open_config, "key-1", "whoami");
    assert!(as_root.status.success(), "{}", stderr(&as_root));
    assert!(stdout(&as_root).contains("alice"), "{}", stdout(&as_root));

    // `serv` forwards at most 8 KiB of command.
    let out = serv(&config, "key-1", &"x".repeat(9 * 1024));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: the command is too long\n");
    let out = serv(&config, "key-1", &"x".repeat(8 * 1024));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: unknown command"),
        "{}",
        stderr(&out)
    );
    let out = serv(&config, "alice", "whoami");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("expects key-ID"), "{}", stderr(&out));
}

/// The `key-ID` that `keys` names for `key`.
fn key_word(config: &Path, key: &Path) -> String {
    let line = stdout(&keys(config, "root", key));
    let start = line.find(" serv ").expect("a forced command") + " serv ".len();
    line[start..].split('"').next().unwrap().to_owned()
}

/// Sessions from the host's sshd are capped like the built-in server's connections
/// (`LABFORGE_SSH_MAX_CONNECTIONS`); a finished one frees its place.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_from_the_hosts_sshd_are_capped() {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn_with(&[("LABFORGE_SSH_MAX_CONNECTIONS", "1")]).await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    let config = serv_config(&app);
    let word = key_word(&config, &key);
    // A clone that has had the refs advertised and waits for its wants: it holds the place.
    let mut held = tokio::process::Command::new(LABFORGE)
        .arg("--config")
        .arg(&config)
        .args(["serv", &word])
        .env_clear()
        .env("SSH_ORIGINAL_COMMAND", "git-upload-pack 'alice/dns.git'")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut advertised = [0u8; 4];
    held.stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut advertised)
        .await
        .unwrap();
    let out = serv(&config, &word, "whoami");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: too many connections to labforge; try again later\n"
    );
    drop(held.stdin.take()); // the clone gives up: git ends, the place is free
    held.wait().await.unwrap();
    eventually(10, "the place is free again", || async {
        let out = serv(&config, &word, "whoami");
        out.status.success().then_some(())
    })
    .await;
}
