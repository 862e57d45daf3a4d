//! Syntax highlighting for blob pages and commit diffs, on the server: syntect's parser with the
//! grammars bat curates (two-face; Oniguruma regexes), its scopes folded into a few
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
mod memo;

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

/// Above this size a file shows plain. syntect with Oniguruma parsed 0.75–4 MB/s of real files
/// here (Rust and Python slowest, TOML and YAML fastest), so 128 KiB stays under the time
/// budget with every grammar, and it is far above hand-written config files.
pub const MAX_BYTES: usize = 128 * 1024;
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

/// Loaded once, on first use (about 2 ms to decode; each grammar's regexes compile on its first
/// use, 5–60 ms once per language per process).
static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(two_face::syntax::extra_newlines);

static FILES: LazyLock<memo::Memo<Vec<Line>>> = LazyLock::new(memo::Memo::new);
static DIFFS: LazyLock<memo::Memo<Vec<Arc<Vec<DiffLine>>>>> = LazyLock::new(memo::Memo::new);

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
/// is within the limits, else plain. `key` names the content (blob id and path): a file seen
/// before is served from memory.
pub fn file(key: &str, path: &str, text: &str) -> Arc<Vec<Line>> {
    FILES.get_or_compute(
        key,
        || {
            unwind_or(
                || highlight_file(path, text),
                || (text.lines().map(plain).collect(), false),
            )
        },
        |lines| lines.iter().map(memo::line_bytes).sum(),
    )
}

/// The lines and whether they were highlighted whole (worth keeping).
fn highlight_file(path: &str, text: &str) -> (Vec<Line>, bool) {
    let first = text.lines().next().unwrap_or("");
    let syntax = detect::syntax_for(path, first).filter(|_| {
        text.len() <= MAX_BYTES
            && text.lines().count() <= MAX_LINES
            && text.lines().all(|l| l.len() <= MAX_LINE_BYTES)
    });
    let budget = Budget::new();
    let mut hl = syntax.map(Highlighter::new);
    let mut whole = hl.is_some();
    let mut out = Vec::new();
    for l in text.lines() {
        let spans = hl
            .as_mut()
            .filter(|_| budget.left())
            .and_then(|h| h.line(l));
        out.push(spans.unwrap_or_else(|| {
            // Out of time, or the grammar failed on this input: the rest is plain.
            whole &= hl.take().is_none();
            plain(l)
        }));
    }
    (out, whole)
}

/// Each file's diff lines, for (path, unified hunks) pairs of one commit, `key` its id; a commit
/// seen before is served from memory. Highlighted when all hunks together are at most
/// [`MAX_DIFF_LINES`], within one page's time budget.
pub fn diffs(key: &str, files: &[(&str, &str)]) -> Arc<Vec<Arc<Vec<DiffLine>>>> {
    DIFFS.get_or_compute(
        key,
        || {
            let total: usize = files.iter().map(|(_, h)| h.lines().count()).sum();
            let highlight = total <= MAX_DIFF_LINES;
            let budget = Budget::new();
            let mut whole = highlight;
            let out = files
                .iter()
                .map(|&(path, hunks)| {
                    let (lines, done) = unwind_or(
                        || highlight_diff(path, hunks, highlight, &budget),
                        || highlight_diff(path, hunks, false, &budget),
                    );
                    whole &= done;
                    Arc::new(lines)
                })
                .collect();
            (out, whole)
        },
        |files| memo::diff_bytes(files),
    )
}

/// One file's diff lines and whether nothing was cut short. The old and new sides are parsed
/// separately (context lines feed both) so a deleted line cannot leave the added ones inside a
/// string; each hunk starts afresh.
fn highlight_diff(
    path: &str,
    hunks: &str,
    highlight: bool,
    budget: &Budget,
) -> (Vec<DiffLine>, bool) {
    let syntax = highlight
        .then(|| {
            let first = hunks.lines().find(|l| !l.starts_with('@')).unwrap_or("");
            detect::syntax_for(path, first.get(1..).unwrap_or(""))
        })
        .flatten()
        .filter(|_| hunks.lines().all(|l| l.len() <= MAX_LINE_BYTES));
    let mut sides: Option<(Highlighter, Highlighter)> = None;
    let mut whole = true;
    let lines = hunks
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
                whole &= sides.take().is_none();
                plain(rest)
            });
            if !marker.is_empty() {
                spans.insert(0, span("", marker));
            }
            DiffLine { class, spans }
        })
        .collect();
    (lines, whole)
}

/// Time left for highlighting on one page.
struct Budget {
    deadline: Instant,
}

impl Budget {
    fn new() -> Self {
        Self {
            deadline: Instant::now() + BUDGET,
        }
    }

    fn left(&self) -> bool {
        Instant::now() < self.deadline
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
        let (lines, whole) = highlight_file("config.toml", text);
        assert!(whole);
        let want: Vec<&str> = text.lines().collect();
        let got: Vec<String> = lines.iter().map(joined).collect();
        assert_eq!(got, want);
        assert_eq!(class_of_text(&lines, "\"web\""), Some("hl-str"));
        assert_eq!(class_of_text(&lines, "# the"), Some("hl-com"));
        assert_eq!(class_of_text(&lines, "8080"), Some("hl-num"));
    }

    #[test]
    fn shell_keywords_strings_and_variables() {
        let (lines, _) = highlight_file(
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
        let (lines, whole) = highlight_file("x.toml", &long);
        assert!(!whole && lines.iter().flatten().all(|s| s.class.is_empty()));
        let many = "a = 1\n".repeat(MAX_LINES + 1);
        let (lines, _) = highlight_file("x.toml", &many);
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert!(lines.iter().flatten().all(|s| s.class.is_empty()));
        let (lines, whole) = highlight_file("notes.txt", "a = \"b\"");
        assert!(!whole && lines.iter().flatten().all(|s| s.class.is_empty()));
    }

    #[test]
    fn diffs_keep_their_markers_and_text() {
        let hunks = "@@ -1,2 +1,2 @@\n [web]\n-port = 80\n+port = \"8080\"\n";
        let (lines, whole) = highlight_diff("app.toml", hunks, true, &Budget::new());
        assert!(whole);
        let classes: Vec<&str> = lines.iter().map(|l| l.class).collect();
        assert_eq!(classes, ["hunk", "ctx", "del", "add"]);
        let text: Vec<String> = lines.iter().map(|l| joined(&l.spans)).collect();
        assert_eq!(text, hunks.lines().collect::<Vec<_>>());
        let add = &lines[3].spans;
        assert_eq!(add[0], span("", "+"));
        assert!(add.contains(&span("hl-str", "\"8080\"")), "{add:?}");
        let (plain_diff, _) = highlight_diff("app.toml", hunks, false, &Budget::new());
        assert!(
            plain_diff
                .iter()
                .all(|l| l.spans.iter().all(|s| s.class.is_empty()))
        );
    }

    #[test]
    fn a_file_seen_before_is_served_from_memory() {
        let first = file("test-commit\0a.toml", "a.toml", "a = 1\n");
        let again = file("test-commit\0a.toml", "a.toml", "a = 1\n");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first[0][2], span("hl-num", "1"));
        let d = diffs(
            "test-commit",
            &[("a.toml", "@@ -1 +1 @@\n-a = 1\n+a = 2\n")],
        );
        assert!(Arc::ptr_eq(&d, &diffs("test-commit", &[])));
        assert_eq!(d[0][2].spans.last(), Some(&span("hl-num", "2")));
    }
}
