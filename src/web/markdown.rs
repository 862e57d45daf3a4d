//! GitHub-flavoured markdown to HTML that is safe to embed: pulldown-cmark renders, ammonia
//! removes scripts, event attributes, `javascript:` URLs and anything else not on its allowlist.
//!
//! Bounded, because issue bodies and READMEs are anyone's text: nesting is limited before
//! parsing (a line's `>` and list markers past `MAX_LINE_NESTING` are escaped into text) and
//! again on the parsed events (tags past `MAX_DEPTH` are dropped, their text kept), since the
//! HTML sanitizer's cost grows with the square of the nesting depth (60,000 `>` once took 39 s);
//! rendering runs on the blocking pool under a time budget, past which the text is shown escaped
//! and plain; and the HTML is kept by content (text and links), so a page view does not render
//! again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pulldown_cmark::{CodeBlockKind, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};
use sha2::{Digest, Sha256};

use crate::domain::issues::refs::ref_spans;

const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_TASKLISTS)
    .union(Options::ENABLE_FOOTNOTES)
    .union(Options::ENABLE_GFM);

/// Block quotes and list markers at the start of one line, at most.
const MAX_LINE_NESTING: usize = 16;
/// Open tags at once in the rendered HTML, at most; deeper ones are dropped (text kept).
const MAX_DEPTH: usize = 32;
/// Time for one document; past it the text is shown plain.
pub const BUDGET: Duration = Duration::from_secs(2);
/// Text rendered at most; the rest is cut with a notice (a README larger is not rendered at all).
const MAX_TEXT: usize = 512 * 1024;

/// One document to render: its text and the URL of each `#N` it may link (issues that exist).
#[derive(Debug, Clone, Default)]
pub struct Markdown {
    pub text: String,
    pub links: Vec<(i64, String)>,
}

impl Markdown {
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            links: Vec::new(),
        }
    }

    /// What the HTML depends on: the text and the links, so a new issue `#N` renders anew.
    fn key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((self.text.len() as u64).to_be_bytes());
        h.update(self.text.as_bytes());
        for (n, url) in &self.links {
            h.update(n.to_be_bytes());
            h.update((url.len() as u64).to_be_bytes());
            h.update(url.as_bytes());
        }
        h.finalize().into()
    }
}

/// Renders `docs` on the blocking pool (one task for all), each from the memo when it was
/// rendered before.
pub async fn render_all(docs: Vec<Markdown>) -> Vec<Arc<str>> {
    let span = tracing::Span::current();
    let count = docs.len();
    let task = tokio::task::spawn_blocking(move || {
        span.in_scope(|| docs.iter().map(render_cached).collect::<Vec<_>>())
    });
    match task.await {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "rendering markdown failed");
            vec![Arc::from(""); count]
        }
    }
}

/// One document, as `render_all`.
pub async fn render_one(doc: Markdown) -> Arc<str> {
    render_all(vec![doc])
        .await
        .pop()
        .expect("one document in, one out")
}

fn render_cached(doc: &Markdown) -> Arc<str> {
    let key = doc.key();
    if let Some(html) = memo().get(&key) {
        return html;
    }
    let (html, complete) = render_within(doc, Instant::now() + BUDGET);
    let html: Arc<str> = Arc::from(html);
    if complete {
        memo().put(key, Arc::clone(&html));
    }
    html
}

/// The HTML, and whether it was rendered in time (else it is the plain-text fallback).
fn render_within(doc: &Markdown, deadline: Instant) -> (String, bool) {
    let mut text = doc.text.as_str();
    let cut = text.len() > MAX_TEXT;
    if cut {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text = &text[..end];
    }
    let limited = limit_line_nesting(text);
    let links: HashMap<i64, &str> = doc.links.iter().map(|(n, u)| (*n, u.as_str())).collect();
    let events = with_issue_links(Parser::new_ext(&limited, OPTIONS), &links);
    let mut events = limit_depth(events);
    let mut kept = Vec::new();
    let mut n = 0u32;
    for event in events.by_ref() {
        n = n.wrapping_add(1);
        if n.is_multiple_of(256) && Instant::now() >= deadline {
            tracing::warn!(
                bytes = text.len(),
                "markdown ran past its time budget; shown as plain text"
            );
            return (plain(text), false);
        }
        kept.push(event);
    }
    if cut {
        kept.push(Event::Start(Tag::Paragraph));
        kept.push(Event::Text(CowStr::from(
            "(The text is longer than 512 KiB; the rest is not shown.)",
        )));
        kept.push(Event::End(TagEnd::Paragraph));
    }
    anchor_headings(&mut kept);
    label_task_boxes(&mut kept);
    (clean(limited.len(), kept.into_iter()), true)
}

