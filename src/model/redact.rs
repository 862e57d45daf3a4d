//! Keeping secrets out of stored output: a deploy's `secret_env` values, a mirror's token.
//!
//! Only values known to be secrets are redacted (never an ordinary `env` value: replacing
//! `ns1` everywhere blanked host names out of a DNS deploy's log), and only as whole values:
//! an occurrence counts when the characters on both sides of it are not letters or digits (or
//! it starts or ends the text). So a token `b` is redacted in `password=b` or `b@host` but
//! leaves `unable` alone. A secret glued between letters or digits is therefore not redacted;
//! the alternative, cutting it out of every word, made logs unreadable and told a reader which
//! letters the secret was made of.

use std::borrow::Cow;

/// What a redacted value is shown as.
pub const REDACTED: &str = "[redacted]";

/// The secret values to redact, longest first (so a secret holding another is redacted whole).
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// Empty values are dropped: there is nothing to hide in them.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self(values)
    }

    /// `text` with each whole occurrence of a secret replaced by `[redacted]`, and how many
    /// were replaced.
    pub fn redact<'a>(&self, text: &'a str) -> (Cow<'a, str>, usize) {
        let mut found: Vec<(usize, usize)> = Vec::new();
        for secret in &self.0 {
            let mut from = 0;
            while let Some(at) = text[from..].find(secret.as_str()) {
                let start = from + at;
                let end = start + secret.len();
                if whole(text, start, end) {
                    found.push((start, end));
                    from = end;
                } else {
                    // Try again one character on: `bb` in `abbb-bb` still finds the last one.
                    from = start + text[start..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
        if found.is_empty() {
            return (Cow::Borrowed(text), 0);
        }
        found.sort_by_key(|&(start, end)| (start, std::cmp::Reverse(end)));
        let mut out = String::with_capacity(text.len());
        let (mut copied, mut count) = (0, 0);
        for (start, end) in found {
            if start < copied {
                continue; // inside a longer secret already replaced
            }
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            count += 1;
        }
        out.push_str(&text[copied..]);
        (Cow::Owned(out), count)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `text[start..end]` stands on its own: no letter or digit right before or after.
fn whole(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// The line a log gets where something was redacted: `(2 secret values redacted)`.
pub fn redaction_note(count: usize) -> String {
    match count {
        1 => "(1 secret value redacted)".to_owned(),
        n => format!("({n} secret values redacted)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Secrets {
        Secrets::new(values.iter().map(|v| (*v).to_owned()))
    }

    #[test]
    fn whole_values_only() {
        let s = secrets(&["b"]);
        assert_eq!(
            s.redact("fatal: unable to access 'https://u:b@host/'"),
            (
                Cow::Owned("fatal: unable to access 'https://u:[redacted]@host/'".into()),
                1
            )
        );
        assert_eq!(s.redact("b"), (Cow::Owned(REDACTED.into()), 1));
        assert_eq!(s.redact("abc bb"), (Cow::Borrowed("abc bb"), 0));
    }

    #[test]
    fn at_edges_punctuation_and_repeats() {
        let s = secrets(&["hunter2"]);
        let (text, n) = s.redact("hunter2 pw=hunter2, \"hunter2\"\thunter2x xhunter2 hunter2");
        assert_eq!(
            text,
            "[redacted] pw=[redacted], \"[redacted]\"\thunter2x xhunter2 [redacted]"
        );
        assert_eq!(n, 4);
        // A failed match does not hide a later good one that overlaps it.
        let (text, n) = secrets(&["bb"]).redact("abbb-bb");
        assert_eq!((text.as_ref(), n), ("abbb-[redacted]", 1));
        // Non-ASCII letters count as letters; non-ASCII text does not split a character.
        let (text, n) = secrets(&["ké"]).redact("éké ké…");
        assert_eq!((text.as_ref(), n), ("éké [redacted]…", 1));
    }

    #[test]
    fn a_secret_inside_another_goes_with_it() {
        let s = secrets(&["ab", "ab-cd", ""]);
        let (text, n) = s.redact("x ab-cd y ab");
        assert_eq!((text.as_ref(), n), ("x [redacted] y [redacted]", 2));
        assert!(secrets(&[""]).is_empty());
    }

    #[test]
    fn notes() {
        assert_eq!(redaction_note(1), "(1 secret value redacted)");
        assert_eq!(redaction_note(3), "(3 secret values redacted)");
    }
}
