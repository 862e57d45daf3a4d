//! What a browser shows: headless Chromium (Debian's `chromium`, installed by .ci/run) loads the
//! summary, a tree, a blob and a commit page; none may log anything to the console (the only
//! script is the summary's copy button, so any message is an error, a CSP refusal included), and
//! a screenshot of each is kept under target/tmp/screenshots for people to look at.

use std::path::PathBuf;

use crate::helpers::*;
use crate::web::sample_repo;

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "headless Chromium is needed for this test: apt-get install chromium (.ci/run does)",
        )
}

/// Runs Chromium on `url` with `mode` (`--screenshot=…` or `--dump-dom`); returns (stdout, console lines).
async fn run_chromium(url: &str, mode: &str, profile: &std::path::Path) -> (String, Vec<String>) {
    let out = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .kill_on_drop(true)
        .output()
        .await
        .expect("chromium runs");
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_renders_the_main_pages_without_console_errors() {
    let app = TestApp::spawn().await;
    let src = sample_repo(&app, false).await;
    let head = git_ok(&src, &["rev-parse", "feature/split-zones"])
        .await
        .trim()
        .to_owned();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = app.work.path().join("chromium-profile");
    let pages = [
        ("summary", "/alice/dns".to_owned()),
        ("tree", "/alice/dns/tree/main/zones/home".to_owned()),
        ("blob", "/alice/dns/blob/main/zones/home/db.home".to_owned()),
        ("commit", format!("/alice/dns/commit/{head}")),
    ];
    for (name, path) in &pages {
        let file = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        let (_, console) = run_chromium(
            &format!("{}{path}", app.base),
            &format!("--screenshot={}", file.display()),
            &profile,
        )
        .await;
        assert!(console.is_empty(), "{name}: console messages: {console:?}");
        let png = std::fs::read(&file).unwrap_or_else(|_| panic!("{name}: no screenshot"));
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 4000,
            "{name}: a real screenshot ({} bytes)",
            png.len()
        );
    }
    // The browser's own DOM has the rendered README heading and the diff lines.
    let (dom, _) = run_chromium(&format!("{}/alice/dns", app.base), "--dump-dom", &profile).await;
    assert!(dom.contains(">Lab DNS<a"), "{dom}");
    // The copy buttons come from /-/static/copy.js, which the page's CSP allows.
    assert_eq!(dom.matches(">Copy</button>").count(), 2, "{dom}");
    let (dom, _) = run_chromium(
        &format!("{}/alice/dns/commit/{head}", app.base),
        "--dump-dom",
        &profile,
    )
    .await;
    assert!(dom.contains("+router IN A 192.168.1.254"));
}