/// Gives each heading an id from its text (`## Zone files` → `zone-files`, `-1`, `-2` for
/// repeats; the sanitizer prefixes `user-content-` so no id can clobber the page's own) and a
/// `#` link to it. One pass over the events.
fn anchor_headings(events: &mut Vec<Event<'_>>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        let Event::Start(Tag::Heading { .. }) = &events[i] else {
            i += 1;
            continue;
        };
        let mut text = String::new();
        let mut end = i + 1;
        while end < events.len() && !matches!(events[end], Event::End(TagEnd::Heading(_))) {
            if let Event::Text(t) | Event::Code(t) = &events[end]
                && text.len() < 200
            {
                text.push_str(t);
            }
            end += 1;
        }
        let mut slug = slug(&text);
        let n = seen.entry(slug.clone()).or_insert(0);
        if *n > 0 {
            slug = format!("{slug}-{n}");
        }
        *n += 1;
        if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
            *id = Some(CowStr::from(slug.clone()));
        }
        if end < events.len() {
            let link = format!(
                "<a class=\"anchor\" href=\"#user-content-{slug}\" aria-label=\"Link to this section\">#</a>"
            );
            events.insert(end, Event::InlineHtml(CowStr::from(link)));
        }
        i = end + 1;
    }
}

/// Task list boxes with an accessible name (a screen reader says "done" or "to do"); the
/// sanitizer keeps them disabled.
fn label_task_boxes(events: &mut [Event<'_>]) {
    for e in events.iter_mut() {
        if let Event::TaskListMarker(done) = *e {
            let html = if done {
                "<input type=\"checkbox\" disabled checked aria-label=\"done\"> "
            } else {
                "<input type=\"checkbox\" disabled aria-label=\"to do\"> "
            };
            *e = Event::InlineHtml(CowStr::from(html));
        }
    }
}

/// GitHub's heading slugs: lower case, letters, digits, `-` and `_`; spaces become `-`.
fn slug(text: &str) -> String {
    let s: String = text
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    if s.is_empty() { "section".into() } else { s }
}

/// The text as a preformatted block, escaped.
fn plain(text: &str) -> String {
    let events = [
        Event::Start(Tag::CodeBlock(CodeBlockKind::Indented)),
        Event::Text(CowStr::from(text)),
        Event::End(TagEnd::CodeBlock),
    ];
    let mut out = String::with_capacity(text.len() + 32);
    html::push_html(&mut out, events.into_iter());
    out
}

/// Escapes the container markers past `MAX_LINE_NESTING` at the start of each line (`>`,
/// `-`/`+`/`*` bullets, `1.`/`1)` items), so deeper levels become text before the parser sees
/// them. Linear; borrows the text when nothing needs escaping.
fn limit_line_nesting(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut done = 0; // bytes of `text` copied into `out`
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let b = line.as_bytes();
        let (mut i, mut depth) = (0, 0);
        loop {
            let mut spaces = 0;
            while i < b.len() && b[i] == b' ' && spaces < 3 {
                i += 1;
                spaces += 1;
            }
            let marker = match b.get(i) {
                Some(b'>') => Some(1),
                Some(b'-' | b'+' | b'*') if matches!(b.get(i + 1), Some(b' ' | b'\t')) => Some(1),
                Some(c) if c.is_ascii_digit() => {
                    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let after = b.get(i + digits);
                    let space = b.get(i + digits + 1);
                    (digits <= 9
                        && matches!(after, Some(b'.' | b')'))
                        && matches!(space, Some(b' ' | b'\t')))
                    .then_some(digits + 1)
                }
                _ => None,
            };
            let Some(len) = marker else { break };
            depth += 1;
            if depth > MAX_LINE_NESTING {
                // Escape the marker's last character (`>`, the bullet, or `.`/`)`).
                let at = line_start + i + len - 1;
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                o.push_str(&text[done..at]);
                o.push('\\');
                done = at;
                break;
            }
            i += len;
            if matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        }
        line_start += line.len();
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[done..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

/// Drops tags nested deeper than `MAX_DEPTH` (and their ends), keeping what is inside. Raw HTML
/// counts too: an HTML fragment that would open tags past the depth is shown as text instead.
fn limit_depth<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut open: Vec<bool> = Vec::new(); // for each open tag: was it kept?
    let mut kept_depth = 0usize;
    let mut html_depth = 0usize; // tags raw HTML left open
    events.filter_map(move |event| match event {
        Event::Start(_) => {
            let keep = kept_depth + html_depth < MAX_DEPTH;
            open.push(keep);
            kept_depth += usize::from(keep);
            keep.then_some(event)
        }
        Event::End(_) => {
            let keep = open.pop().unwrap_or(false);
            kept_depth -= usize::from(keep);
            keep.then_some(event)
        }
        Event::Html(ref raw) | Event::InlineHtml(ref raw) => {
            let (opened, closed) = html_tags(raw);
            if kept_depth + html_depth + opened > MAX_DEPTH {
                Some(Event::Text(raw.clone()))
            } else {
                html_depth = (html_depth + opened).saturating_sub(closed);
                Some(event)
            }
        }
        other => Some(other),
    })
}

/// How many tags a raw HTML fragment opens and closes (void and self-closing tags neither).
fn html_tags(raw: &str) -> (usize, usize) {
    const VOID: [&str; 14] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let (mut opened, mut closed) = (0, 0);
    let b = raw.as_bytes();
    for (i, _) in raw.match_indices('<') {
        let rest = &raw[i + 1..];
        if let Some(name) = rest.strip_prefix('/') {
            if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                closed += 1;
            }
            continue;
        }
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let end = rest.find('>').map(|e| i + 1 + e);
        let self_closing = end.is_some_and(|e| e > 0 && b[e - 1] == b'/');
        if !VOID.contains(&name.as_str()) && !self_closing {
            opened += 1;
        }
    }
    (opened, closed)
}

/// Every `#N` with a URL in `links` made a link to it; not inside code, nor inside a link the
/// author wrote.
fn with_issue_links<'a>(
    events: impl Iterator<Item = Event<'a>>,
    links: &HashMap<i64, &str>,
) -> impl Iterator<Item = Event<'a>> {
    let (mut in_code, mut in_link) = (0usize, 0usize);
    let links: HashMap<i64, String> = links.iter().map(|(n, u)| (*n, (*u).to_owned())).collect();
    events.flat_map(move |event| {
        let mut out = Vec::with_capacity(1);
        match &event {
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Start(Tag::Link { .. }) => in_link += 1,
            Event::End(TagEnd::Link) => in_link = in_link.saturating_sub(1),
            Event::Text(t) if in_code == 0 && in_link == 0 && !links.is_empty() => {
                let mut at = 0;
                for (range, number) in ref_spans(t) {
                    let Some(url) = links.get(&number) else {
                        continue;
                    };
                    if range.start > at {
                        out.push(Event::Text(CowStr::from(t[at..range.start].to_owned())));
                    }
                    out.push(Event::Start(Tag::Link {
                        link_type: LinkType::Inline,
                        dest_url: CowStr::from(url.clone()),
                        title: CowStr::from(""),
                        id: CowStr::from(""),
                    }));
                    out.push(Event::Text(CowStr::from(t[range.clone()].to_owned())));
                    out.push(Event::End(TagEnd::Link));
                    at = range.end;
                }
                if at > 0 {
                    if at < t.len() {
                        out.push(Event::Text(CowStr::from(t[at..].to_owned())));
                    }
                    return out;
                }
            }
            _ => {}
        }
        out.push(event);
        out
    })
}

