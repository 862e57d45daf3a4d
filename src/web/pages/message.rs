//! Commit messages with their references linked: `#N` to the issue (when it exists) and commit
//! ids to the commit (when the repository has it). Pieces of text, escaped by the template.

use std::collections::HashMap;

use crate::domain::issues::refs::ref_spans;

/// Words that look like commit ids checked against the repository, at most this many.
pub const MAX_COMMIT_WORDS: usize = 20;

pub struct Piece {
    pub text: String,
    /// Where the piece links to, if it is a reference.
    pub href: Option<String>,
}

/// Words of 7 to 40 hex digits, with a digit among them (so "deadbeef"-like English words and
/// "facade" are not taken), in order, at most `MAX_COMMIT_WORDS`.
pub fn commit_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            (7..=40).contains(&w.len())
                && w.bytes().all(|b| b.is_ascii_hexdigit())
                && w.bytes().any(|b| b.is_ascii_digit())
        })
        .take(MAX_COMMIT_WORDS)
        .map(str::to_owned)
        .collect()
}

/// `text` cut into pieces; `issues` maps the numbers that exist to their URL, `commits` the
/// words that are commits to theirs. Linear in the text.
pub fn link_message(
    text: &str,
    issues: &HashMap<i64, String>,
    commits: &HashMap<String, String>,
) -> Vec<Piece> {
    // (start, end, href) of every link, in order.
    let mut links: Vec<(usize, usize, String)> = ref_spans(text)
        .into_iter()
        .filter_map(|(range, n)| issues.get(&n).map(|u| (range.start, range.end, u.clone())))
        .collect();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let start = word.as_ptr() as usize - text.as_ptr() as usize;
        if let Some(url) = commits.get(word) {
            links.push((start, start + word.len(), url.clone()));
        }
    }
    links.sort_by_key(|l| l.0);
    let mut out = Vec::new();
    let mut done = 0;
    for (start, end, href) in links {
        if start < done {
            continue; // overlapping references: the first wins
        }
        if start > done {
            out.push(Piece {
                text: text[done..start].to_owned(),
                href: None,
            });
        }
        out.push(Piece {
            text: text[start..end].to_owned(),
            href: Some(href),
        });
        done = end;
    }
    if done < text.len() {
        out.push(Piece {
            text: text[done..].to_owned(),
            href: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_and_commits_link_and_the_rest_is_text() {
        let issues = HashMap::from([(1, "/a/b/issues/1".to_owned())]);
        let commits = HashMap::from([("abc1234".to_owned(), "/a/b/commit/abc1234ff".to_owned())]);
        let pieces = link_message("Fixes #1 and #2, reverts abc1234.", &issues, &commits);
        let linked: Vec<(&str, Option<&str>)> = pieces
            .iter()
            .map(|p| (p.text.as_str(), p.href.as_deref()))
            .collect();
        assert_eq!(
            linked,
            vec![
                ("Fixes ", None),
                ("#1", Some("/a/b/issues/1")),
                (" and #2, reverts ", None),
                ("abc1234", Some("/a/b/commit/abc1234ff")),
                (".", None),
            ]
        );
    }

    #[test]
    fn commit_words_need_a_digit_and_are_capped() {
        assert_eq!(
            commit_words("facade deadbeef abc1234 g123456"),
            vec!["abc1234"]
        );
        let many = "a1b2c3d ".repeat(100);
        assert_eq!(commit_words(&many).len(), MAX_COMMIT_WORDS);
    }
}
