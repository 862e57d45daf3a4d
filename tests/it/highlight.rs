//! Syntax highlighting on blob pages and commit diffs: classes around known tokens, the text
//! unchanged byte for byte, plain past the limits, hostile content inert.

use crate::helpers::*;
use crate::web::get;

/// The text a browser shows for each line of a blob page: tags dropped, entities decoded.
fn shown_lines(html: &str) -> Vec<String> {
    html.split("<td class=\"src\">")
        .skip(1)
        .map(|cell| unescape(&strip_tags(&cell[..cell.find("</td>").unwrap()])))
        .collect()
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Decodes the entities askama writes (`&#60;`, `&#34;`, …) and the named ones.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').expect("entities end with ;") + i;
        let entity = &rest[i + 1..end];
        out.push(match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            _ => char::from_u32(entity.trim_start_matches('#').parse().unwrap()).unwrap(),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// alice/lab with a TOML config, a shell script without extension, a playbook and a hostile
/// script; returns the work tree.
async fn lab_repo(app: &TestApp) -> std::path::PathBuf {
    app.create_user("alice", "alice-password").await;
    app.create_repo("alice", "lab", false).await;
    let src = app.workdir("lab");
    git_ok(&src, &["init", "-q", "-b", "main"]).await;
    std::fs::write(
        src.join("config.toml"),
        "[server]\nname = \"web\" # the <front> & back\nport = 8080\n",
    )
    .unwrap();
    std::fs::create_dir_all(src.join("bin")).unwrap();
    std::fs::write(
        src.join("bin/backup"),
        "#!/bin/sh\nif [ -n \"$HOST\" ]; then\n  echo 'done'\nfi\n",
    )
    .unwrap();
    std::fs::write(src.join("site.yml"), "- hosts: all\n  become: false\n").unwrap();
    std::fs::write(
        src.join("evil.sh"),
        "echo \"</span><script>alert(1)</script>\" '<img src=x onerror=alert(1)>'\n\
         # \" onmouseover=\"alert(1)\nX='</td></tr><svg onload=alert(1)>'\n",
    )
    .unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "Lab"]).await;
    app.push(&src, ("alice", "alice-password"), "alice/lab", &["main"])
        .await;
    src
}

