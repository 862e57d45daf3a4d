//! Syntax highlighting for blob pages and commit diffs, on the server: syntect's parser with the
//! grammars bat curates (two-face; pure-Rust `fancy-regex`, no C), its scopes folded into a few
//! `hl-*` classes that base.html colours for both themes. Only the parser is used: lines come
//! back as (class, text) spans that the templates escape like any other text, so no HTML is built
//! here and the spans of a line always join to exactly that line.
//!
//! Bounded: files over the limits below are not highlighted at all, and a time budget per page
//! stops highlighting midway (the rest shows plain), so no grammar and no input can hold a worker
//! for long. It is CPU work: pages call it inside their `read_repo` closures, on the blocking
//! pool. A panic in a grammar is caught here and gives the plain rendering.

mod classes;
mod detect;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

/// Above this size a file shows plain: syntect with fancy-regex parses a few MB/s of typical
/// config and code (bench/RESULTS.md), so 256 KiB stays well under the time budget, and it is
/// 10× the largest hand-written config files we have seen in homelab repositories.
pub const MAX_BYTES: usize = 256 * 1024;
/// More lines than this show plain (a 10,000-line page is already long to read).
pub const MAX_LINES: usize = 10_000;
/// A line longer than this (minified JSON, base64 blobs) makes the whole file plain: regex
/// grammars can go quadratic on one long line, and nobody reads such a line for its colours.
pub const MAX_LINE_BYTES: usize = 2_000;
/// A commit page highlights its diff only when all its files' hunks add up to at most this many
/// lines; past that the page is about scrolling, not reading, and the CPU is better kept.
pub const MAX_DIFF_LINES: usize = 5_000;
/// Wall time one page may spend highlighting; lines after it show plain.
const BUDGET: Duration = Duration::from_millis(200);

/// Loaded once, on first use (about 20 ms to decode; regexes compile lazily per grammar).
static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(two_face::syntax::extra_newlines);

/// A piece of a line and its class (`""` for plain text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub class: &'static str,
    pub text: String,
}

/// One line's spans; joined, they are the line without its line ending.
pub type Line = Vec<Span>;

/// A line of a unified diff: `add`, `del`, `hunk` or `ctx`, and its spans (the `+`/`-`/` `
/// marker is the first, plain span).
pub struct DiffLine {
    pub class: &'static str,
    pub spans: Line,
}

/// A file's lines (as `str::lines` splits them), highlighted when its language is known and it
/// is within the limits, else plain.
pub fn file(path: &str, text: &str) -> Vec<Line> {
    unwind_or(
        || highlight_file(path, text),
        || text.lines().map(plain).collect(),
    )
}

fn highlight_file(path: &str, text: &str) -> Vec<Line> {
    let first = text.lines().next().unwrap_or("");
    let syntax = detect::syntax_for(path, first).filter(|_| {
        text.len() <= MAX_BYTES
            && text.lines().count() <= MAX_LINES
            && text.lines().all(|l| l.len() <= MAX_LINE_BYTES)
    });
    let budget = Budget::new();
    let mut hl = syntax.map(Highlighter::new);
    let mut out = Vec::new();
    for l in text.lines() {
        let spans = hl
            .as_mut()
            .filter(|_| budget.left())
            .and_then(|h| h.line(l));
        out.push(spans.unwrap_or_else(|| {
            hl = None; // out of time, or the grammar failed on this input: the rest is plain
            plain(l)
        }));
    }
    out
}

/// The lines of a file's unified diff hunks; `highlight` is false when the page's diff is too big
/// (see [`MAX_DIFF_LINES`]). The old and new sides are parsed separately (context lines feed
/// both) so a deleted line cannot leave the added ones inside a string; each hunk starts afresh.
pub fn diff(path: &str, hunks: &str, highlight: bool, budget: &Budget) -> Vec<DiffLine> {
    unwind_or(
        || highlight_diff(path, hunks, highlight, budget),
        || highlight_diff(path, hunks, false, budget),
    )
}

fn highlight_diff(path: &str, hunks: &str, highlight: bool, budget: &Budget) -> Vec<DiffLine> {
    let syntax = highlight
        .then(|| {
            let first = hunks.lines().find(|l| !l.starts_with('@')).unwrap_or("");
            detect::syntax_for(path, first.get(1..).unwrap_or(""))
        })
        .flatten()
        .filter(|_| hunks.lines().all(|l| l.len() <= MAX_LINE_BYTES));
    let mut sides: Option<(Highlighter, Highlighter)> = None;
    hunks
        .lines()
        .map(|l| {
            let (class, marker, rest) = match l.as_bytes().first() {
                Some(b'+') => ("add", &l[..1], &l[1..]),
                Some(b'-') => ("del", &l[..1], &l[1..]),
                Some(b' ') => ("ctx", &l[..1], &l[1..]),
                Some(b'@') => {
                    sides = syntax.map(|s| (Highlighter::new(s), Highlighter::new(s)));
                    return DiffLine {
                        class: "hunk",
                        spans: plain(l),
                    };
                }
                _ => ("ctx", "", l),
            };
            let spans =
                sides
                    .as_mut()
                    .filter(|_| budget.left())
                    .and_then(|(old, new)| match class {
                        "add" => new.line(rest),
                        "del" => old.line(rest),
                        _ => old.line(rest).and_then(|_| new.line(rest)),
                    });
            let mut spans = spans.unwrap_or_else(|| {
                sides = None;
                plain(rest)
            });
            if !marker.is_empty() {
                spans.insert(0, span("", marker));
            }
            DiffLine { class, spans }
        })
        .collect()
}

