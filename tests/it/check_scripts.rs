//! The checks shipped in `hooks/`, each through real pushes, sandboxed, on the real tool: a good
//! input lands, a broken one is refused with the tool's own words. PyYAML (python3-yaml),
//! named-checkzone (bind9-utils), nginx (nginx-light), docker-compose (Debian's, v1: `config`
//! needs no engine) and ansible-playbook (ansible-core).

use std::path::Path;

use crate::checks::{PW, app_with, server_ref};
use crate::helpers::{TestApp, git, git_ok, stderr};

/// An app whose check `name` runs `hooks/check-NAME.sh ARGS` on alice/lab's main, and a clone.
async fn app_for(name: &str, args: &str) -> (TestApp, std::path::PathBuf, tempfile::TempDir) {
    let conf = tempfile::tempdir().unwrap();
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("hooks/check-{name}.sh"));
    let app = app_with(
        conf.path(),
        &format!(
            "[[check]]\nname = \"{name}\"\nrepo = \"alice/lab\"\nbranch = \"main\"\nrun = \"{}\"\nargs = [{args}]\ntimeout = \"2m\"\n",
            run.display()
        ),
    )
    .await;
    assert!(
        app.forge.check_state().sandboxed(),
        "these tests run the checks in bubblewrap"
    );
    app.create_user("alice", PW).await;
    app.create_repo("alice", "lab", false).await;
    let local = app.workdir("lab");
    git_ok(&local, &["init", "-q", "-b", "main"]).await;
    (app, local, conf)
}