#[tokio::test(flavor = "multi_thread")]
async fn blob_pages_highlight_toml_and_shell_with_the_text_unchanged() {
    let app = TestApp::spawn().await;
    let src = lab_repo(&app).await;
    let (status, html) = get(&app, "/alice/lab/blob/main/config.toml").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<span class=\"hl-head\">server</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"hl-key\">name</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"hl-str\">&#34;web&#34;</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"hl-com\"># the &#60;front&#62; &#38; back</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"hl-num\">8080</span>"),
        "{html}"
    );
    assert!(html.contains("id=\"L3\"") && html.contains("href=\"#L3\""));
    let want = std::fs::read_to_string(src.join("config.toml")).unwrap();
    assert_eq!(shown_lines(&html), want.lines().collect::<Vec<_>>());

    // No extension: the shebang names the language.
    let (_, html) = get(&app, "/alice/lab/blob/main/bin/backup").await;
    assert!(html.contains("<span class=\"hl-kw\">if</span>"), "{html}");
    assert!(html.contains("<span class=\"hl-kw\">then</span>"), "{html}");
    assert!(
        html.contains("<span class=\"hl-str\">&#39;done&#39;</span>"),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"hl-var\">HOST</span>"),
        "{html}"
    );
    let want = std::fs::read_to_string(src.join("bin/backup")).unwrap();
    assert_eq!(shown_lines(&html), want.lines().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_diffs_are_highlighted_by_each_files_language() {
    let app = TestApp::spawn().await;
    let src = lab_repo(&app).await;
    std::fs::write(src.join("site.yml"), "- hosts: all\n  become: true\n").unwrap();
    std::fs::write(
        src.join("config.toml"),
        "[server]\nname = \"web\" # the <front> & back\nport = 9090\n",
    )
    .unwrap();
    git_ok(&src, &["commit", "-q", "-am", "Become root, move the port"]).await;
    app.push(&src, ("alice", "alice-password"), "alice/lab", &["main"])
        .await;
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned();
    let (status, html) = get(&app, &format!("/alice/lab/commit/{head}")).await;
    assert_eq!(status, 200);
    // The marker stays plain inside the line's add/del span; the tokens get their classes.
    for want in [
        "<span class=\"del\">-  <span class=\"hl-key\">become</span>: <span class=\"hl-num\">false</span></span>",
        "<span class=\"add\">+  <span class=\"hl-key\">become</span>: <span class=\"hl-num\">true</span></span>",
        "<span class=\"add\">+<span class=\"hl-key\">port</span> = <span class=\"hl-num\">9090</span></span>",
        "<span class=\"ctx\"> <span class=\"hl-key\">name</span> = <span class=\"hl-str\">&#34;web&#34;</span>",
    ] {
        assert!(html.contains(want), "{want} in:\n{html}");
    }
    assert!(html.contains("<span class=\"hunk\">@@ "), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_past_the_limits_render_plain_with_the_same_text() {
    let app = TestApp::spawn().await;
    let src = lab_repo(&app).await;
    // More lines than highlighting takes (10,000), and one line longer than it takes (2,000 bytes).
    let many: String = (0..10_001)
        .map(|i| format!("key{i} = \"v{i}\"\n"))
        .collect();
    std::fs::write(src.join("many.toml"), &many).unwrap();
    let long = format!("a = \"{}\"\nb = 1\n", "x".repeat(3_000));
    std::fs::write(src.join("long.toml"), &long).unwrap();
    git_ok(&src, &["add", "."]).await;
    git_ok(&src, &["commit", "-q", "-m", "Big files"]).await;
    app.push(&src, ("alice", "alice-password"), "alice/lab", &["main"])
        .await;
    for (path, text) in [("many.toml", &many), ("long.toml", &long)] {
        let (status, html) = get(&app, &format!("/alice/lab/blob/main/{path}")).await;
        assert_eq!(status, 200);
        assert!(!html.contains("class=\"hl-"), "{path} is plain");
        assert_eq!(
            shown_lines(&html),
            text.lines().collect::<Vec<_>>(),
            "{path}: same text"
        );
    }
    // The commit adding 10,000 lines is past the diff limit (5,000 lines): shown, plain.
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned();
    let (_, html) = get(&app, &format!("/alice/lab/commit/{head}")).await;
    assert!(html.contains("<span class=\"add\">+key9999 = &#34;v9999&#34;</span>"));
    assert!(!html.contains("class=\"hl-"), "a big diff is plain");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_content_in_highlighted_files_stays_inert() {
    let app = TestApp::spawn().await;
    let src = lab_repo(&app).await;
    let (status, html) = get(&app, "/alice/lab/blob/main/evil.sh").await;
    assert_eq!(status, 200);
    assert!(html.contains("class=\"hl-str\""), "highlighted: {html}");
    let lower = html.to_lowercase();
    for bad in [
        "<script",
        "<img",
        "<svg",
        "onmouseover=\"",
        "</td></tr><svg",
    ] {
        assert!(!lower.contains(bad), "`{bad}` survived:\n{html}");
    }
    let want = std::fs::read_to_string(src.join("evil.sh")).unwrap();
    assert_eq!(shown_lines(&html), want.lines().collect::<Vec<_>>());

    // The same lines in a diff.
    std::fs::write(
        src.join("evil.sh"),
        format!("{want}echo '<script>x</script>'\n"),
    )
    .unwrap();
    git_ok(&src, &["commit", "-q", "-am", "More"]).await;
    app.push(&src, ("alice", "alice-password"), "alice/lab", &["main"])
        .await;
    let head = git_ok(&src, &["rev-parse", "HEAD"]).await.trim().to_owned();
    let (_, html) = get(&app, &format!("/alice/lab/commit/{head}")).await;
    assert!(
        html.contains("&#60;script&#62;x&#60;/script&#62;"),
        "{html}"
    );
    let lower = html.to_lowercase();
    for bad in ["<script", "<img", "<svg", "onmouseover=\""] {
        assert!(!lower.contains(bad), "diff: `{bad}` survived:\n{html}");
    }
}
