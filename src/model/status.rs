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
}

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
}
