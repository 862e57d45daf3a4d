//! `trusted_proxies` with a real nginx in front (Debian's `nginx-light`): the password throttle
//! counts each client behind the proxy apart, a client cannot name another's address through
//! it, the proxy's request id is kept, and a trusted proxy's connections are not held to the
//! per-address cap. Loopback has many addresses: nginx connects from 127.0.0.2 (the trusted
//! one), the clients from 127.0.0.3 and 127.0.0.4.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, eventually};

const PROXY: [u8; 4] = [127, 0, 0, 2];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx on 127.0.0.1:PORT proxying to `app_port`, from 127.0.0.2, as the README shows.
struct Nginx {
    port: u16,
    _child: tokio::process::Child,
}

async fn nginx(dir: &Path, app_port: u16) -> Nginx {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
         proxy_pass http://127.0.0.1:{app_port};\n      proxy_bind 127.0.0.2;\n\
         proxy_set_header Host $host;\n\
         proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         proxy_set_header X-Request-Id $request_id;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    // nginx's workers (nobody, when the tests run as root) write their temporary files here.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let child = tokio::process::Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .kill_on_drop(true)
        .spawn()
        .expect("nginx runs (Debian package nginx-light)");
    eventually(10, "nginx to listen", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    Nginx {
        port,
        _child: child,
    }
}

/// A client whose connections come from `from`.
fn client_from(from: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .build()
        .unwrap()
}

/// A failed HTTP Basic login for alice at `base`; the status (401, or 429 once throttled).
async fn wrong_password(client: &reqwest::Client, base: &str, forwarded_for: Option<&str>) -> u16 {
    let mut req = client
        .get(format!(
            "{base}/alice/dns.git/info/refs?service=git-upload-pack"
        ))
        .basic_auth("alice", Some("wrong-password"));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_nginx_the_throttle_counts_each_client_and_no_client_can_name_another() {
    let app = TestApp::spawn_with(&[("LABFORGE_TRUSTED_PROXIES", "127.0.0.2")]).await;
    app.create_user("alice", "correct-horse-battery").await;
    app.create_repo("alice", "dns", false).await;
    let dir = tempfile::tempdir().unwrap();
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = nginx(dir.path(), port).await;
    let via = format!("http://127.0.0.1:{}", proxy.port);
    let (a, b) = (client_from([127, 0, 0, 3]), client_from([127, 0, 0, 4]));

    // Client a uses up its tries: throttled after ten.
    for i in 0..10 {
        assert_eq!(wrong_password(&a, &via, None).await, 401, "attempt {i}");
    }
    assert_eq!(wrong_password(&a, &via, None).await, 429);
    // Client b, behind the same proxy, is not locked out with a.
    assert_eq!(wrong_password(&b, &via, None).await, 401);
    // Nor can b borrow a's address (nginx appends b's own; the right-most untrusted hop counts),
    // or, speaking to labforge directly from an untrusted address, name any.
    assert_eq!(wrong_password(&b, &via, Some("127.0.0.3")).await, 401);
    assert_eq!(wrong_password(&b, &app.base, Some("127.0.0.3")).await, 401);

    // The proxy's request id is the one on the answer (nginx's $request_id: 32 hex digits).
    let res = a.get(format!("{via}/")).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
}

/// Opens `n` connections from `from` to `port`, then asks for /healthz on a last one: the
/// status line, or None when the server closed it unanswered.
async fn last_of(from: [u8; 4], port: u16, n: usize) -> Option<String> {
    let mut held = Vec::new();
    for _ in 0..n {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        held.push(
            socket
                .connect(SocketAddr::from(([127, 0, 0, 1], port)))
                .await
                .unwrap(),
        );
    }
    let last = held.last_mut().unwrap();
    let _ = last
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        last.read_to_end(&mut answer),
    )
    .await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines()
        .next()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

#[tokio::test]
async fn a_trusted_proxys_connections_are_not_held_to_the_per_address_cap() {
    let app = TestApp::spawn_with(&[
        ("LABFORGE_TRUSTED_PROXIES", "127.0.0.2"),
        ("LABFORGE_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "2"),
    ])
    .await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        last_of(PROXY, port, 3).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    assert_eq!(
        last_of([127, 0, 0, 5], port, 3).await,
        None,
        "others still are"
    );
}
