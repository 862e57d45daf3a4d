//! Outside text that reaches a terminal, a feed or a script, with real pushes and clients:
//! check and deploy output keep their text but lose ESC, OSC and C1 bytes on the pusher's
//! terminal; a description cannot add a line to `repo info`; a commit message with ESC still
//! gives a feed a real XML parser reads; a file name with a newline is one name in the
//! NUL-separated list and absent from the line list; only `secret_env` values are redacted,
//! as whole values, with a note, and a mirror token `b` leaves `unable` alone.

use std::path::Path;

use crate::checks::{PW, app_with, commit, script, setup};
use crate::helpers::{TestApp, eventually, git, git_ok, local_repo, stderr};
use crate::hooks::settled_runs;
use crate::ssh::{SshClient, stdout, user_with_key};
use labforge::model::TokenScope;

/// What a hostile script prints: a colour (CSI), a terminal-title change (OSC ended by BEL), a
/// C1 CSI (U+009B in UTF-8) and a tab, around visible words.
const HOSTILE: &str =
    r"printf 'plain\tTAB \033[31mred\033[0m \033]0;owned\007 c1:\302\2332J end\n'";
/// The same line as it must reach the terminal: only the control characters gone.
const CLEANED: &str = "plain\tTAB [31mred[0m ]0;owned c1:2J end";

/// Control characters a terminal would act on: all but tab and newline.
fn acting_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| c.is_control() && *c != '\t' && *c != '\n')
        .collect()
}

/// A push whose client shows the far side's bytes raw (git 2.47 does anyway; newer gits mask
/// them unless told not to), so the server is what must clean them.
async fn raw_push(local: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["-c", "sideband.allowControlCharacters=true", "push"];
    all.extend_from_slice(args);
    git(local, &all).await
}

