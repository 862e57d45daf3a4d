//! Outside text on its way to a terminal or into XML. Check and deploy output, commit messages,
//! descriptions and file names are written by whoever pushes or configures; relayed raw, an
//! escape sequence retitles or rewrites the reader's terminal (an OSC, a cursor move over the
//! line above), a newline forges a line of its own, and one control character makes a whole
//! feed invalid XML. These are the only two cleaners: every `remote:` line, every SSH command's
//! output and every feed goes through one of them.

use std::borrow::Cow;

/// Whether a terminal may be given `c`: everything but C0 controls (tab and newline excepted),
/// DEL and the C1 controls (U+0080..U+009F, which some terminals read as ESC-sequences).
fn terminal_safe(c: char) -> bool {
    c == '\t' || c == '\n' || !c.is_control()
}

/// `text` with every control character but tab and newline removed. Removed, not replaced: an
/// escape sequence's printable tail (`[31m`, `]0;title`) then shows as the text it is, which
/// tells the reader something was there without hiding anything after it.
pub fn terminal_text(text: &str) -> Cow<'_, str> {
    if text.chars().all(terminal_safe) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|&c| terminal_safe(c)).collect())
}

/// `text` as one line of a `key: value` listing: newlines, carriage returns and tabs become a
/// space (so a value cannot add a line of its own), other control characters are removed.
pub fn terminal_line(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if terminal_safe(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Whether XML 1.0 allows `c` in a document at all (its `Char` production): tab, newline,
/// carriage return and everything from U+0020 but U+FFFE and U+FFFF. Escaping cannot help
/// the others: `&#27;` is as invalid as the byte.
fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// `text` with the characters XML 1.0 forbids removed.
pub fn xml_text(text: &str) -> Cow<'_, str> {
    if text.chars().all(xml_allowed) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|&c| xml_allowed(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_keeps_tab_newline_and_visible_text() {
        let raw = "a\tb\nc \u{1b}[31mred\u{1b}]0;owned\u{7}\r\u{9b}2J\u{7f}\u{85}é😀\0";
        assert_eq!(terminal_text(raw), "a\tb\nc [31mred]0;owned2Jé😀");
        assert!(matches!(terminal_text("plain\ttext\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_line_is_one_line() {
        assert_eq!(
            terminal_line("DNS zones\nssh: evil\r\tx\u{1b}y"),
            "DNS zones ssh: evil  xy"
        );
    }

    #[test]
    fn xml_text_drops_what_xml_forbids_only() {
        let raw = "a\u{1b}b\u{0}c\td\ne\rf\u{85}g\u{FFFE}h\u{FFFF}i😀";
        assert_eq!(xml_text(raw), "abc\td\ne\rf\u{85}ghi😀");
        assert!(matches!(xml_text("fine & <dandy>"), Cow::Borrowed(_)));
    }
}
