//! Names a file edit writes (the web's "Edit" and "New file", the API's contents writes): the
//! path of a file in the tree and the identity a commit names. Both come from outside and end up
//! in git's index and in a commit object, so they are parsed here first, stricter than git
//! itself: git would store `a/../b` or a `.GIT` folder in a tree it builds, and every checkout
//! of such a tree (a deploy, a check, a clone on a case-insensitive disk) is an attack.

use std::fmt;

/// Longest path an edit may name, in bytes (git's own limit is PATH_MAX on checkout).
pub const MAX_EDIT_PATH: usize = 1024;
/// Deepest folder nesting an edit may name; the tree walk of a path is one lookup per level.
pub const MAX_EDIT_DEPTH: usize = 32;
/// Longest name or e-mail address in a commit's identity.
pub const MAX_IDENTITY: usize = 254;

/// Why an edit's path or identity was refused; the text is shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditNameError {
    #[error("the path is empty")]
    Empty,
    #[error("the path is longer than {MAX_EDIT_PATH} bytes")]
    TooLong,
    #[error("the path has more than {MAX_EDIT_DEPTH} folders")]
    TooDeep,
    #[error("the path must be relative (no leading '/')")]
    Absolute,
    #[error("the path has an empty segment ('//' or a trailing '/')")]
    EmptySegment,
    #[error("the path may not contain '.' or '..' segments")]
    DotSegment,
    #[error("the path may not name a '.git' folder or file, in any case")]
    GitFolder,
    #[error("the path may not contain control characters (NUL, newline, tab, ...) or '\\'")]
    BadCharacter,
    #[error("{0}")]
    Identity(&'static str),
    #[error("that is not a valid branch name")]
    Branch,
}

/// A file's path in a tree, as an edit writes it: relative, `/`-separated, every segment a
/// plain name. Refused: `..` and `.` (a path must name what it looks like), `.git` in any case
/// and git's 8.3 short form `git~1` (git treats these as its own folder on case-insensitive
/// and Windows file systems: the CVE-2014-9390 family), a leading `/`, empty segments, NUL
/// and other control characters (they end lines in git's index input and in logs), and `\`
/// (a separator on Windows checkouts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EditPath(String);

