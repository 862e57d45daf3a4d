//! Repository access and site administration are different types on purpose: nothing about a
//! repository (its name, a collaborator row) can ever be turned into site-admin rights. Soft Serve
//! once granted admin to anyone who owned a repo named like an admin command; keeping the two apart
//! makes that mistake unrepresentable.

use std::fmt;
use std::str::FromStr;

/// What someone may do with one repository. Ordered: each level includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoAccess {
    None,
    Read,
    Write,
    Admin,
}

impl RepoAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoAccess::None => "none",
            RepoAccess::Read => "read",
            RepoAccess::Write => "write",
            RepoAccess::Admin => "admin",
        }
    }
}

impl FromStr for RepoAccess {
    type Err = String;
    /// Parses a collaborator level; `none` is not a level one can grant.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(RepoAccess::Read),
            "write" => Ok(RepoAccess::Write),
            "admin" => Ok(RepoAccess::Admin),
            other => Err(format!(
                "access must be read, write or admin, not '{other}'"
            )),
        }
    }
}

impl fmt::Display for RepoAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Site-wide role, independent of any repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteRole {
    User,
    Admin,
}

/// What an access token may do: a read token caps every repository at `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    Read,
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }
    pub fn cap(self) -> RepoAccess {
        match self {
            TokenScope::Read => RepoAccess::Read,
            TokenScope::Write => RepoAccess::Admin,
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(TokenScope::Read),
            "write" => Ok(TokenScope::Write),
            other => Err(format!("scope must be read or write, not '{other}'")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert!(RepoAccess::None < RepoAccess::Read);
        assert!(RepoAccess::Read < RepoAccess::Write);
        assert!(RepoAccess::Write < RepoAccess::Admin);
    }

    #[test]
    fn none_cannot_be_granted() {
        assert!("none".parse::<RepoAccess>().is_err());
        assert_eq!("write".parse::<RepoAccess>(), Ok(RepoAccess::Write));
    }

    #[test]
    fn read_token_caps_at_read() {
        assert_eq!(TokenScope::Read.cap(), RepoAccess::Read);
        assert!("admin".parse::<TokenScope>().is_err());
    }
}
