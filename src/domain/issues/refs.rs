//! `#N` references in issue text and commit messages, and GitHub's closing keywords
//! (`fixes #N`, `Closes: #N`, ...). Pure text scanning, shared by the commit processing, the
//! timeline's cross-references and the markdown renderer's links.

use std::ops::Range;

/// Words that make the `#N` right after them close issue N when the commit lands on the
/// default branch (GitHub's list).
const CLOSING: [&str; 9] = [
    "close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved",
];

/// One issue a text mentions, once per number; `closes` if any mention used a closing keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueRef {
    pub number: i64,
    pub closes: bool,
}

/// Every `#N` in `text`: its byte range (including the `#`) and number. `#N` counts only as a
/// word of its own: `abc#1`, `owner/repo#1`, `#1a`, `&#39;` and `#0` are not references.
pub fn ref_spans(text: &str) -> Vec<(Range<usize>, i64)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'#' || !boundary_before(text, i) {
            i += 1;
            continue;
        }
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = i + 1 + digits;
        let ends_word = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        // Up to nine digits: numbers are i64 and nobody has a billion issues.
        if (1..=9).contains(&digits) && bytes[i + 1] != b'0' && ends_word {
            let number = text[i + 1..end]
                .parse()
                .expect("at most nine ASCII digits parse as i64 because they are < 10^9");
            out.push((i..end, number));
        }
        i = end.max(i + 1);
    }
    out
}

fn boundary_before(text: &str, at: usize) -> bool {
    text[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || "#&/@_-.".contains(c)))
}

/// Whether the text right before a `#N` (ending at `at`) is a closing keyword: the keyword,
/// optionally a colon, then spaces.
fn closing_before(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end_matches([' ', '\t']);
    let before = before.strip_suffix(':').unwrap_or(before);
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphabetic())
        .last()
        .map_or(before.len(), |(i, _)| i);
    let word = &before[word_start..];
    before.len() < at
        && CLOSING.iter().any(|k| k.eq_ignore_ascii_case(word))
        && boundary_before(text, word_start)
}

/// The issues `text` mentions, in order of first mention, each once.
pub fn issue_refs(text: &str) -> Vec<IssueRef> {
    let mut out: Vec<IssueRef> = Vec::new();
    for (range, number) in ref_spans(text) {
        let closes = closing_before(text, range.start);
        match out.iter_mut().find(|r| r.number == number) {
            Some(r) => r.closes |= closes,
            None => out.push(IssueRef { number, closes }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str) -> Vec<(i64, bool)> {
        issue_refs(text)
            .into_iter()
            .map(|r| (r.number, r.closes))
            .collect()
    }

    #[test]
    fn closing_keywords_in_any_case_several_per_message() {
        assert_eq!(refs("Fixes #1, closes #2"), vec![(1, true), (2, true)]);
        assert_eq!(
            refs("RESOLVED #3\n\nfix #4; Close: #5 and resolves\t#6"),
            vec![(3, true), (4, true), (5, true), (6, true)]
        );
        for k in CLOSING {
            assert_eq!(refs(&format!("{k} #7")), vec![(7, true)], "{k}");
        }
    }

    #[test]
    fn plain_mentions_do_not_close() {
        assert_eq!(refs("see #12 (and #13)"), vec![(12, false), (13, false)]);
        assert_eq!(
            refs("prefixes #1"),
            vec![(1, false)],
            "a keyword must be a whole word"
        );
        assert_eq!(refs("fixes the bug in #2"), vec![(2, false)]);
        assert_eq!(refs("unfixed #3"), vec![(3, false)]);
    }

    #[test]
    fn a_number_mentioned_twice_is_one_reference() {
        assert_eq!(refs("#4, see #4; fixes #4"), vec![(4, true)]);
    }

    #[test]
    fn things_that_are_not_references() {
        for text in [
            "abc#1",
            "owner/repo#2",
            "#3a",
            "&#39;",
            "#0",
            "#012",
            "##4",
            "#",
            "# heading",
            "#1234567890",
            "C#5",
            "x_#6",
        ] {
            assert_eq!(refs(text), vec![], "{text:?}");
        }
    }

    #[test]
    fn spans_cover_the_hash_and_digits() {
        let text = "é #12.";
        let spans = ref_spans(text);
        assert_eq!(spans, vec![(3..6, 12)]);
        assert_eq!(&text[spans[0].0.clone()], "#12");
    }
}
