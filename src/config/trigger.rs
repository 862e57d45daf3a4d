//! Which pushed refs a `[[deploy]]` or a `[[check]]` is about: one glob on the branch name or on
//! the tag name, as the file says `branch = "main"` or `tag = "v*"`.

use anyhow::{Context, bail};

#[derive(Debug, Clone)]
pub enum RefTrigger {
    Branch(glob::Pattern),
    Tag(glob::Pattern),
}

impl RefTrigger {
    /// From the table's `branch` and `tag` keys: exactly one of them. `what` names the table in
    /// errors (`[[deploy]] "dns"`).
    pub(super) fn parse(
        what: &str,
        branch: Option<&str>,
        tag: Option<&str>,
    ) -> anyhow::Result<Self> {
        let pattern =
            |p: &str| glob::Pattern::new(p).with_context(|| format!("{what}: bad pattern {p:?}"));
        Ok(match (branch, tag) {
            (Some(b), None) => RefTrigger::Branch(pattern(b)?),
            (None, Some(t)) => RefTrigger::Tag(pattern(t)?),
            _ => bail!("{what}: set exactly one of branch = \"...\" or tag = \"...\""),
        })
    }

    /// Whether a push to `ref_name` (full, `refs/heads/...`) is one this trigger names.
    pub fn matches_ref(&self, ref_name: &str) -> bool {
        match self {
            RefTrigger::Branch(p) => ref_name
                .strip_prefix("refs/heads/")
                .is_some_and(|b| p.matches(b)),
            RefTrigger::Tag(p) => ref_name
                .strip_prefix("refs/tags/")
                .is_some_and(|t| p.matches(t)),
        }
    }

    /// As written, for pages: `branch main` or `tag v*`.
    pub fn text(&self) -> String {
        match self {
            RefTrigger::Branch(p) => format!("branch {}", p.as_str()),
            RefTrigger::Tag(p) => format!("tag {}", p.as_str()),
        }
    }

    /// As the start-up summary shows it: `main` for a branch glob, `tag v*` for tags.
    pub fn short_text(&self) -> String {
        match self {
            RefTrigger::Branch(p) => p.as_str().to_owned(),
            RefTrigger::Tag(p) => format!("tag {}", p.as_str()),
        }
    }
}
