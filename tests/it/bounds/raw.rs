//! Items 3 and 4: `/raw/` with a path of thousands of segments is answered (414 past 8 KiB,
//! else at once), and slow downloads of a large file do not hold it in memory.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn long_ref_paths_are_cheap_and_urls_past_8_kib_are_refused() {
    let server = Served::start(&[]).await;
    server.alice_with_repo("dns").await;
    let local = server.data.path().join("local");
    repo_with(&local, &[("a/zone.txt", b"x\n".as_slice())]).await;
    git_ok(&local, &["branch", "a/b"]).await;
    git_ok(
        &local,
        &["push", "-q", &server.url("alice/dns"), "main", "a/b"],
    )
    .await;

    let client = reqwest::Client::new();
    let base = format!("{}/alice/dns/raw", server.base);
    let res = client
        .get(format!("{base}/main/{}", "a/".repeat(32_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 414);
    let watch = Watch::start(server.port, server.pid());
    let started = Instant::now();
    let long = format!("{base}/main/{}", "a/".repeat(4_000));
    let answers = futures_util::future::join_all((0..50).map(|_| client.get(&long).send())).await;
    for res in answers {
        assert_eq!(res.unwrap().status(), 404);
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "50 long paths took {:?}",
        started.elapsed()
    );
    watch.finish().await;
    // The longest ref wins, as before.
    let res = client
        .get(format!("{base}/a/b/a/zone.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "x\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_downloads_of_a_large_file_stream_in_bounded_memory() {
    let server = Served::start(&[]).await;
    server.alice_with_repo("big").await;
    let local = server.data.path().join("local");
    // 24 MiB of incompressible bytes (a pack cannot shrink it).
    let mut big = vec![0u8; 24 << 20];
    getrandom::fill(&mut big).unwrap();
    repo_with(&local, &[("disk.img", big.as_slice())]).await;
    git_ok(&local, &["push", "-q", &server.url("alice/big"), "main"]).await;
    let idle = server.rss_mib();

    // Twelve clients ask for it and read only the first bytes, then stall.
    let mut stalled = Vec::new();
    for _ in 0..12 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        s.write_all(b"GET /alice/big/raw/main/disk.img HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = vec![0u8; 4096];
        let n = s.read(&mut head).await.unwrap();
        assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
        stalled.push(s);
    }
    let watch = Watch::start(server.port, server.pid());
    // Meanwhile a full download is byte for byte right.
    let res = reqwest::get(format!("{}/alice/big/raw/main/disk.img", server.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-length"].to_str().unwrap(),
        (24 << 20).to_string()
    );
    let body = res.bytes().await.unwrap();
    assert!(body.as_ref() == big.as_slice(), "the download differs");
    let report = watch.finish().await;
    // Held whole, 13 downloads of 24 MiB would take 312 MiB; streamed, a few buffers each.
    assert!(
        report.peak_rss_mib < idle + 120,
        "RSS grew from {idle} MiB to {} MiB",
        report.peak_rss_mib
    );
    drop(stalled);
}