/// Time left for highlighting on one page.
pub struct Budget {
    deadline: Instant,
}

impl Budget {
    pub fn new() -> Self {
        Self {
            deadline: Instant::now() + BUDGET,
        }
    }

    fn left(&self) -> bool {
        Instant::now() < self.deadline
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new()
    }
}

/// `work`'s answer, or `fallback`'s when it panics: a bug in a grammar is no reason to fail a page.
fn unwind_or<T>(work: impl FnOnce() -> T, fallback: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
        tracing::error!("highlighting panicked; showing plain text");
        fallback()
    })
}

/// A line as one plain span.
pub fn plain(line: &str) -> Line {
    vec![span("", line)]
}

fn span(class: &'static str, text: &str) -> Span {
    Span {
        class,
        text: text.to_owned(),
    }
}

/// Parser state carried from line to line of one file (or one side of a hunk).
struct Highlighter {
    state: ParseState,
    stack: ScopeStack,
    buf: String,
}

impl Highlighter {
    fn new(syntax: &SyntaxReference) -> Self {
        Self {
            state: ParseState::new(syntax),
            stack: ScopeStack::new(),
            buf: String::new(),
        }
    }

    /// The spans of `line` (without its line ending); None when the grammar fails on it.
    fn line(&mut self, line: &str) -> Option<Line> {
        // The grammars are the "newlines" kind: each line is parsed with its `\n`.
        self.buf.clear();
        self.buf.push_str(line);
        self.buf.push('\n');
        let ops = self.state.parse_line(&self.buf, &SYNTAXES).ok()?;
        let mut out: Line = Vec::new();
        let mut class = classes::class_of(self.stack.as_slice());
        let mut at = 0;
        for (pos, op) in ops {
            let pos = pos.min(line.len());
            if pos > at {
                push(&mut out, class, line.get(at..pos)?);
                at = pos;
            }
            self.stack.apply(&op).ok()?;
            class = classes::class_of(self.stack.as_slice());
        }
        if at < line.len() {
            push(&mut out, class, line.get(at..)?);
        }
        if out.is_empty() {
            out.push(span("", ""));
        }
        Some(out)
    }
}

/// Appends, merging with the previous span when the class is the same.
fn push(out: &mut Line, class: &'static str, text: &str) {
    match out.last_mut() {
        Some(last) if last.class == class => last.text.push_str(text),
        _ => out.push(span(class, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(line: &Line) -> String {
        line.iter().map(|s| s.text.as_str()).collect()
    }

    fn class_of_text(lines: &[Line], text: &str) -> Option<&'static str> {
        lines
            .iter()
            .flatten()
            .find(|s| s.text.contains(text))
            .map(|s| s.class)
    }

    #[test]
    fn spans_join_to_the_exact_lines() {
        let text = "[server]\r\nname = \"web\" # the <b>front</b>\n\nport = 8080\nlast";
        let lines = file("config.toml", text);
        let want: Vec<&str> = text.lines().collect();
        let got: Vec<String> = lines.iter().map(joined).collect();
        assert_eq!(got, want);
        assert_eq!(class_of_text(&lines, "\"web\""), Some("hl-str"));
        assert_eq!(class_of_text(&lines, "# the"), Some("hl-com"));
        assert_eq!(class_of_text(&lines, "8080"), Some("hl-num"));
    }

    #[test]
    fn shell_keywords_strings_and_variables() {
        let lines = file(
            "backup.sh",
            "#!/bin/sh\nif [ -n \"$HOST\" ]; then\n  echo 'done'\nfi\n",
        );
        assert_eq!(class_of_text(&lines, "if"), Some("hl-kw"));
        assert_eq!(class_of_text(&lines, "'done'"), Some("hl-str"));
        assert_eq!(class_of_text(&lines, "#!/bin/sh"), Some("hl-com"));
    }

    #[test]
    fn files_past_the_limits_are_plain() {
        let long = format!("a = \"{}\"\n", "x".repeat(MAX_LINE_BYTES));
        assert!(
            file("x.toml", &long)
                .iter()
                .flatten()
                .all(|s| s.class.is_empty())
        );
        let many = "a = 1\n".repeat(MAX_LINES + 1);
        let lines = file("x.toml", &many);
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert!(lines.iter().flatten().all(|s| s.class.is_empty()));
        assert!(
            file("notes.txt", "a = \"b\"")
                .iter()
                .flatten()
                .all(|s| s.class.is_empty())
        );
    }

    #[test]
    fn diffs_keep_their_markers_and_text() {
        let hunks = "@@ -1,2 +1,2 @@\n [web]\n-port = 80\n+port = \"8080\"\n";
        let lines = diff("app.toml", hunks, true, &Budget::new());
        let classes: Vec<&str> = lines.iter().map(|l| l.class).collect();
        assert_eq!(classes, ["hunk", "ctx", "del", "add"]);
        let text: Vec<String> = lines.iter().map(|l| joined(&l.spans)).collect();
        assert_eq!(text, hunks.lines().collect::<Vec<_>>());
        let add = &lines[3].spans;
        assert_eq!(add[0], span("", "+"));
        assert!(add.contains(&span("hl-str", "\"8080\"")), "{add:?}");
        let plain_diff = diff("app.toml", hunks, false, &Budget::new());
        assert!(
            plain_diff
                .iter()
                .all(|l| l.spans.iter().all(|s| s.class.is_empty()))
        );
    }
}
