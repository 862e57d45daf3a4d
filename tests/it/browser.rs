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

/// tests/browser with axe-core and puppeteer-core installed from its lock file: `.ci/run` runs
/// `npm ci` there; a plain `cargo test` on a machine that has npm runs it here, once, so the
/// README's one test command is enough (puppeteer-core drives Debian's chromium and downloads
/// no browser).
async fn checker_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let installed = |dir: &std::path::Path| {
        dir.join("node_modules/axe-core").exists()
            && dir.join("node_modules/puppeteer-core").exists()
    };
    if !installed(&dir) {
        let out = tokio::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .env("PUPPETEER_SKIP_DOWNLOAD", "1")
            .current_dir(&dir)
            .output()
            .await
            .expect("npm runs (apt-get install nodejs npm; .ci/run does)");
        assert!(
            out.status.success(),
            "npm ci in tests/browser failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        installed(&dir),
        "npm ci installed axe-core and puppeteer-core"
    );
    dir
}

/// Every page a user (and a site admin) reaches, in Chromium at 1280 and 390 px, light and dark: axe-core finds
/// no serious or critical violation, nothing is wider than the window at 390 px (code scrolls
/// inside its box), and a screenshot of each is left under target/tmp/screenshots.
#[tokio::test(flavor = "multi_thread")]
async fn every_page_passes_axe_and_fits_a_phone_in_both_themes() {
    let conf = tempfile::tempdir().unwrap();
    let script = conf.path().join("deploy.sh");
    std::fs::write(&script, "#!/bin/sh\necho deployed\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = conf.path().join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await;
    let src = sample_repo(&app, false).await;
    let head = git_ok(&src, &["rev-parse", "main"]).await.trim().to_owned();
    let runs = crate::hooks::settled_runs(&app, "alice/dns").await;
    // alice is a site admin too, so the administration pages are checked with the rest.
    let operator = app.forge.site_admin_for_operator(&app.system_key);
    app.forge
        .set_user_admin(
            &operator,
            &labforge::model::Username::parse("alice").unwrap(),
            true,
        )
        .await
        .unwrap();
    let alice = crate::issues::browser(&app, "alice").await;
    let (status, _, _) = crate::issues::post(
        &app,
        Some(&alice),
        "/alice/dns/issues/new",
        &[
            ("title", "Resolver down"),
            ("body", "## Steps\n\n- [x] restart\n- [ ] check `dig`\n"),
            ("action", "submit"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    organization(&app).await;
    let pages = serde_json::json!([
        ["dashboard", "/", true],
        ["home", "/", false],
        ["user", "/alice", false],
        ["summary", "/alice/dns", false],
        ["tree", "/alice/dns/tree/main/zones/home", false],
        ["blob", "/alice/dns/blob/main/zones/home/db.home", false],
        ["log", "/alice/dns/commits/main", false],
        ["commit", format!("/alice/dns/commit/{head}"), false],
        ["blame", "/alice/dns/blame/main/zones/home/db.home", false],
        [
            "compare",
            "/alice/dns/compare/main...feature/split-zones",
            false
        ],
        ["branches", "/alice/dns/branches", false],
        ["issues", "/alice/dns/issues", true],
        ["issue", "/alice/dns/issues/1", true],
        ["deploys", "/alice/dns/deploys", true],
        ["deploy", format!("/alice/dns/deploys/{}", runs[0].id), true],
        ["repo-settings", "/alice/dns/settings", true],
        [
            "repo-settings-collaborators",
            "/alice/dns/settings/collaborators",
            true
        ],
        [
            "repo-settings-branches",
            "/alice/dns/settings/branches",
            true
        ],
        ["repo-settings-hooks", "/alice/dns/settings/hooks", true],
        ["repo-settings-mirrors", "/alice/dns/settings/mirrors", true],
        ["repo-settings-danger", "/alice/dns/settings/delete", true],
        ["not-found-signed-out", "/alice/nothing", false],
        ["keys", "/settings/keys", true],
        ["tokens", "/settings/tokens", true],
        ["password", "/settings/password", true],
        ["new", "/new", true],
        ["org", "/lab", true],
        ["org-new", "/org/new", true],
        ["org-settings", "/org/lab/settings", true],
        ["org-team", "/org/lab/teams/deployers", true],
        ["sign-in", "/login", false],
        ["admin", "/-/admin", true],
        ["admin-users", "/-/admin/users", true],
        ["admin-user", "/-/admin/users/alice", true],
        ["admin-repos", "/-/admin/repos", true],
        ["admin-config", "/-/admin/config", true],
        ["admin-audit", "/-/admin/audit", true],
    ]);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let job = serde_json::json!({
        "base": app.base,
        "cookie": alice.cookie,
        "shots": shots,
        "chromium": chromium(),
        "pages": pages,
    });
    let mut child = tokio::process::Command::new("node")
        .arg("check.mjs")
        .current_dir(checker_dir().await)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (apt-get install nodejs npm; .ci/run does)");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(job.to_string().as_bytes()).await.unwrap();
    }
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        child.wait_with_output(),
    )
    .await
    .expect("the browser checks end within 5 minutes")
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        results.len(),
        pages.as_array().unwrap().len() * 4,
        "every page, width and theme"
    );
    let mut problems = Vec::new();
    for r in &results {
        let at = format!("{} {}px {}", r["page"], r["width"], r["theme"]);
        let want = if r["page"] == "not-found-signed-out" {
            404
        } else {
            200
        };
        if r["status"] != want {
            problems.push(format!("{at}: HTTP {}", r["status"]));
        }
        for v in r["violations"].as_array().unwrap() {
            if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
                problems.push(format!("{at}: {} ({}) {}", v["id"], v["help"], v["nodes"]));
            }
        }
        if r["overflow"].as_i64().unwrap() > 0 {
            problems.push(format!("{at}: {} px wider than the window", r["overflow"]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for name in ["dashboard", "blame", "sign-in"] {
        for variant in ["1280-light", "1280-dark", "390-light", "390-dark"] {
            let png = std::fs::read(shots.join(format!("{name}-{variant}.png"))).unwrap();
            assert!(
                png.starts_with(b"\x89PNG") && png.len() > 4000,
                "{name}-{variant}"
            );
        }
    }
}

/// `lab`, owned by alice, with a repository and a team covering it, for the organization pages.
async fn organization(app: &TestApp) {
    use labforge::domain::orgs::TeamSettings;
    use labforge::model::{OrgVisibility, RepoAccess, RepoName, TeamName, Username};
    let (forge, key) = (&app.forge, &app.system_key);
    let lab = Username::parse("lab").unwrap();
    forge
        .create_org_as_operator(
            key,
            &lab,
            "the homelab's shared repositories",
            OrgVisibility::Public,
        )
        .await
        .unwrap();
    let grant = forge.grant_org_for_operator(key, &lab).await.unwrap();
    forge
        .set_org_member(&grant, &Username::parse("alice").unwrap(), true)
        .await
        .unwrap();
    app.create_repo("lab", "compose", false).await;
    let settings = TeamSettings {
        access: RepoAccess::Write,
        all_repos: false,
        can_create: true,
    };
    let team = TeamName::parse("deployers").unwrap();
    forge
        .create_team(
            &grant,
            &team,
            &settings,
            &[RepoName::parse("compose").unwrap()],
        )
        .await
        .unwrap();
    forge
        .add_team_member(&grant, &team, &Username::parse("alice").unwrap())
        .await
        .unwrap();
}
