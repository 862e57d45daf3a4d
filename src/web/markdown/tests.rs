use super::*;

fn render(text: &str) -> String {
    render_within(&Markdown::plain(text), Instant::now() + BUDGET).0
}

#[test]
fn headings_and_tables_render() {
    let html = render("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
    assert!(
        html.contains("<h1 id=\"user-content-title\">Title<a"),
        "{html}"
    );
    assert!(html.contains("<table>"), "{html}");
}

#[test]
fn headings_get_prefixed_unique_anchors() {
    let html = render("## Zone files\n\n## Zone files\n\n# <b>!</b>\n");
    assert!(html.contains("id=\"user-content-zone-files\""), "{html}");
    assert!(html.contains("id=\"user-content-zone-files-1\""), "{html}");
    assert!(
        html.contains("class=\"anchor\" href=\"#user-content-zone-files\""),
        "{html}"
    );
    assert!(html.contains("id=\"user-content-section\""), "{html}");
}

#[test]
fn task_lists_are_disabled_checkboxes_and_other_inputs_are_not() {
    let html =
        render("- [x] done\n- [ ] todo\n\n<input type=\"text\" name=\"x\" onclick=\"evil()\">\n");
    assert_eq!(html.matches("type=\"checkbox\"").count(), 3, "{html}");
    assert_eq!(html.matches("disabled").count(), 3, "{html}");
    assert_eq!(html.matches("checked").count(), 1, "{html}");
    assert!(
        !html.contains("text") && !html.contains("onclick"),
        "{html}"
    );
}

#[test]
fn issue_numbers_link_outside_code_and_links() {
    let doc = Markdown {
        text: "See #1 and #2, not `#1`, [#1](https://x.test/) or\n\n    #1 in code".into(),
        links: vec![(1, "/a/b/issues/1".into())],
    };
    let html = render_within(&doc, Instant::now() + BUDGET).0;
    assert_eq!(
        html.matches("<a href=\"/a/b/issues/1\"").count(),
        1,
        "{html}"
    );
    assert!(html.contains("#2"), "{html}");
}

#[test]
fn hostile_markup_is_inert() {
    let html = render(
        "<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n\
             <svg><script>alert(1)</script></svg>\n\n<a href=\"JaVaScRiPt:alert(1)\">y</a>\n\n\
             <iframe src=\"https://evil\"></iframe>",
    );
    let lower = html.to_lowercase();
    for bad in ["<script", "javascript:", "onerror", "<iframe", "<svg"] {
        assert!(!lower.contains(bad), "{bad} survived: {html}");
    }
}

#[test]
fn deep_nesting_becomes_text_and_renders_fast() {
    for text in [
        ">".repeat(60_000),
        "> ".repeat(30_000) + "x",
        "- ".repeat(30_000) + "x",
        "1. ".repeat(20_000) + "x",
        "*a _b ".repeat(10_000),
        "[".repeat(30_000) + &"]".repeat(30_000),
        (0..3_000)
            .map(|i| " ".repeat(2 * i) + "- x\n")
            .collect::<String>(),
        "<div>".repeat(20_000),
        "<b>".repeat(20_000),
        "x <span>".repeat(20_000),
    ] {
        let started = Instant::now();
        let html = render(&text);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "{took:?} for {}",
            &text[..20]
        );
        assert!(
            html.matches("<blockquote>").count() <= MAX_DEPTH,
            "{}",
            &text[..20]
        );
        assert!(
            html.matches("<ul>").count() <= MAX_DEPTH + 1,
            "{}",
            &text[..20]
        );
    }
    let html = render(&">".repeat(40));
    assert_eq!(html.matches("<blockquote>").count(), MAX_LINE_NESTING);
    assert!(html.contains("&gt;"), "the rest is text: {html}");
}

#[test]
fn a_document_past_its_budget_is_plain_escaped_text() {
    let doc = Markdown::plain("# <b>x</b>\n\n".repeat(2_000));
    let (html, complete) = render_within(&doc, Instant::now());
    assert!(!complete);
    assert!(
        html.starts_with("<pre><code>") && html.contains("&lt;b&gt;"),
        "{}",
        &html[..80]
    );
}

#[test]
fn line_nesting_is_limited_without_touching_shallow_text() {
    let shallow = "> quote\n- item\n  1. sub\n\ntext > not a marker\n";
    assert!(matches!(
        limit_line_nesting(shallow),
        std::borrow::Cow::Borrowed(_)
    ));
    let deep = ">".repeat(20);
    let limited = limit_line_nesting(&deep);
    assert_eq!(limited, format!("{}\\{}", ">".repeat(16), ">".repeat(4)));
}

proptest::proptest! {
    #![proptest_config(crate::fuzz::config())]

    /// Any text renders within the budget, with bounded nesting and nothing executable.
    #[test]
    fn any_text_renders_safely_and_in_bounded_time(
        text in r"[>\-*_`#\[\]()!<a-z 0-9./\n]{0,400}|\PC{0,200}",
    ) {
        let html = crate::fuzz::within(Duration::from_secs(2), "markdown", || render(&text));
        let lower = html.to_lowercase();
        proptest::prop_assert!(!lower.contains("<script") && !lower.contains("javascript:"));
        proptest::prop_assert!(html.matches("<blockquote>").count() <= MAX_DEPTH);
    }
}
