//! The deploy scripts labforge ships in `hooks/`, each run the way an operator would: named in a
//! `[[deploy]]` of the config file, started by a real push, run by the deploy worker in the
//! commit's export with labforge's cleared environment.
//!
//! `deploy-compose.sh` is not run against a Docker engine here (there is none on the test
//! machines): its `DOCKER` is a stand-in that records how it was called.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use labforge::domain::deploys::DeployRun;
use labforge::model::DeployStatus;

use crate::helpers::{TestApp, git_ok, local_repo};
use crate::hooks::settled_runs;

pub(crate) const PW: &str = "correct-horse-battery";

/// The shipped script, from the checkout (not a copy).
pub(crate) fn shipped(name: &str) -> String {
    format!("{}/hooks/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// An app whose config file holds `deploys`, with alice's empty repository `alice/REPO` and a
/// local clone of it that already has a first commit.
pub(crate) async fn app_with(conf: &Path, deploys: &str, repo: &str) -> (TestApp, PathBuf) {
    let file = conf.join("labforge.toml");
    std::fs::write(&file, deploys).unwrap();
    let app = TestApp::spawn_with(&[("LABFORGE_CONFIG", file.to_str().unwrap())]).await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", repo, false).await;
    let local = app.workdir(repo);
    local_repo(&local, 1).await;
    (app, local)
}

pub(crate) fn executable(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Writes (`Some`) or deletes (`None`) files, commits and pushes main; returns the new commit.
async fn commit_and_push(
    app: &TestApp,
    local: &Path,
    repo: &str,
    files: &[(&str, Option<&str>)],
) -> String {
    for (path, content) in files {
        let path = local.join(path);
        match content {
            Some(text) => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, text).unwrap();
            }
            None => std::fs::remove_file(&path).unwrap(),
        }
    }
    git_ok(local, &["add", "-A"]).await;
    git_ok(local, &["commit", "-q", "-m", "change"]).await;
    app.push(local, ("alice", PW), &format!("alice/{repo}"), &["main"])
        .await;
    git_ok(local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned()
}

/// The newest run of deploy `name` once every run of the repository has ended.
pub(crate) async fn newest_run(app: &TestApp, repo: &str, name: &str) -> DeployRun {
    settled_runs(app, &format!("alice/{repo}"))
        .await
        .into_iter()
        .find(|r| r.deploy_name == name)
        .unwrap_or_else(|| panic!("no run of {name}"))
}

pub(crate) async fn log_text(app: &TestApp, run: &DeployRun) -> String {
    let lines = crate::hooks::stored_log(app, run).await;
    lines
        .iter()
        .map(|l| format!("{} {}\n", l.stream, l.line))
        .collect()
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn rsync_mirrors_each_push_into_a_local_and_a_remote_folder() {
    let conf = tempfile::tempdir().unwrap();
    let (local_target, remote_target) = (conf.path().join("www"), conf.path().join("remote"));
    // The remote path runs rsync's real remote-shell protocol; only ssh is stood in for: like
    // ssh, the stand-in gets the host and then the command to run there.
    let rsh = conf.path().join("rsh");
    executable(
        &rsh,
        &format!(
            "#!/bin/sh\necho \"$1\" >> {}\nshift\nexec \"$@\"\n",
            conf.path().join("rsh-hosts").display()
        ),
    );
    std::fs::create_dir_all(&local_target).unwrap();
    std::fs::write(local_target.join("local.conf"), "kept\n").unwrap();
    let toml = format!(
        r#"[[deploy]]
name = "site"
repo = "alice/site"
branch = "main"
run = "{rsync}"
args = ["{local}", "--exclude=local.conf"]

[[deploy]]
name = "site-remote"
repo = "alice/site"
branch = "main"
run = "{rsync}"
env = {{ RSYNC_TARGET = "lab1:{remote}", RSYNC_RSH = "{rsh}" }}

[[deploy]]
name = "remote-home"
repo = "alice/site"
branch = "main"
run = "{rsync}"
args = ["lab1:"]
env = {{ RSYNC_RSH = "{rsh}" }}
"#,
        rsync = shipped("deploy-rsync.sh"),
        local = local_target.display(),
        remote = remote_target.display(),
        rsh = rsh.display(),
    );
    let (app, local) = app_with(conf.path(), &toml, "site").await;

    let first = commit_and_push(
        &app,
        &local,
        "site",
        &[
            ("index.html", Some("<h1>v1</h1>\n")),
            ("css/site.css", Some("body {}\n")),
            ("old.txt", Some("to be removed\n")),
            (".gitignore", Some("*.tmp\n")),
        ],
    )
    .await;
    let run = newest_run(&app, "site", "site").await;
    let log = log_text(&app, &run).await;
    assert_eq!(
        (run.status.as_str(), run.new_id.as_str()),
        ("succeeded", first.as_str()),
        "{log}"
    );
    assert!(log.contains("deploy-rsync: done"), "{log}");
    let remote_run = newest_run(&app, "site", "site-remote").await;
    assert_eq!(
        remote_run.status,
        DeployStatus::Succeeded,
        "{}",
        log_text(&app, &remote_run).await
    );
    for target in [&local_target, &remote_target] {
        assert_eq!(read(&target.join("index.html")), "<h1>v1</h1>\n");
        assert_eq!(read(&target.join("css/site.css")), "body {}\n");
        assert_eq!(read(&target.join("file0.txt")), "content 0\n");
        assert!(target.join("old.txt").exists());
        assert!(
            !target.join(".gitignore").exists(),
            "git's own files stay behind"
        );
        let mode = std::fs::metadata(target.join("index.html"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o022, 0, "no group/other write: {mode:o}");
    }
    assert_eq!(
        read(&conf.path().join("rsh-hosts")).lines().next(),
        Some("lab1")
    );

    // Mirroring into a remote home folder is refused before anything runs.
    let refused = newest_run(&app, "site", "remote-home").await;
    assert_eq!(
        (refused.status.as_str(), refused.exit_code),
        ("failed", Some(2))
    );
    assert!(
        log_text(&app, &refused)
            .await
            .contains("refusing to mirror (and delete) into 'lab1:'"),
        "{}",
        log_text(&app, &refused).await
    );

    // A file removed from the repository disappears; an excluded one is left alone.
    commit_and_push(
        &app,
        &local,
        "site",
        &[("old.txt", None), ("index.html", Some("<h1>v2</h1>\n"))],
    )
    .await;
    let run = newest_run(&app, "site", "site").await;
    assert_ne!(run.new_id, first);
    assert_eq!(run.status, DeployStatus::Succeeded);
    let log = log_text(&app, &run).await;
    assert!(log.contains("deleting") && log.contains("old.txt"), "{log}");
    for target in [&local_target, &remote_target] {
        assert!(!target.join("old.txt").exists(), "{}", target.display());
        assert_eq!(read(&target.join("index.html")), "<h1>v2</h1>\n");
    }
    assert_eq!(read(&local_target.join("local.conf")), "kept\n");
}

#[tokio::test]
async fn ansible_plays_the_pushed_playbook_against_its_inventory() {
    let conf = tempfile::tempdir().unwrap();
    let marker = conf.path().join("marker");
    let toml = format!(
        r#"[[deploy]]
name = "lab"
repo = "alice/ansible"
branch = "main"
run = "{ansible}"
args = ["-e", "out={marker}"]
timeout = "2m"

[[deploy]]
name = "lab-missing"
repo = "alice/ansible"
branch = "main"
run = "{ansible}"
args = ["missing.yml"]
"#,
        ansible = shipped("deploy-ansible.sh"),
        marker = marker.display(),
    );
    let (app, local) = app_with(conf.path(), &toml, "ansible").await;
    let head = commit_and_push(
        &app,
        &local,
        "ansible",
        &[
            (
                "inventory",
                Some(
                    "localhost ansible_connection=local \
                     ansible_python_interpreter=\"{{ ansible_playbook_python }}\" greeting=hello\n",
                ),
            ),
            (
                "site.yml",
                Some(
                    "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: write the marker\n      \
                     ansible.builtin.copy:\n        dest: \"{{ out }}\"\n        \
                     content: \"{{ greeting }} from {{ lookup('env', 'LABFORGE_NEW') }}\\n\"\n",
                ),
            ),
        ],
    )
    .await;
    let run = newest_run(&app, "ansible", "lab").await;
    let log = log_text(&app, &run).await;
    assert_eq!(run.status, DeployStatus::Succeeded, "{log}");
    assert_eq!(read(&marker), format!("hello from {head}\n"));
    assert!(
        log.contains("ansible-playbook -i inventory -e out="),
        "{log}"
    );
    assert!(log.contains("TASK [write the marker]"), "{log}");
    assert!(log.contains("changed: [localhost]"), "{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes in the log: {log}");

    let missing = newest_run(&app, "ansible", "lab-missing").await;
    assert_eq!(
        (missing.status.as_str(), missing.exit_code),
        ("failed", Some(2))
    );
    let log = log_text(&app, &missing).await;
    assert!(
        log.contains("the pushed commit has no playbook 'missing.yml'"),
        "{log}"
    );
}

#[tokio::test]
async fn compose_syncs_into_the_stack_folder_then_pulls_and_ups_there() {
    let conf = tempfile::tempdir().unwrap();
    let stack = conf.path().join("stack");
    let calls = conf.path().join("docker-calls");
    // Stands in for the docker CLI (no engine on the test machines): answers `compose version`
    // and `info` with success and records every call with its working folder.
    let docker = conf.path().join("docker");
    executable(
        &docker,
        &format!("#!/bin/sh\necho \"$PWD|$*\" >> {}\n", calls.display()),
    );
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(stack.join(".env"), "SECRET=not-in-git\n").unwrap();
    let toml = format!(
        r#"[[deploy]]
name = "web"
repo = "alice/stack"
branch = "main"
run = "{compose}"
args = ["{stack}", "--remove-orphans"]
env = {{ DOCKER = "{docker}", COMPOSE_PROJECT = "lab-web" }}

[[deploy]]
name = "web-nodocker"
repo = "alice/stack"
branch = "main"
run = "{compose}"
env = {{ COMPOSE_DIR = "{nowhere}", DOCKER = "/nonexistent/docker" }}
"#,
        compose = shipped("deploy-compose.sh"),
        stack = stack.display(),
        docker = docker.display(),
        nowhere = conf.path().join("never").display(),
    );
    let (app, local) = app_with(conf.path(), &toml, "stack").await;
    let compose_yaml = "services:\n  web:\n    image: nginx:1.27\n    volumes: [\"./site:/usr/share/nginx/html:ro\"]\n";
    commit_and_push(
        &app,
        &local,
        "stack",
        &[
            ("compose.yaml", Some(compose_yaml)),
            ("site/index.html", Some("hi\n")),
        ],
    )
    .await;

    let run = newest_run(&app, "stack", "web").await;
    let log = log_text(&app, &run).await;
    assert_eq!(run.status, DeployStatus::Succeeded, "{log}");
    assert_eq!(read(&stack.join("compose.yaml")), compose_yaml);
    assert_eq!(read(&stack.join("site/index.html")), "hi\n");
    assert_eq!(
        read(&stack.join(".env")),
        "SECRET=not-in-git\n",
        "nothing else is touched"
    );
    let recorded = read(&calls);
    let calls: Vec<&str> = recorded.lines().collect();
    let in_stack = |args: &str| format!("{}|{args}", stack.display());
    assert_eq!(calls.len(), 4, "{recorded}");
    assert!(calls[0].ends_with("|compose version"), "{recorded}");
    assert!(calls[1].ends_with("|info"), "{recorded}");
    assert_eq!(
        calls[2],
        in_stack("compose -p lab-web pull --quiet"),
        "{recorded}"
    );
    assert_eq!(
        calls[3],
        in_stack("compose -p lab-web up -d --remove-orphans"),
        "{recorded}"
    );
    assert!(
        log.contains("up -d --remove-orphans") && log.contains("deploy-compose: done"),
        "{log}"
    );

    // Without docker the run fails, says why, and creates no stack folder.
    let missing = newest_run(&app, "stack", "web-nodocker").await;
    assert_eq!(
        (missing.status.as_str(), missing.exit_code),
        ("failed", Some(127))
    );
    let log = log_text(&app, &missing).await;
    assert!(
        // A plain `env` value is not a secret: the log names the path.
        log.contains("docker not found: '/nonexistent/docker' is not an executable program"),
        "{log}"
    );
    assert!(!conf.path().join("never").exists());
}
