//! No shipped deploy script writes through a link a previous commit left in its target: a
//! commit makes `f` a link to a file outside (and `d` a link to a folder outside, and rsync's
//! holding folder `.~tmp~` one too), the next makes them a file and a folder. The outside file
//! and folder stay as they were; each deploy's target has the commit's file. compose (with a
//! stand-in for docker), rsync into a local folder and ansible (whose target is labforge's own
//! working folder, read by the playbook) each through a real push and a real run.

use std::path::Path;

use crate::deploy_scripts::{PW, app_with, executable, log_text, newest_run, read, shipped};
use crate::helpers::git_ok;
use crate::hooks::settled_runs;

enum Entry<'a> {
    File(&'a str),
    Link(&'a Path),
    Gone,
}

/// Replaces each path in the clone by `entry`, commits and pushes main; returns the commit.
async fn commit(
    app: &crate::helpers::TestApp,
    local: &Path,
    entries: &[(&str, Entry<'_>)],
) -> String {
    for (path, entry) in entries {
        let path = local.join(path);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path).unwrap(),
            Ok(_) => std::fs::remove_file(&path).unwrap(),
            Err(_) => {}
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match entry {
            Entry::File(text) => std::fs::write(&path, text).unwrap(),
            Entry::Link(target) => std::os::unix::fs::symlink(target, &path).unwrap(),
            Entry::Gone => {}
        }
    }
    git_ok(local, &["add", "-A"]).await;
    git_ok(local, &["commit", "-q", "-m", "change"]).await;
    app.push(local, ("alice", PW), "alice/links", &["main"])
        .await;
    git_ok(local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned()
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn is_real_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

#[tokio::test]
async fn no_shipped_deploy_script_writes_through_a_link_the_last_commit_left() {
    let conf = tempfile::tempdir().unwrap();
    let outside = conf.path().join("outside");
    let outside_file = outside.join("host.conf");
    let outside_dir = outside.join("dir");
    std::fs::create_dir_all(&outside_dir).unwrap();
    std::fs::write(&outside_file, "the host's own\n").unwrap();
    let (stack, www, marker) = (
        conf.path().join("stack"),
        conf.path().join("www"),
        conf.path().join("marker"),
    );
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(stack.join(".env"), "SECRET=kept\n").unwrap();
    let docker = conf.path().join("docker");
    executable(&docker, "#!/bin/sh\nexit 0\n");
    let toml = format!(
        r#"[[deploy]]
name = "compose"
repo = "alice/links"
branch = "main"
run = "{compose}"
args = ["{stack}"]
env = {{ DOCKER = "{docker}" }}

[[deploy]]
name = "rsync"
repo = "alice/links"
branch = "main"
run = "{rsync}"
args = ["{www}"]

[[deploy]]
name = "ansible"
repo = "alice/links"
branch = "main"
run = "{ansible}"
args = ["-e", "out={marker}"]
timeout = "2m"
"#,
        compose = shipped("deploy-compose.sh"),
        rsync = shipped("deploy-rsync.sh"),
        ansible = shipped("deploy-ansible.sh"),
        stack = stack.display(),
        docker = docker.display(),
        www = www.display(),
        marker = marker.display(),
    );
    let (app, local) = app_with(conf.path(), &toml, "links").await;
    // The playbook copies `f` as labforge's working folder holds it.
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n        \
                dest: \"{{ out }}\"\n        content: \"{{ lookup('file', playbook_dir + '/f') }}\\n\"\n";
    let inventory = "localhost ansible_connection=local \
                     ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n";
    commit(
        &app,
        &local,
        &[
            ("compose.yaml", Entry::File("services: {}\n")),
            ("inventory", Entry::File(inventory)),
            ("site.yml", Entry::File(site)),
            ("f", Entry::Link(&outside_file)),
            ("d", Entry::Link(&outside_dir)),
            (".~tmp~", Entry::Link(&outside_dir)),
        ],
    )
    .await;
    settled_runs(&app, "alice/links").await;
    // The links did reach the targets: what follows is the attack, not a no-op.
    assert!(is_link(&stack.join("f")) && is_link(&stack.join("d")));
    assert!(is_link(&www.join("f")) && is_link(&www.join("d")));

    // `f` becomes a file, `d` a folder with a file in it.
    let head = commit(
        &app,
        &local,
        &[
            ("f", Entry::File("from the commit\n")),
            ("d", Entry::Gone),
            ("d/x", Entry::File("inside d\n")),
        ],
    )
    .await;
    for name in ["compose", "rsync", "ansible"] {
        let run = newest_run(&app, "links", name).await;
        let log = log_text(&app, &run).await;
        assert_eq!(
            (run.status.as_str(), run.new_id.as_str()),
            ("succeeded", head.as_str()),
            "{name}: {log}"
        );
    }

    assert_eq!(
        read(&outside_file),
        "the host's own\n",
        "the host file is untouched"
    );
    assert_eq!(
        std::fs::read_dir(&outside_dir).unwrap().count(),
        0,
        "nothing was written into the outside folder"
    );
    for target in [&stack, &www] {
        assert!(is_real_file(&target.join("f")), "{}", target.display());
        assert_eq!(read(&target.join("f")), "from the commit\n");
        assert!(
            std::fs::symlink_metadata(target.join("d")).is_ok_and(|m| m.is_dir()),
            "{}",
            target.display()
        );
        assert_eq!(read(&target.join("d/x")), "inside d\n");
    }
    assert_eq!(
        read(&marker),
        "from the commit\n",
        "ansible read the commit's f"
    );
    assert_eq!(
        read(&stack.join(".env")),
        "SECRET=kept\n",
        "compose deletes nothing"
    );
    let staging_left: Vec<_> = std::fs::read_dir(&stack)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".deploy-compose-stage")
        })
        .collect();
    assert!(staging_left.is_empty(), "{staging_left:?}");
}