impl EditPath {
    pub fn parse(s: &str) -> Result<Self, EditNameError> {
        if s.is_empty() {
            return Err(EditNameError::Empty);
        }
        if s.len() > MAX_EDIT_PATH {
            return Err(EditNameError::TooLong);
        }
        if s.starts_with('/') {
            return Err(EditNameError::Absolute);
        }
        if s.chars().any(|c| c.is_control() || c == '\\') {
            return Err(EditNameError::BadCharacter);
        }
        let mut depth = 0;
        for seg in s.split('/') {
            depth += 1;
            if depth > MAX_EDIT_DEPTH {
                return Err(EditNameError::TooDeep);
            }
            if seg.is_empty() {
                return Err(EditNameError::EmptySegment);
            }
            if seg == "." || seg == ".." {
                return Err(EditNameError::DotSegment);
            }
            if is_git_name(seg) {
                return Err(EditNameError::GitFolder);
            }
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (the file's name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Each folder above the file, outermost first: `a/b/c` gives `a`, `a/b`.
    pub fn folders(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(|(i, _)| &self.0[..i])
    }
}

impl fmt::Display for EditPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `.git` however spelled for a file system that ignores case or trailing dots and spaces
/// (Windows, macOS), and NTFS's short name `git~1`.
fn is_git_name(seg: &str) -> bool {
    let trimmed = seg.trim_end_matches(['.', ' ']);
    trimmed.eq_ignore_ascii_case(".git") || trimmed.eq_ignore_ascii_case("git~1")
}

/// A commit's author or committer as an edit names it: git writes `name <email>` into the
/// commit, so neither may hold `<`, `>` or a line break (they would forge another header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitIdentity {
    name: String,
    email: String,
}

impl CommitIdentity {
    pub fn parse(name: &str, email: &str) -> Result<Self, EditNameError> {
        let (name, email) = (name.trim(), email.trim());
        if name.is_empty() || email.is_empty() {
            return Err(EditNameError::Identity(
                "an author or committer needs a name and an e-mail address",
            ));
        }
        if name.len() > MAX_IDENTITY || email.len() > MAX_IDENTITY {
            return Err(EditNameError::Identity(
                "an author's or committer's name or e-mail address is too long",
            ));
        }
        let bad = |s: &str| s.chars().any(|c| c.is_control() || c == '<' || c == '>');
        if bad(name) || bad(email) {
            return Err(EditNameError::Identity(
                "an author's or committer's name or e-mail address may not contain '<', '>' or control characters",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            email: email.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn email(&self) -> &str {
        &self.email
    }
}

/// A branch an edit commits to, given from outside (`branch`, `new_branch`): git's ref-name
/// rules, made stricter where a name could be read as something else (an option, a range, a
/// reflog entry) and capped at 100 bytes, as Gitea caps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BranchName(String);

impl BranchName {
    pub fn parse(s: &str) -> Result<Self, EditNameError> {
        let bad = s.is_empty()
            || s.len() > 100
            || s.starts_with(['-', '/'])
            || s.ends_with(['/', '.'])
            || s.contains("..")
            || s.contains("//")
            || s.contains("@{")
            || s == "@"
            || s.ends_with(".lock")
            || s.split('/')
                .any(|seg| seg.starts_with('.') || seg.ends_with(".lock"))
            || s.chars().any(|c| {
                c.is_control()
                    || c.is_whitespace()
                    || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
            });
        if bad {
            return Err(EditNameError::Branch);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `refs/heads/NAME`.
    pub fn refname(&self) -> String {
        format!("refs/heads/{}", self.0)
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_pass() {
        for ok in [
            "README.md",
            "zones/lab.zone",
            ".github/workflows/ci.yml",
            "a/.gitignore",
            "a/.gitx/b",
            "dir with space/ü.txt",
            "git",
        ] {
            assert_eq!(EditPath::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refused_paths_say_why() {
        use EditNameError::*;
        for (bad, why) in [
            ("", Empty),
            ("/etc/passwd", Absolute),
            ("a//b", EmptySegment),
            ("a/", EmptySegment),
            ("../x", DotSegment),
            ("a/../../x", DotSegment),
            ("./x", DotSegment),
            (".git/config", GitFolder),
            ("a/.GIT/hooks/pre-receive", GitFolder),
            (".Git", GitFolder),
            ("x/.git. /y", GitFolder),
            ("GIT~1/config", GitFolder),
            ("a\0b", BadCharacter),
            ("a\nb", BadCharacter),
            ("a\tb", BadCharacter),
            ("a\\..\\b", BadCharacter),
        ] {
            assert_eq!(EditPath::parse(bad), Err(why), "{bad:?}");
        }
    }

    /// The caps hold at their edges.
    #[test]
    fn length_and_depth_are_capped() {
        let long = "a".repeat(MAX_EDIT_PATH);
        assert!(EditPath::parse(&long).is_ok());
        assert_eq!(
            EditPath::parse(&format!("{long}b")),
            Err(EditNameError::TooLong)
        );
        let deep = vec!["d"; MAX_EDIT_DEPTH].join("/");
        assert!(EditPath::parse(&deep).is_ok());
        assert_eq!(
            EditPath::parse(&format!("{deep}/f")),
            Err(EditNameError::TooDeep)
        );
    }

    #[test]
    fn folders_are_listed_outermost_first() {
        let p = EditPath::parse("a/b/c.txt").unwrap();
        assert_eq!(p.folders().collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(p.file_name(), "c.txt");
        assert_eq!(EditPath::parse("top").unwrap().folders().count(), 0);
    }

    #[test]
    fn branch_names_follow_gits_rules() {
        for ok in ["main", "feature/x", "release-1.2", "a_b"] {
            assert_eq!(
                BranchName::parse(ok).unwrap().refname(),
                format!("refs/heads/{ok}")
            );
        }
        for bad in [
            "", "-x", "a..b", "a b", "x.lock", "a/.b", "a//b", "a/", "x~1", "a^", "a:b", "@{1}",
            "@", "a\\b", "a\nb",
        ] {
            assert!(BranchName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(BranchName::parse(&"b".repeat(101)).is_err());
    }

    #[test]
    fn identities_cannot_forge_headers() {
        assert!(CommitIdentity::parse("Alice", "alice@lab").is_ok());
        for (name, email) in [
            ("", "a@b"),
            ("Alice", ""),
            ("Alice <x@y>", "a@b"),
            ("Alice", "a@b>\ncommitter Eve"),
            ("A\nB", "a@b"),
        ] {
            assert!(CommitIdentity::parse(name, email).is_err(), "{name:?}");
        }
        assert!(CommitIdentity::parse(&"n".repeat(MAX_IDENTITY + 1), "a@b").is_err());
    }
}
