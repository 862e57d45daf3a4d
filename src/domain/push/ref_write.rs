//! A ref moved on the server for a user (the API's branch creation and deletion), as a push by
//! that user: receive-pack runs with the user's hook ticket, so pre-receive decides (branch
//! protection, required checks, a backup's hold) and post-receive has a push's effects
//! (webhooks, deploys, mirrors, the push's record). Nothing writes the ref around it.

use super::super::git_service::{ServiceGrant, Streams};
use super::super::{Error, Forge, Grant, Result, Write};
use crate::git::ref_push::{RefPushOutcome, push_one};
use crate::model::{ZERO_ID, is_object_id};

/// A branch name from outside, by git's `check-ref-format` rules for `refs/heads/NAME`: no
/// control characters, spaces or `~^:?*[\`, no `..` or `@{`, no empty, `.`-led or `.lock`
/// component, not `-`-led, at most 255 bytes.
pub fn parse_branch_name(name: &str) -> Result<String> {
    let bad = || Error::InvalidInput(format!("{name:?} is not a valid branch name"));
    if name.is_empty()
        || name.len() > 255
        || name == "@"
        || name == "HEAD"
        || name.starts_with('-')
        || name.ends_with('.')
        || name.contains("..")
        || name.contains("@{")
        || name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return Err(bad());
    }
    for part in name.split('/') {
        if part.is_empty() || part.starts_with('.') || part.ends_with(".lock") {
            return Err(bad());
        }
    }
    Ok(name.to_owned())
}

impl Forge {
    /// Moves `name` from `old` to `new` (None: absent, for a creation or a deletion) as a push
    /// by the grant's user. A refusal by pre-receive is `Forbidden` with its words; a ref that
    /// moved meanwhile is `Conflict`.
    pub async fn push_ref(
        &self,
        grant: &Grant<Write>,
        name: &str,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<()> {
        let (old, new) = (old.unwrap_or(ZERO_ID), new.unwrap_or(ZERO_ID));
        if !is_object_id(old) || !is_object_id(new) || !name.starts_with("refs/") {
            return Err(Error::InvalidInput(format!("not a ref update: {name}")));
        }
        let service = ServiceGrant::Push(grant.clone());
        let streams = Streams {
            stateless_rpc: true,
            advertise_refs: false,
            protocol: None,
        };
        let child = self.git_service(&service, streams)?;
        match push_one(child, old, new, name)
            .await
            .map_err(Error::Internal)?
        {
            RefPushOutcome::Updated => Ok(()),
            RefPushOutcome::Refused { reason, said } if reason.contains("stale") => Err(
                Error::Conflict(format!("{name} moved meanwhile ({reason}) {said}")),
            ),
            RefPushOutcome::Refused { reason, said } => {
                let said = said.trim();
                Err(Error::Forbidden(if said.is_empty() {
                    reason
                } else {
                    said.to_owned()
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_gits_rules() {
        for good in ["main", "feature/x", "v1.2", "renovate/lodash-4.x"] {
            assert_eq!(parse_branch_name(good).unwrap(), good);
        }
        for bad in [
            "", "-x", "a..b", "a b", "a~1", "x:y", "a/.b", "a/", "/a", "a//b", "x.lock", "a.", "@",
            "HEAD", "a@{1}", "a\u{7}", "a*", "a[b", "a\\b",
        ] {
            assert!(parse_branch_name(bad).is_err(), "{bad:?}");
        }
        assert!(parse_branch_name(&"a".repeat(256)).is_err());
    }
}
