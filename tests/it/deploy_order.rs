//! A deploy's output keeps the order the script wrote it in, stdout and stderr interleaved:
//! stored, shown on the run's page and streamed to `git push -o deploy=wait` alike.

use labforge::model::{DeployStatus, LogStream};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn alternating_stdout_and_stderr_lines_keep_their_order() {
    let conf = tempfile::tempdir().unwrap();
    let run = conf.path().join("deploy.sh");
    std::fs::write(
        &run,
        "#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done\n",
    )
    .unwrap();
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = conf.path().join("labforge.toml");
    std::fs::write(
        &file,
        "[[deploy]]\nname = \"dns\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"deploy.sh\"\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await;
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "dns", false).await;
    let local = app.workdir("dns");
    local_repo(&local, 1).await;
    let url = app.url(Some(("alice", "alice-password")), "alice/dns");
    let out = git(&local, &["push", "-o", "deploy=wait", &url, "main"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let want: Vec<String> = (0..200)
        .flat_map(|i| [format!("out {i}"), format!("err {i}")])
        .collect();

    // Streamed to the pusher.
    let streamed: Vec<String> = stderr(&out)
        .lines()
        .filter_map(|l| {
            l.split_once("| ")
                .map(|(_, text)| text.trim_end().to_owned())
        })
        .filter(|t| t.starts_with("out ") || t.starts_with("err "))
        .collect();
    assert_eq!(streamed, want, "streamed in order");

    // Stored.
    let runs = crate::hooks::settled_runs(&app, "alice/dns").await;
    assert_eq!(runs[0].status, DeployStatus::Succeeded);
    let stored: Vec<String> = crate::hooks::stored_log(&app, &runs[0])
        .await
        .into_iter()
        .filter(|l| l.stream != LogStream::Note)
        .map(|l| l.line)
        .collect();
    assert_eq!(stored, want, "stored in order");

    // Shown on the run's page (a public repository: no sign-in needed).
    let html = reqwest::get(format!("{}/alice/dns/deploys/{}", app.base, runs[0].id))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let shown: Vec<String> = html
        .split("</span>")
        .filter_map(|piece| {
            let text = piece.rsplit('>').next()?;
            let line = text.split_once(' ').map(|(_, l)| l)?;
            (line.starts_with("out ") || line.starts_with("err ")).then(|| line.to_owned())
        })
        .collect();
    assert_eq!(shown, want, "shown in order");
}
