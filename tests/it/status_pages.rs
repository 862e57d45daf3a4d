//! Statuses on the pages: a check's and a deploy's status on the pushed commit, marks on the
//! log, tree, summary and branches pages, the list on the commit page, and the check's log page.

use labforge::domain::statuses::StatusReport;
use labforge::model::{CommitState, StatusContext, Username};

use crate::checks::{PW, app_with, commit, script, setup};
use crate::helpers::{eventually, git, git_ok, stderr};

async fn page(base: &str, path: &str) -> (u16, String) {
    let res = reqwest::get(format!("{base}{path}")).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn checks_and_deploys_report_on_commits_and_the_pages_show_it() {
    let conf = tempfile::tempdir().unwrap();
    script(
        conf.path(),
        "zones.sh",
        "! grep -l BROKEN zones/*.zone && echo zones look fine",
    );
    script(conf.path(), "deploy.sh", "echo deployed");
    let app = app_with(
        conf.path(),
        r#"
[[check]]
name = "zones"
repo = "alice/dns"
branch = "*"
run = "zones.sh"

[[deploy]]
name = "dns"
repo = "alice/dns"
branch = "main"
run = "deploy.sh"
"#,
    )
    .await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");
    git_ok(&local, &["push", "-q", &url, "main"]).await;
    let head = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let grant = app.grant("alice/dns").await;

    // The check's status at once; the deploy's once its run has ended.
    let combined = eventually(30, "the deploy's success status", || async {
        let all = app
            .forge
            .latest_statuses(&grant, std::slice::from_ref(&head), 100)
            .await
            .unwrap();
        let c = all.get(&head)?.clone();
        let deployed = c
            .statuses
            .iter()
            .any(|s| s.context == "deploy/dns" && s.state == CommitState::Success);
        deployed.then_some(c)
    })
    .await;
    assert_eq!(combined.state, CommitState::Success);
    let contexts: Vec<&str> = combined
        .statuses
        .iter()
        .map(|s| s.context.as_str())
        .collect();
    assert_eq!(contexts, ["check/zones", "deploy/dns"]);
    let deploy = &combined.statuses[1];
    assert!(
        deploy.target_url.contains("/alice/dns/deploys/"),
        "{deploy:?}"
    );
    assert!(deploy.description.starts_with("deploy dns #"), "{deploy:?}");
    assert!(deploy.description.contains("succeeded"), "{deploy:?}");

    // An outside CI's pending status makes the combined state pending.
    let alice = app
        .forge
        .user(&Username::parse("alice").unwrap())
        .await
        .unwrap();
    let actor = labforge::model::Actor {
        user: alice,
        scope: None,
    };
    let alice_writes = app
        .forge
        .authorize::<labforge::domain::Write>(
            Some(&actor),
            &labforge::model::RepoPath::parse("alice/dns").unwrap(),
        )
        .await
        .unwrap();
    let ci = StatusContext::parse("ci/woodpecker").unwrap();
    app.forge
        .create_status(
            &alice_writes,
            &StatusReport {
                sha: &head,
                context: &ci,
                state: CommitState::Pending,
                description: "build 12 running",
                target_url: "https://ci.lab.example/12",
            },
        )
        .await
        .unwrap();

    // Marks: log, tree, summary and branches pages; the list on the commit page.
    let mark = format!("href=\"/alice/dns/commit/{head}#statuses\"");
    for path in [
        "/alice/dns/commits/main",
        "/alice/dns/tree/main",
        "/alice/dns",
        "/alice/dns/branches",
    ] {
        let (status, html) = page(&app.base, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains("class=\"mark mark-pending\""),
            "{path}: {html}"
        );
        assert!(html.contains(&mark), "{path}: {html}");
        assert!(
            html.contains("ci/woodpecker: pending, check/zones: success, deploy/dns: success"),
            "{path}: {html}"
        );
    }
    let (_, commit_page) = page(&app.base, &format!("/alice/dns/commit/{head}")).await;
    assert!(commit_page.contains("id=\"statuses\""), "{commit_page}");
    assert!(
        commit_page.contains("<a href=\"https://ci.lab.example/12\">ci/woodpecker</a>"),
        "{commit_page}"
    );
    assert!(commit_page.contains("build 12 running"), "{commit_page}");
    let check_link = combined.statuses[0].target_url.clone();
    let check_path = check_link.trim_start_matches(&app.base).to_owned();
    assert!(
        commit_page.contains(&format!("<a href=\"{check_link}\">check/zones</a>")),
        "{commit_page}"
    );
    assert!(
        commit_page.contains(&format!("<a href=\"{}\">deploy/dns</a>", deploy.target_url)),
        "{commit_page}"
    );

    // The check's own page: its output, and the run's facts.
    let (status, check_page) = page(&app.base, &check_path).await;
    assert_eq!(status, 200, "{check_path}");
    assert!(check_page.contains("zones look fine"), "{check_page}");
    assert!(check_page.contains("passed"), "{check_page}");
    let (_, list) = page(&app.base, "/alice/dns/checks").await;
    assert!(list.contains(&check_path), "{list}");

    // A refused push: its failure is on its commit (which never landed) and on its page.
    commit(&local, "zones/bad.zone", "BROKEN <script>\n", "broken").await;
    let out = git(&local, &["push", &url, "main"]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    let bad = git_ok(&local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let all = app
        .forge
        .latest_statuses(&grant, std::slice::from_ref(&bad), 100)
        .await
        .unwrap();
    let failed = &all[&bad].statuses[0];
    assert_eq!(failed.state, CommitState::Failure);
    let failed_path = failed.target_url.trim_start_matches(&app.base).to_owned();
    assert!(
        err.contains("check zones failed (exit code 1) after"),
        "{err}"
    );
    assert!(
        err.contains(&failed.target_url),
        "the pusher is told where the log is: {err}"
    );
    let (_, failed_page) = page(&app.base, &failed_path).await;
    assert!(failed_page.contains("zones/bad.zone"), "{failed_page}");
    assert!(failed_page.contains("failed (exit 1)"), "{failed_page}");
    assert!(!failed_page.contains("<script>"), "escaped: {failed_page}");

    // A private repository's check pages are hidden like the rest of it.
    app.forge
        .update_repo(&app.grant("alice/dns").await, "", true, "main")
        .await
        .unwrap();
    assert_eq!(page(&app.base, &check_path).await.0, 404);
    assert_eq!(page(&app.base, "/alice/dns/checks").await.0, 404);
}