/// Writes `files` (path, text), commits and pushes main; returns whether it landed and what
/// the pusher saw.
async fn push(app: &TestApp, local: &Path, files: &[(&str, &str)]) -> (bool, String) {
    for (path, text) in files {
        let p = local.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git_ok(local, &["add", "-A"]).await;
    git_ok(local, &["commit", "-q", "-m", "change"]).await;
    let out = git(
        local,
        &["push", &app.url(Some(("alice", PW)), "alice/lab"), "main"],
    )
    .await;
    let head = git_ok(local, &["rev-parse", "HEAD"])
        .await
        .trim()
        .to_owned();
    let landed = server_ref(app, "alice/lab", "refs/heads/main") == head;
    assert_eq!(landed, out.status.success(), "{}", stderr(&out));
    (landed, stderr(&out))
}

const ZONE: &str = "$TTL 3600\n@ IN SOA ns1.lab.local. admin.lab.local. ( 2026112801 3600 600 86400 300 )\n@ IN NS ns1.lab.local.\nns1 IN A 10.0.0.2\n";

#[tokio::test]
async fn check_yaml_parses_every_changed_yaml_file() {
    let (app, local, _conf) = app_for("yaml", "").await;
    let (landed, err) = push(
        &app,
        &local,
        &[
            ("site.yml", "- hosts: all\n  roles: [dns]\n"),
            (
                "group_vars/all.yaml",
                "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
            ),
            ("README.md", "not yaml: [\n"),
        ],
    )
    .await;
    assert!(landed, "{err}");
    assert!(
        err.contains("remote: check yaml| check-yaml: 2 YAML files parse"),
        "{err}"
    );
    let (landed, err) = push(
        &app,
        &local,
        &[("hosts.yml", "all:\n  hosts:\n    ns1: {\n  bad: [\n")],
    )
    .await;
    assert!(!landed, "{err}");
    assert!(
        err.contains("remote: check yaml| check-yaml: hosts.yml:"),
        "{err}"
    );
    assert!(err.contains("1 of 1 YAML files do not parse"), "{err}");
    assert!(
        err.contains("remote: labforge: check yaml failed (exit code 1): refusing refs/heads/main"),
        "{err}"
    );
}

#[tokio::test]
async fn check_named_loads_each_changed_zone_with_named_checkzone() {
    let (app, local, _conf) = app_for("named", "\"-k\", \"fail\"").await;
    let (landed, err) = push(&app, &local, &[("zones/lab.local.zone", ZONE)]).await;
    assert!(landed, "{err}");
    assert!(
        err.contains(
            "check-named: zones/lab.local.zone: zone lab.local/IN: loaded serial 2026112801"
        ),
        "{err}"
    );
    // A record with a bad address: named-checkzone's own message reaches the pusher.
    let broken = format!("{ZONE}www IN A 10.0.0.300\n");
    let (landed, err) = push(&app, &local, &[("zones/lab.local.zone", &broken)]).await;
    assert!(!landed, "{err}");
    assert!(err.contains("zones/lab.local.zone"), "{err}");
    assert!(
        err.contains("bad dotted quad") || err.contains("10.0.0.300"),
        "{err}"
    );
    assert!(
        err.contains("check named failed (exit code 1): refusing refs/heads/main"),
        "{err}"
    );
    // A push that changes no zone file passes and says nothing was checked (not "0 zone files
    // load"). The refused commit is dropped first.
    git_ok(&local, &["reset", "-q", "--hard", "HEAD~1"]).await;
    let (landed, err) = push(&app, &local, &[("README.md", "zones\n")]).await;
    assert!(landed, "{err}");
    assert!(
        err.contains("check-named: no zone file (*.zone, *.db, db.*) among the files this push changes; nothing was checked"),
        "{err}"
    );
    assert!(!err.contains("0 zone files"), "{err}");
}

#[tokio::test]
async fn check_nginx_runs_nginx_t_on_the_pushed_configuration() {
    let (app, local, _conf) = app_for("nginx", "\"nginx.conf\"").await;
    let nginx_conf = "user www-data;\npid /run/nginx.pid;\nevents { worker_connections 64; }\nhttp {\n    access_log /var/log/nginx/access.log;\n    error_log /var/log/nginx/error.log;\n    include /etc/nginx/sites-enabled/*.conf;\n}\n";
    let site = "server {\n    listen 443 ssl;\n    listen [::]:443 ssl;\n    server_name git.lab;\n    ssl_certificate /etc/letsencrypt/live/git.lab/fullchain.pem;\n    ssl_certificate_key /etc/letsencrypt/live/git.lab/privkey.pem;\n    location / { proxy_pass http://10.0.0.5:3000; }\n}\n";
    let (landed, err) = push(
        &app,
        &local,
        &[("nginx.conf", nginx_conf), ("sites-enabled/git.conf", site)],
    )
    .await;
    assert!(landed, "{err}");
    assert!(
        err.contains("nginx: configuration file nginx.conf test is successful"),
        "{err}"
    );
    let broken = site.replace(
        "proxy_pass http://10.0.0.5:3000;",
        "proxy_pass http://10.0.0.5:3000",
    );
    let (landed, err) = push(&app, &local, &[("sites-enabled/git.conf", &broken)]).await;
    assert!(!landed, "{err}");
    assert!(err.contains("[emerg]"), "{err}");
    assert!(err.contains("sites-enabled/git.conf"), "{err}");
    assert!(
        err.contains("check nginx failed (exit code 1): refusing refs/heads/main"),
        "{err}"
    );
}

#[tokio::test]
async fn check_compose_validates_compose_files_and_skips_without_a_compose_tool() {
    let (app, local, _conf) = app_for("compose", "").await;
    let (landed, err) = push(
        &app,
        &local,
        &[("web/compose.yaml", "services:\n  web:\n    image: nginx:1.25\n    env_file: web.env\n    ports: [\"8080:80\"]\n"), ("web/web.env", "A=1\n")],
    )
    .await;
    assert!(landed, "{err}");
    assert!(
        err.contains("check-compose: web/compose.yaml: valid"),
        "{err}"
    );
    let (landed, err) = push(
        &app,
        &local,
        &[(
            "web/compose.yaml",
            "services:\n  web:\n    image: nginx:1.25\n    ports: \"8080:80\"\n",
        )],
    )
    .await;
    assert!(!landed, "{err}");
    assert!(
        err.contains("services.web.ports contains an invalid type"),
        "{err}"
    );
    assert!(
        err.contains("check compose failed (exit code 1): refusing refs/heads/main"),
        "{err}"
    );

    // Where neither `docker compose` nor docker-compose exists, it passes and says it did not check.
    let out = std::process::Command::new("/bin/sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/check-compose.sh"))
        .env_clear()
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("skipped") && said.contains("were NOT checked"),
        "{said}"
    );
}

#[tokio::test]
async fn check_ansible_syntax_checks_the_playbooks() {
    let (app, local, _conf) = app_for("ansible", "\"site.yml\"").await;
    let (landed, err) = push(
        &app,
        &local,
        &[
            ("site.yml", "- hosts: dns\n  gather_facts: false\n  roles: [bind]\n"),
            ("roles/bind/tasks/main.yml", "- name: zone files\n  ansible.builtin.copy:\n    src: zones/\n    dest: /etc/bind/zones/\n"),
            ("inventory.ini", "[dns]\nns1 ansible_host=10.0.0.2\n"),
        ],
    )
    .await;
    assert!(landed, "{err}");
    assert!(
        err.contains("check-ansible: site.yml (inventory: inventory.ini)"),
        "{err}"
    );
    assert!(
        err.contains("check-ansible: the syntax check passed"),
        "{err}"
    );
    let (landed, err) = push(
        &app,
        &local,
        &[("roles/bind/tasks/main.yml", "- name: zone files\n  ansible.builtin.copy:\n    src: zones/\n  not_a_keyword_at_all: true\n")],
    )
    .await;
    assert!(!landed, "{err}");
    assert!(err.contains("not_a_keyword_at_all"), "{err}");
    assert!(
        err.contains("check ansible failed (exit code 1): refusing refs/heads/main"),
        "{err}"
    );
}
