//! GitHub-flavoured markdown to HTML that is safe to embed: pulldown-cmark renders, ammonia
//! removes scripts, event attributes, `javascript:` URLs and anything else not on its allowlist.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

use crate::domain::issues::refs::ref_spans;

const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_TASKLISTS)
    .union(Options::ENABLE_FOOTNOTES)
    .union(Options::ENABLE_GFM);

pub fn render(text: &str) -> String {
    clean(text.len(), Parser::new_ext(text, OPTIONS))
}

/// `render`, with every `#N` that `link` knows (an issue that exists) made a link to it; not
/// inside code, nor inside a link the author wrote.
pub fn render_with_issue_links(text: &str, link: impl Fn(i64) -> Option<String>) -> String {
    let mut events = Vec::new();
    let (mut in_code, mut in_link) = (0usize, 0usize);
    for event in Parser::new_ext(text, OPTIONS) {
        match &event {
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Start(Tag::Link { .. }) => in_link += 1,
            Event::End(TagEnd::Link) => in_link = in_link.saturating_sub(1),
            Event::Text(t) if in_code == 0 && in_link == 0 => {
                let mut at = 0;
                for (range, number) in ref_spans(t) {
                    let Some(url) = link(number) else { continue };
                    if range.start > at {
                        events.push(Event::Text(CowStr::from(t[at..range.start].to_owned())));
                    }
                    events.push(Event::Start(Tag::Link {
                        link_type: LinkType::Inline,
                        dest_url: CowStr::from(url),
                        title: CowStr::from(""),
                        id: CowStr::from(""),
                    }));
                    events.push(Event::Text(CowStr::from(t[range.clone()].to_owned())));
                    events.push(Event::End(TagEnd::Link));
                    at = range.end;
                }
                if at > 0 {
                    if at < t.len() {
                        events.push(Event::Text(CowStr::from(t[at..].to_owned())));
                    }
                    continue;
                }
            }
            _ => {}
        }
        events.push(event);
    }
    clean(text.len(), events.into_iter())
}

fn clean<'a>(len: usize, events: impl Iterator<Item = Event<'a>>) -> String {
    let mut unsafe_html = String::with_capacity(len * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    ammonia::Builder::default()
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn headings_and_tables_render() {
        let html = render("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn issue_numbers_link_outside_code_and_links() {
        let html = super::render_with_issue_links(
            "See #1 and #2, not `#1`, [#1](https://x.test/) or\n\n    #1 in code",
            |n| (n == 1).then(|| "/a/b/issues/1".to_owned()),
        );
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
}
