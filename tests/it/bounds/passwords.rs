//! Items 7 and 8, and failed authentications for fail2ban: one throttle for every password
//! check (web sign-in, Basic on git over HTTP and on the API) answering 429 with `Retry-After`,
//! never for a valid token; `next` after sign-in stays on the site; and each failure is one log
//! line that the shipped fail2ban filter matches, checked with `fail2ban-regex` on what the
//! server really wrote.

use base64::Engine;

use super::*;
use crate::web_auth::{client, cookie_value, hidden, set_cookie};

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn sign_in(base: &str, user: &str, password: &str, next: &str) -> reqwest::Response {
    let form = client().get(format!("{base}/login")).send().await.unwrap();
    let login_cookie = cookie_value(&set_cookie(&form, "labforge_login").expect("login cookie"));
    let csrf = hidden(&form.text().await.unwrap(), "csrf");
    client()
        .post(format!("{base}/login"))
        .header("cookie", format!("labforge_login={login_cookie}"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_password_check_is_throttled_and_every_failure_is_logged_for_fail2ban() {
    let server = Served::start(&[]).await;
    let token = server.alice_with_repo("dns").await;
    let refs = format!(
        "{}/alice/dns.git/info/refs?service=git-upload-pack",
        server.base
    );
    let http = reqwest::Client::new();
    let git_with = |auth: String| http.get(&refs).header("Authorization", auth).send();

    // Git over HTTP: ten wrong passwords are 401, then 429 with Retry-After, even for the right
    // password; a valid token is never throttled.
    for i in 0..10 {
        let res = git_with(basic("alice", &format!("wrong-{i}")))
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    let res = git_with(basic("alice", "wrong-again")).await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(retry_after(&res) > 60, "{:?}", res.headers());
    assert_eq!(git_with(basic("alice", PW)).await.unwrap().status(), 429);
    assert_eq!(
        git_with(basic("alice", &token)).await.unwrap().status(),
        200
    );

    // The API's Basic shares the throttle (another name, so its own window).
    let issues = format!("{}/api/v1/repos/alice/dns/issues", server.base);
    for _ in 0..10 {
        let res = http
            .get(&issues)
            .header("Authorization", basic("bob", "nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = http
        .get(&issues)
        .header("Authorization", basic("bob", "nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(retry_after(&res) > 60);

    // The web form, and `next`: only same-site paths survive a sign-in.
    let res = sign_in(&server.base, "carol", "nope", "/").await;
    assert_eq!(res.status(), 401);
    // A user name cannot put another address into the line fail2ban reads.
    let forged = "x\" from 192.0.2.99 via web for user \"";
    let res = sign_in(&server.base, forged, "nope", "/").await;
    assert_eq!(res.status(), 401);
    let res = sign_in(&server.base, "alice", PW, "/").await;
    assert_eq!(
        res.status(),
        429,
        "alice's window from this address is full"
    );

    // SSH takes keys only: a stranger's key is one failure.
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
        .args(["-p", &server.ssh_port.to_string(), "mallory@127.0.0.1"])
        .output()
        .await
        .unwrap();
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );

    // 10 (git), 10 (API), 2 (web), 1 (SSH): one warn line each; refusals by the throttle
    // are not failed checks.
    let log = eventually(30, "the SSH failure to be logged", || {
        let log = server.log_text();
        async move { log.contains("via ssh for user \"mallory\"").then_some(log) }
    })
    .await;
    let failures = log
        .matches("authentication failed from 127.0.0.1 via")
        .count();
    assert_eq!(failures, 23, "{log}");
    for transport in ["web", "http-git", "api", "ssh"] {
        assert!(
            log.contains(&format!("via {transport} for user")),
            "{transport}: {log}"
        );
    }
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/fail2ban/filter.d/labforge.conf"
    );
    let out = tokio::process::Command::new("fail2ban-regex")
        .arg("-v")
        .arg(&server.log)
        .arg(filter)
        .output()
        .await
        .expect("fail2ban-regex runs (Debian's fail2ban package; .ci/run installs it)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", stderr(&out));
    assert!(
        report.contains("Lines: ") && report.contains(&format!("{failures} matched")),
        "fail2ban-regex should match every failure line: {report}"
    );
    // Each match is read with its address and its own time (a line without a date would be
    // stamped with the time fail2ban read it, and a real jail would warn and skip it).
    let hosts = report.matches("|      127.0.0.1  ").count();
    assert_eq!(hosts, failures, "{report}");
    assert!(
        !report.contains("192.0.2.99"),
        "a forged address was read: {report}"
    );
    let dated = report
        .split("date format")
        .nth(1)
        .and_then(|rest| rest.split('[').nth(1))
        .and_then(|n| n.split(']').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    assert!(
        dated >= failures,
        "lines without a date fail2ban can read: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_never_redirects_off_site_nor_fails_on_control_characters() {
    let server = Served::start(&[]).await;
    server.alice_with_repo("dns").await;
    for (next, expected) in [
        ("/alice/dns", "/alice/dns"),
        ("/\t/evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
        ("/a\0b", "/"),
        ("https://evil.example/", "/"),
    ] {
        let res = sign_in(&server.base, "alice", PW, next).await;
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(res.headers()["location"], expected, "{next:?}");
    }
}
