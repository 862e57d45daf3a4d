//! A push as git reports it to its hooks: one line per ref, `OLD NEW REFNAME`.

use super::closed_set::closed_set;
use super::{RepoId, UserId};

closed_set! {
    /// The git hooks labforge installs in every repository (`labforge hook NAME`): their
    /// file names, the CLI's argument and the word the hook's request to the server carries.
    pub enum HookName("hook") {
        /// Before the refs move: may refuse the push.
        PreReceive = "pre-receive",
        /// After the refs moved: records the push, queues deploys and webhooks.
        PostReceive = "post-receive",
    }
}

/// The id git writes for "no object": the old side of a created ref, the new side of a deleted one.
pub const ZERO_ID: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub name: String,
    pub old: String,
    pub new: String,
}

/// A full object id as git prints it: 40 hex digits.
pub fn is_object_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl RefUpdate {
    /// Parses one line of a hook's stdin. Anything but two 40-hex ids and a `refs/` name is refused.
    pub fn parse_hook_line(line: &str) -> Option<RefUpdate> {
        let mut parts = line.trim_end_matches(['\n', '\r']).splitn(3, ' ');
        let (old, new, name) = (parts.next()?, parts.next()?, parts.next()?);
        if !is_object_id(old)
            || !is_object_id(new)
            || !name.starts_with("refs/")
            || name.contains(['\0', '\n'])
        {
            return None;
        }
        Some(RefUpdate {
            name: name.to_owned(),
            old: old.to_ascii_lowercase(),
            new: new.to_ascii_lowercase(),
        })
    }

    pub fn is_create(&self) -> bool {
        self.old == ZERO_ID
    }

    pub fn is_delete(&self) -> bool {
        self.new == ZERO_ID
    }

    /// The branch name for `refs/heads/...`.
    pub fn branch(&self) -> Option<&str> {
        self.name.strip_prefix("refs/heads/")
    }

    /// The tag name for `refs/tags/...`.
    pub fn tag(&self) -> Option<&str> {
        self.name.strip_prefix("refs/tags/")
    }
}

/// A push that git has applied: the post-receive view, stored in `push_events`.
#[derive(Debug, Clone)]
pub struct PushEvent {
    pub id: i64,
    pub repo_id: RepoId,
    pub pusher_id: Option<UserId>,
    pub pusher: String,
    pub refs: Vec<RefUpdate>,
    pub push_options: Vec<String>,
    pub received_at: time::OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";

    #[test]
    fn parses_a_hook_line() {
        let u =
            RefUpdate::parse_hook_line(&format!("{ZERO_ID} {A} refs/heads/feature/x\n")).unwrap();
        assert_eq!(u.branch(), Some("feature/x"));
        assert!(u.is_create() && !u.is_delete());
        assert_eq!(u.tag(), None);
    }

    #[test]
    fn refuses_malformed_lines() {
        for line in [
            "",
            &format!("{A} {A}"),
            &format!("{A} xyz refs/heads/main"),
            &format!("{A} {A} HEAD"),
            &format!("{A}0 {A} refs/heads/main"),
        ] {
            assert_eq!(RefUpdate::parse_hook_line(line), None, "{line:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        /// Whatever a hook's stdin holds, a parsed line is two lowercase ids and a `refs/` name.
        #[test]
        fn hook_lines_parse_only_into_ids_and_refs(line in "\\PC{0,120}|[0-9a-fA-F]{40} [0-9a-f]{40} [ -~]{0,30}") {
            if let Some(u) = RefUpdate::parse_hook_line(&line) {
                proptest::prop_assert!(is_object_id(&u.old) && is_object_id(&u.new));
                proptest::prop_assert_eq!(u.old.to_ascii_lowercase(), u.old.clone());
                proptest::prop_assert!(u.name.starts_with("refs/") && !u.name.contains(['\0', '\n']));
            }
        }
    }
}
