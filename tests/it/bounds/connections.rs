//! Items 5 and 6: idle and half-sent connections, from one address and from several, are closed
//! by the header and authentication deadlines and capped per address and in all, with a log
//! line when a cap bites; meanwhile everyone else is served.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::*;

/// A connection to `port` from loopback address `from` (127.0.0.0/8 is all loopback on Linux).
async fn connect_from(from: &str, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
}

/// How long until the server closes `s` (reading and discarding what it sends), at most `max`.
async fn closed_within(mut s: TcpStream, max: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + max).into(), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_http_connections_are_capped_per_address_and_timed_out() {
    let server = Served::start(&[
        ("LABFORGE_HTTP_MAX_CONNECTIONS", "40"),
        ("LABFORGE_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "20"),
        ("LABFORGE_HTTP_HEADER_TIMEOUT_SECS", "2"),
    ])
    .await;
    let watch = Watch::start(server.port, server.pid());
    // One address opens 100 connections and sends half a request on each.
    let mut sockets = Vec::new();
    for _ in 0..100 {
        let mut s = connect_from("127.0.0.2", server.port).await;
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        sockets.push(s);
    }
    let closes = futures_util::future::join_all(
        sockets
            .into_iter()
            .map(|s| closed_within(s, Duration::from_secs(20))),
    )
    .await;
    let closed: Vec<Duration> = closes
        .iter()
        .map(|c| c.expect("every socket is closed"))
        .collect();
    let at_once = closed
        .iter()
        .filter(|d| **d < Duration::from_millis(1500))
        .count();
    assert!(
        at_once >= 80,
        "80 past the per-address cap are closed at once: {closed:?}"
    );
    watch.finish().await;

    // Two more addresses fill the global cap; a third is refused at once, then served again
    // when the header timeout has closed the idle ones.
    let mut held = Vec::new();
    for from in ["127.0.0.3", "127.0.0.4"] {
        for _ in 0..20 {
            held.push(connect_from(from, server.port).await);
        }
    }
    let extra = connect_from("127.0.0.5", server.port).await;
    let refused = closed_within(extra, Duration::from_secs(20)).await.unwrap();
    assert!(refused < Duration::from_secs(10), "{refused:?}");
    eventually(
        30,
        "/healthz once the idle connections are gone",
        || async {
            let res = reqwest::get(format!("{}/healthz", server.base))
                .await
                .ok()?;
            (res.status() == 200).then_some(())
        },
    )
    .await;
    drop(held);
    let log = server.log_text();
    assert!(
        log.contains("http connection refused: too many connections from this address"),
        "{log}"
    );
    assert!(
        log.contains("http connection refused: too many connections"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_clients_that_stall_after_their_banner_are_closed_and_capped_per_address() {
    let server = Served::start(&[
        ("LABFORGE_SSH_AUTH_TIMEOUT_SECS", "2"),
        ("LABFORGE_SSH_MAX_UNAUTHENTICATED_PER_ADDRESS", "5"),
    ])
    .await;
    let mut sockets = Vec::new();
    for _ in 0..20 {
        let mut s = connect_from("127.0.0.2", server.ssh_port).await;
        let _ = s.write_all(b"SSH-2.0-stalling\r\n").await;
        sockets.push(s);
    }
    // Everyone else still gets in: the banner at once, and a real client is answered.
    let mut other = connect_from("127.0.0.1", server.ssh_port).await;
    let mut banner = [0u8; 16];
    tokio::time::timeout(Duration::from_secs(5), other.read_exact(&mut banner))
        .await
        .expect("the banner comes at once")
        .unwrap();
    assert_eq!(&banner, b"SSH-2.0-labforge");
    let keys = server.data.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = keys.join("stranger");
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::process::Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .arg("-i")
        .arg(&key)
        .args([
            "-p",
            &server.ssh_port.to_string(),
            "git@127.0.0.1",
            "whoami",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );

    let closes = futures_util::future::join_all(
        sockets
            .into_iter()
            .map(|s| closed_within(s, Duration::from_secs(20))),
    )
    .await;
    let closed: Vec<Duration> = closes
        .iter()
        .map(|c| c.expect("every stalled connection is closed"))
        .collect();
    let at_once = closed
        .iter()
        .filter(|d| **d < Duration::from_millis(1500))
        .count();
    assert!(
        at_once >= 15,
        "15 past the per-address cap are closed at once: {closed:?}"
    );
    let log = server.log_text();
    assert!(
        log.contains(
            "ssh connection refused: too many unauthenticated connections from this address"
        ),
        "{log}"
    );
}
