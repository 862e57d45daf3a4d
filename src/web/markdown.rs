//! GitHub-flavoured markdown to HTML that is safe to embed: pulldown-cmark renders, ammonia
//! removes scripts, event attributes, `javascript:` URLs and anything else not on its allowlist.

use pulldown_cmark::{Options, Parser, html};

pub fn render(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    let mut unsafe_html = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(text, options));
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
