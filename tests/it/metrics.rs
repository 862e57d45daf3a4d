//! `/metrics` with real traffic: a push, a clone, a page view, a failed SSH login and a deploy
//! move exactly their counters; the output passes Prometheus' own `promtool check metrics`; the
//! token is enforced, per-repository series are off by default, and `[metrics] addr` serves
//! them apart from the web port. Request ids on answers and on a refused push.

use std::collections::BTreeMap;
use std::path::Path;

use crate::checks::script;
use crate::helpers::{TestApp, eventually, git, git_ok, local_repo, stderr};
use crate::ssh::{SshClient, keygen, user_with_key};

pub(crate) const PW: &str = "correct-horse-battery";
pub(crate) const TOKEN: &str = "scrape-0123456789abcdef";

/// Every sample of a scrape: `name{labels}` to its value.
pub(crate) fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample is `series value`");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

/// GET `/metrics` at `base` with `token` (if any): the status and the body.
pub(crate) async fn scrape_at(base: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let (status, text) = scrape_at(&app.base, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    samples(&text)
}

/// How much each series of `family` (its samples starting `family{`) moved between scrapes.
fn moved(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    family: &str,
) -> BTreeMap<String, f64> {
    let prefix = format!("{family}{{");
    after
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

fn one(series: &[&str]) -> BTreeMap<String, f64> {
    series.iter().map(|s| ((*s).to_owned(), 1.0)).collect()
}

/// `promtool check metrics` (Debian's `prometheus`) on `text`: its complaints, empty when clean.
pub(crate) fn promtool(text: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        String::new()
    } else {
        said
    }
}

/// A deploy `dns` of alice/dns's main, a check that refuses branch `blocked`, metrics with the
/// token; alice owns alice/dns and has a clone with two commits.
async fn busy_app(conf: &Path) -> (TestApp, std::path::PathBuf) {
    script(conf, "deploy.sh", "echo deployed");
    script(conf, "refuse.sh", "echo no; exit 1");
    let file = conf.join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n\n\
         [[check]]\nname = \"refuse\"\nrepo = \"alice/dns\"\nbranch = \"blocked\"\nrun = \"refuse.sh\"\nsandbox = false\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&[
        ("LABFORGE_CONFIG", file.to_str().unwrap()),
        ("LABFORGE_METRICS_ENABLED", "true"),
        ("LABFORGE_METRICS_TOKEN", TOKEN),
    ])
    .await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let local = app.workdir("dns");
    local_repo(&local, 2).await;
    (app, local)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_a_clone_a_page_a_failed_ssh_login_and_a_deploy_move_exactly_their_counters() {
    let conf = tempfile::tempdir().unwrap();
    let (app, local) = busy_app(conf.path()).await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    let before = scrape(&app).await;

    // A push over HTTP (which deploys), a clone over SSH, one page.
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let ssh = SshClient::new(&app, &key);
    let clone = app.workdir("clone");
    ssh.git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &ssh.url("alice/dns"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    let page = reqwest::get(format!("{}/alice/dns", app.base))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // A key labforge does not know.
    let stranger = keygen(&app.work.path().join("keys"), "stranger", "ed25519");
    let out = SshClient::new(&app, &stranger).run(&["whoami"]).await;
    assert!(!out.status.success());

    let after = eventually(
        30,
        "the deploy and the failed SSH login to be counted",
        || async {
            let after = scrape(&app).await;
            let failed = "labforge_ssh_authentications_total{outcome=\"failed\"}";
            let deploys: f64 = after
                .iter()
                .filter(|(k, _)| k.starts_with("labforge_deploy_runs_total{"))
                .map(|(_, v)| v)
                .sum();
            (after.get(failed).copied().unwrap_or(0.0) >= 1.0 && deploys >= 1.0).then_some(after)
        },
    )
    .await;
    assert_eq!(
        moved(&before, &after, "labforge_git_operations_total"),
        one(&[
            "labforge_git_operations_total{service=\"receive-pack\",transport=\"http\"}",
            "labforge_git_operations_total{service=\"upload-pack\",transport=\"ssh\"}",
        ])
    );
    assert_eq!(
        moved(
            &before,
            &after,
            "labforge_git_operation_duration_seconds_count"
        ),
        one(&[
            "labforge_git_operation_duration_seconds_count{service=\"receive-pack\",transport=\"http\"}",
            "labforge_git_operation_duration_seconds_count{service=\"upload-pack\",transport=\"ssh\"}",
        ])
    );
    let sent = "labforge_git_sent_bytes_total{service=\"upload-pack\",transport=\"ssh\"}";
    assert!(after[sent] > 200.0, "a pack was sent: {}", after[sent]);
    assert_eq!(
        moved(&before, &after, "labforge_ssh_authentications_total"),
        one(&[
            "labforge_ssh_authentications_total{outcome=\"failed\"}",
            "labforge_ssh_authentications_total{outcome=\"succeeded\"}",
        ])
    );
    assert_eq!(
        moved(&before, &after, "labforge_deploy_runs_total"),
        one(&["labforge_deploy_runs_total{deploy=\"dns\",status=\"succeeded\"}"])
    );
    // The page by its route pattern, never its URL; git's requests by theirs.
    let http = moved(&before, &after, "labforge_http_requests_total");
    assert_eq!(
        http.get("labforge_http_requests_total{route=\"/{owner}/{repo}\",status=\"2xx\"}"),
        Some(&1.0),
        "{http:?}"
    );
    assert_eq!(
        http.get("labforge_http_requests_total{route=\"/{owner}/{repo}/git-receive-pack\",status=\"2xx\"}"),
        Some(&1.0),
        "{http:?}"
    );
    assert!(http.keys().all(|k| !k.contains("alice")), "{http:?}");
    assert!(moved(&before, &after, "labforge_checks_total").is_empty());
    assert!(
        after.keys().all(|k| !k.contains("alice/dns")),
        "no repository names by default"
    );

    // A refused push: counted as a check outcome, and the pusher is told the request's id.
    git_ok(&local, &["checkout", "-q", "-b", "blocked"]).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    let out = git(&local, &["push", &url, "blocked"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    let id = err
        .lines()
        .find_map(|l| l.strip_prefix("remote: labforge: request id "))
        .unwrap_or_else(|| panic!("no request id in: {err}"))
        .trim();
    assert_eq!(id.len(), 16, "{id}");
    let after = scrape(&app).await;
    assert_eq!(
        after.get("labforge_checks_total{check=\"refuse\",outcome=\"failed\"}"),
        Some(&1.0)
    );

    let (_, text) = scrape_at(&app.base, Some(TOKEN)).await;
    assert_eq!(promtool(&text), "", "promtool check metrics:\n{text}");
}

#[tokio::test]
async fn the_token_is_enforced_and_repository_names_need_per_repo() {
    let conf = tempfile::tempdir().unwrap();
    let (app, local) = busy_app(conf.path()).await;
    assert_eq!(scrape_at(&app.base, None).await.0, 401);
    assert_eq!(
        scrape_at(&app.base, Some("scrape-0123456789abcdeX"))
            .await
            .0,
        401
    );
    app.push(&local, ("alice", PW), "alice/dns", &["main"])
        .await;
    let (status, text) = scrape_at(&app.base, Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(!text.contains("alice"), "{text}");

    // per_repo (with the token, which it requires) adds the series by repository.
    let mut app = app;
    app.restart_with(&[
        (
            "LABFORGE_CONFIG",
            conf.path().join("labforge.toml").to_str().unwrap(),
        ),
        ("LABFORGE_METRICS_ENABLED", "true"),
        ("LABFORGE_METRICS_TOKEN", TOKEN),
        ("LABFORGE_METRICS_PER_REPO", "true"),
    ])
    .await;
    let clone = app.workdir("clone");
    git_ok(
        app.work.path(),
        &[
            "clone",
            "-q",
            &app.url(Some(("alice", PW)), "alice/dns"),
            clone.to_str().unwrap(),
        ],
    )
    .await;
    let after = scrape(&app).await;
    let by_repo: f64 = after
        .iter()
        .filter(|(k, _)| {
            k.starts_with("labforge_git_repository_operations_total{repository=\"alice/dns\",service=\"upload-pack\"}")
        })
        .map(|(_, v)| v)
        .sum();
    assert!(by_repo >= 1.0, "{after:?}");

    // Off (the default): no endpoint at all.
    app.restart_with(&[]).await;
    assert_eq!(scrape_at(&app.base, Some(TOKEN)).await.0, 404);
}

#[tokio::test]
async fn metrics_on_their_own_address_are_not_on_the_web_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[
        ("LABFORGE_METRICS_ENABLED", "true"),
        ("LABFORGE_METRICS_ADDR", &addr),
    ])
    .await;
    let page = reqwest::get(format!("{}/", app.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(scrape_at(&app.base, None).await.0, 404);
    let (status, text) = scrape_at(&format!("http://{addr}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        samples(&text).get("labforge_http_requests_total{route=\"/\",status=\"2xx\"}"),
        Some(&1.0),
        "the web port's requests are counted: {text}"
    );
}

#[tokio::test]
async fn answers_carry_a_request_id_and_a_strangers_own_is_not_taken() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let id_of = |res: &reqwest::Response| {
        res.headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
            .expect("every answer has an X-Request-Id")
    };
    let a = client.get(format!("{}/", app.base)).send().await.unwrap();
    let b = client
        .get(format!("{}/nothing/here", app.base))
        .send()
        .await
        .unwrap();
    let (a, b) = (id_of(&a), id_of(&b));
    assert_eq!(a.len(), 16);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
    assert_ne!(a, b);
    // 127.0.0.1 is no trusted proxy here: its id is replaced.
    let planted = client
        .get(format!("{}/", app.base))
        .header("x-request-id", "planted-id")
        .send()
        .await
        .unwrap();
    assert_ne!(id_of(&planted), "planted-id");

    let app = TestApp::spawn_with(&[("LABFORGE_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let kept = client
        .get(format!("{}/", app.base))
        .header("x-request-id", "from-the-proxy-1")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&kept), "from-the-proxy-1");
    let bad = client
        .get(format!("{}/", app.base))
        .header("x-request-id", "two words")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&bad).len(), 16, "an unreadable id is replaced");
}