#[tokio::test]
async fn check_output_is_clean_on_the_terminal_and_newline_names_are_only_in_the_nul_list() {
    let conf = tempfile::tempdir().unwrap();
    script(
        conf.path(),
        "show.sh",
        &format!(
            "{HOSTILE}\n\
             printf 'lines:'; tr '\\n' '|' < \"$LABFORGE_CHANGED_FILES\"; echo\n\
             printf 'nul:'; tr '\\n\\000' '%|' < \"$LABFORGE_CHANGED_FILES0\"; echo"
        ),
    );
    let app = app_with(
        conf.path(),
        "[[check]]\nname = \"show\"\nrepo = \"alice/dns\"\nbranch = \"main\"\nrun = \"show.sh\"\n",
    )
    .await;
    let local = setup(&app).await;
    // A name that, one a line, reads as a second file the push never touched.
    commit(
        &local,
        "evil\nzones/fake.zone",
        "x\n",
        "a newline in a name",
    )
    .await;
    let url = app.url(Some(("alice", PW)), "alice/dns");

    let out = raw_push(&local, &[&url, "main"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(acting_controls(&err), Vec::<char>::new(), "{err:?}");
    // git pads each `remote:` line with spaces; the lines themselves must be exactly these.
    let lines: Vec<&str> = err.lines().map(str::trim_end).collect();
    for want in [
        format!("remote: check show| {CLEANED}"),
        "remote: check show| lines:README.md|zones/lab.zone|".to_owned(),
        "remote: check show| nul:README.md|evil%zones/fake.zone|zones/lab.zone|".to_owned(),
    ] {
        assert!(
            lines.contains(&want.as_str()),
            "missing {want:?} in {err:?}"
        );
    }
}

#[tokio::test]
async fn deploy_wait_output_is_clean_and_only_secret_values_are_redacted_whole() {
    let conf = tempfile::tempdir().unwrap();
    script(
        conf.path(),
        "deploy.sh",
        &format!(
            "{HOSTILE}\n\
             echo \"IN NS $TARGET.lab.home.\"\n\
             echo \"key=$TSIG unable to reach b-side\"\n\
             echo \"token $TOKEN\""
        ),
    );
    let app = app_with(
        conf.path(),
        r#"[[deploy]]
name = "dns"
repo = "alice/dns"
branch = "main"
run = "deploy.sh"
env = { TARGET = "ns1" }
secret_env = { TSIG = "b", TOKEN = "s3cr3t-tok" }
"#,
    )
    .await;
    let local = setup(&app).await;
    let url = app.url(Some(("alice", PW)), "alice/dns");

    let out = raw_push(&local, &["-o", "deploy=wait", &url, "main"]).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(acting_controls(&err), Vec::<char>::new(), "{err:?}");
    for want in [
        format!("remote: deploy dns #1| {CLEANED}"),
        // A plain `env` value is not a secret: the host name stays whole.
        "remote: deploy dns #1| IN NS ns1.lab.home.".to_owned(),
        // The secret `b` goes where it stands alone, and only there.
        "remote: deploy dns #1| key=[redacted] unable to reach [redacted]-side".to_owned(),
        "remote: deploy dns #1| token [redacted]".to_owned(),
        "remote: deploy dns #1| labforge: (3 secret values redacted)".to_owned(),
        "remote: deploy dns #1 succeeded in ".to_owned(),
    ] {
        assert!(err.contains(&want), "missing {want:?} in {err:?}");
    }
    assert!(!err.contains("s3cr3t-tok"), "{err}");

    // The stored log (what the page shows) is the same, the note last.
    let runs = settled_runs(&app, "alice/dns").await;
    let log = crate::hooks::stored_log(&app, &runs[0]).await;
    let last = log.last().expect("the run has a log");
    assert_eq!(
        (last.stream.as_str(), last.line.as_str()),
        ("s", "labforge: (3 secret values redacted)")
    );
    assert!(
        log.iter()
            .any(|l| l.line == "key=[redacted] unable to reach [redacted]-side")
    );
}

#[tokio::test]
async fn a_description_with_a_newline_is_one_line_of_repo_info() {
    let app = TestApp::spawn().await;
    let key = user_with_key(&app, "alice", "ed25519").await;
    app.create_repo("alice", "dns", false).await;
    app.forge
        .update_repo(
            &app.grant("alice/dns").await,
            "DNS zones\nssh: ssh://evil.example/x.git",
            false,
            "main",
        )
        .await
        .unwrap();

    let ssh = SshClient::new(&app, &key);
    let out = ssh.run(&["repo", "info", "alice/dns"]).await;
    let info = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        info.contains(
            "\ndescription: DNS zones ssh: ssh://evil.example/x.git\nvisibility: public\n"
        ),
        "{info}"
    );
    let clone_lines: Vec<&str> = info.lines().filter(|l| l.starts_with("ssh: ")).collect();
    assert_eq!(
        clone_lines,
        [format!(
            "ssh: ssh://git@127.0.0.1:{}/alice/dns.git",
            app.ssh_port
        )],
        "{info}"
    );
}

/// Parses `xml` with Python's own XML parser; returns the entries' titles or the parse error.
fn parse_atom(xml: &str) -> Result<Vec<String>, String> {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E\n\
             root = E.fromstring(sys.stdin.buffer.read())\n\
             ns = '{http://www.w3.org/2005/Atom}'\n\
             for e in root.iter(ns + 'entry'): print(e.find(ns + 'title').text)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test]
async fn a_commit_message_with_escape_bytes_still_gives_a_valid_feed() {
    // The parser is real: the raw message would fail it.
    assert!(parse_atom("<feed><entry><title>a\u{1b}b</title></entry></feed>").is_err());

    let app = TestApp::spawn().await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let local = app.workdir("dns");
    local_repo(&local, 1).await;
    std::fs::write(local.join("zone.txt"), "lab.\n").unwrap();
    git_ok(&local, &["add", "."]).await;
    git_ok(
        &local,
        &[
            "commit",
            "-q",
            "-m",
            "red \u{1b}[31mzone\u{1b}[0m\u{7}",
            "-m",
            "body \u{1}with\u{b} controls",
        ],
    )
    .await;
    git_ok(
        &local,
        &[
            "push",
            "-q",
            &app.url(Some(("alice", PW)), "alice/dns"),
            "main",
        ],
    )
    .await;

    let res = reqwest::get(format!("{}/alice/dns/commits/main.atom", app.base))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let xml = res.text().await.unwrap();
    let titles = parse_atom(&xml).unwrap_or_else(|e| panic!("{e}\n{xml:?}"));
    assert_eq!(titles.first().map(String::as_str), Some("red [31mzone[0m"));
    assert!(xml.contains("body with controls"), "{xml:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_letter_mirror_token_does_not_mangle_the_error_text() {
    let app = TestApp::spawn_with(&[crate::mirrors::ALLOW_LOOPBACK]).await;
    app.create_user("alice", PW).await;
    app.create_repo("alice", "dns", false).await;
    let token = app.create_token("alice", TokenScope::Write).await;
    let src = app.workdir("src");
    local_repo(&src, 1).await;
    app.push(&src, ("alice", &token), "alice/dns", &["main"])
        .await;
    // Nothing listens there: git fails with `fatal: unable to access …`.
    let closed = crate::cli::free_port();
    let (status, made) = crate::mirrors::api(
        &app,
        &token,
        "POST",
        "/repos/alice/dns/push_mirrors",
        serde_json::json!({"remote_address": format!("http://127.0.0.1:{closed}/dns.git"),
                           "remote_username": "mirror", "remote_password": "b",
                           "sync_on_commit": true}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let error = eventually(60, "the mirror's error", || async {
        let (_, list) = crate::mirrors::api(
            &app,
            &token,
            "GET",
            "/repos/alice/dns/push_mirrors",
            serde_json::Value::Null,
        )
        .await;
        let error = list[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (!error.is_empty()).then_some(error)
    })
    .await;
    // What the user sees is the one text for every unreachable far side (git's own words, with
    // the token redacted as a whole value, go to the server log: `git::mirror`'s unit test).
    assert!(
        error.contains("no git repository at that address answered it"),
        "{error}"
    );
    assert!(
        !error.contains("[redacted]") && !error.contains("una"),
        "{error}"
    );
}
