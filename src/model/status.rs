//! Commit statuses: what checks, deploys and outside CI say about a commit, in Gitea's words.

use std::fmt;
use std::str::FromStr;

/// One status's state. Gitea's six; labforge itself reports the first four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitState {
    Pending,
    Success,
    Error,
    Failure,
    Warning,
    Skipped,
}

impl CommitState {
    pub const ALL: [CommitState; 6] = [
        CommitState::Pending,
        CommitState::Success,
        CommitState::Error,
        CommitState::Failure,
        CommitState::Warning,
        CommitState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommitState::Pending => "pending",
            CommitState::Success => "success",
            CommitState::Error => "error",
            CommitState::Failure => "failure",
            CommitState::Warning => "warning",
            CommitState::Skipped => "skipped",
        }
    }

    /// The combined state of a commit from the newest state of each context, as GitHub and
    /// Gitea define it: failure if any is an error or a failure, success if there is at least
    /// one and all are success (or warning, or skipped), pending otherwise (none counts as
    /// pending: nothing has reported yet).
    pub fn combine(states: impl IntoIterator<Item = CommitState>) -> CommitState {
        let (mut seen, mut good) = (0usize, 0usize);
        for state in states {
            seen += 1;
            match state {
                CommitState::Error | CommitState::Failure => return CommitState::Failure,
                CommitState::Pending => {}
                CommitState::Success | CommitState::Warning | CommitState::Skipped => good += 1,
            }
        }
        if seen > 0 && good == seen {
            CommitState::Success
        } else {
            CommitState::Pending
        }
    }

    /// `combine` from counts over a commit's statuses (`failing`: failure or error), for pages
    /// that read only some of a commit's many contexts.
    pub fn combine_counts(total: i64, failing: i64, pending: i64) -> CommitState {
        if failing > 0 {
            CommitState::Failure
        } else if total > 0 && pending == 0 {
            CommitState::Success
        } else {
            CommitState::Pending
        }
    }
}

impl FromStr for CommitState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "state must be pending, success, error, failure, warning or skipped, not '{s}'"
                )
            })
    }
}

impl fmt::Display for CommitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a status reports on (`check/zones`, `deploy/dns`, `ci/woodpecker`): free text from
/// outside, so bounded and printable; `default` when a client sends none, as Gitea does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusContext(String);

impl StatusContext {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self("default".into()));
        }
        if s.len() > 255 || s.chars().any(char::is_control) {
            return Err("context must be at most 255 printable characters".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A context an outside client may post: `check/` and `deploy/` are labforge's own checks
    /// and deploys (a protected branch's required check reads `check/NAME`), so a writer's
    /// token posting `check/zones: success` could pass for the check itself.
    pub fn parse_outside(s: &str) -> Result<Self, String> {
        let context = Self::parse(s)?;
        match RESERVED_PREFIXES.iter().find(|p| context.0.starts_with(*p)) {
            Some(prefix) => Err(format!(
                "contexts starting with {prefix} are reserved for labforge's own checks and \
                 deploys; name yours another way (ci/…, for example)"
            )),
            None => Ok(context),
        }
    }
}

/// Context prefixes only labforge writes (see `StatusContext::parse_outside`).
pub const RESERVED_PREFIXES: [&str; 2] = ["check/", "deploy/"];

impl fmt::Display for StatusContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommitState::*;

    #[test]
    fn combined_state_follows_gitea() {
        assert_eq!(CommitState::combine([]), Pending);
        assert_eq!(CommitState::combine([Success, Warning, Skipped]), Success);
        assert_eq!(CommitState::combine([Success, Pending]), Pending);
        assert_eq!(CommitState::combine([Pending, Error, Success]), Failure);
        assert_eq!(CommitState::combine([Failure]), Failure);
    }

    #[test]
    fn states_and_contexts_parse() {
        for s in CommitState::ALL {
            assert_eq!(s.as_str().parse::<CommitState>().unwrap(), s);
        }
        assert!("done".parse::<CommitState>().is_err());
        assert_eq!(StatusContext::parse(" ").unwrap().as_str(), "default");
        assert_eq!(
            StatusContext::parse("ci/woodpecker").unwrap().as_str(),
            "ci/woodpecker"
        );
        assert!(StatusContext::parse("a\nb").is_err());
        assert!(StatusContext::parse(&"x".repeat(256)).is_err());
    }

    #[test]
    fn outside_clients_cannot_post_labforges_own_contexts() {
        for reserved in ["check/zones", "deploy/dns", " check/x", "check/"] {
            let refused = StatusContext::parse_outside(reserved).unwrap_err();
            assert!(refused.contains("reserved"), "{reserved}: {refused}");
        }
        for fine in ["ci/woodpecker", "checks/x", "Check/x", "my-deploy/x", ""] {
            assert!(StatusContext::parse_outside(fine).is_ok(), "{fine}");
        }
        // labforge itself still names its checks and deploys so.
        assert!(StatusContext::parse("check/zones").is_ok());
    }

    /// Counting gives the combined state `combine` gives from every state.
    #[test]
    fn combined_counts_agree_with_combine() {
        let lists: [&[CommitState]; 7] = [
            &[],
            &[Success],
            &[Success, Warning, Skipped],
            &[Success, Pending],
            &[Pending, Error, Success],
            &[Failure],
            &[Pending],
        ];
        for states in lists {
            let count = |f: fn(&CommitState) -> bool| states.iter().filter(|s| f(s)).count() as i64;
            let failing = count(|s| matches!(s, Failure | Error));
            let pending = count(|s| matches!(s, Pending));
            assert_eq!(
                CommitState::combine_counts(states.len() as i64, failing, pending),
                CommitState::combine(states.iter().copied()),
                "{states:?}"
            );
        }
    }
}