fn clean<'a>(len: usize, events: impl Iterator<Item = Event<'a>>) -> String {
    let mut unsafe_html = String::with_capacity(len * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    ammonia::Builder::default()
        .link_rel(Some("nofollow noopener noreferrer"))
        // Task lists: checkboxes, always disabled (nothing on the page can tick them).
        .add_tags(["input"])
        .add_tag_attributes("input", ["checked", "aria-label"])
        .set_tag_attribute_value("input", "type", "checkbox")
        .set_tag_attribute_value("input", "disabled", "")
        // Heading anchors, prefixed so a document's ids never clash with the page's.
        .add_tag_attributes("h1", ["id"])
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .add_tag_attributes("h4", ["id"])
        .add_tag_attributes("h5", ["id"])
        .add_tag_attributes("h6", ["id"])
        .id_prefix(Some("user-content-"))
        .add_allowed_classes("a", ["anchor"])
        .clean(&unsafe_html)
        .to_string()
}

/// Rendered HTML by content key, bounded by bytes; the oldest go first.
struct Memo {
    inner: Mutex<MemoInner>,
}

/// The HTML by key, keys oldest first, and the bytes held.
type MemoInner = (HashMap<[u8; 32], Arc<str>>, VecDeque<[u8; 32]>, usize);

const MEMO_BYTES: usize = 16 << 20;

fn memo() -> &'static Memo {
    static MEMO: OnceLock<Memo> = OnceLock::new();
    MEMO.get_or_init(|| Memo {
        inner: Mutex::new((HashMap::new(), VecDeque::new(), 0)),
    })
}

impl Memo {
    fn get(&self, key: &[u8; 32]) -> Option<Arc<str>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0.get(key).cloned()
    }

    fn put(&self, key: [u8; 32], html: Arc<str>) {
        if html.len() > MEMO_BYTES / 8 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order, bytes) = &mut *inner;
        if map.insert(key, Arc::clone(&html)).is_none() {
            order.push_back(key);
            *bytes += html.len();
        }
        while *bytes > MEMO_BYTES {
            let Some(old) = order.pop_front() else { break };
            if let Some(h) = map.remove(&old) {
                *bytes -= h.len();
            }
        }
    }
}

#[cfg(test)]
mod tests;
