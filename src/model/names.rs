//! Every name that arrives from outside (URL, SSH exec line, CLI) is parsed into one of these
//! newtypes before it can reach a path, a SQL query or a git argv. Parsing is the only way in.

use std::fmt;

/// Why a name was refused; the text is shown to users, so it says what a valid name looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than 100 characters")]
    TooLong { kind: &'static str },
    #[error(
        "{kind} may only contain letters, digits, '.', '_' and '-', and must start with a letter or digit"
    )]
    BadCharacters { kind: &'static str },
    #[error("{kind} must not be '.' or '..' or end in '.git'")]
    Reserved { kind: &'static str },
    #[error("expected OWNER/REPO")]
    NotOwnerRepo,
}

/// The shared rule for owner and repository names: `^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`.
/// A leading letter or digit rules out `-x` (an option to git) and `.hidden`; the character set
/// rules out `/`, `%`, NUL, newline and everything else a path or a shell could trip on.
fn check_segment(kind: &'static str, s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if s.len() > 100 {
        return Err(NameError::TooLong { kind });
    }
    let mut chars = s.chars();
    let first = chars.next().expect("non-empty because checked above");
    if !first.is_ascii_alphanumeric() {
        return Err(NameError::BadCharacters { kind });
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(NameError::BadCharacters { kind });
    }
    if s == "." || s == ".." || s.to_ascii_lowercase().ends_with(".git") {
        return Err(NameError::Reserved { kind });
    }
    Ok(())
}

/// A `[[deploy]]` name from the config file: shown in push output and the UI, and the name of
/// the deploy's working folder under the data folder (so never `..`, `.x` or `-x`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeployName(String);

impl DeployName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_segment("a deploy name", s)?;
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeployName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user (and so repository owner) name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_segment("a user name", s)?;
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A repository name without the `.git` suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName(String);

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_segment("a repository name", s)?;
        Ok(Self(s.to_owned()))
    }

    /// Parses the name as it appears in a clone URL, where one `.git` suffix is optional:
    /// `dns.git` and `dns` are the same repository, `dns.git.git` is refused.
    pub fn parse_url_segment(s: &str) -> Result<Self, NameError> {
        let stem = s.strip_suffix(".git").unwrap_or(s);
        Self::parse(stem)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `OWNER/REPO`, as typed on the command line or sent by git over SSH.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoPath {
    pub owner: Username,
    pub name: RepoName,
}

impl RepoPath {
    /// Accepts `OWNER/REPO` with an optional `.git`; nothing else (no leading slash, no extra
    /// segments), so `a/../b` and `a/b/c` are refused.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let (owner, name) = s.split_once('/').ok_or(NameError::NotOwnerRepo)?;
        if name.contains('/') {
            return Err(NameError::NotOwnerRepo);
        }
        Ok(Self {
            owner: Username::parse(owner)?,
            name: RepoName::parse_url_segment(name)?,
        })
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A path inside a repository's tree, from a URL: `/`-separated segments, none empty, `.` or
/// `..`, no NUL. The empty path is the root. It is only ever looked up in a git tree, never on disk,
/// but the same strictness keeps odd names out of links and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TreePath(String);

impl TreePath {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let s = s.trim_matches('/');
        if s.is_empty() {
            return Ok(Self::default());
        }
        let kind = "a path";
        if s.len() > 4096 {
            return Err(NameError::TooLong { kind });
        }
        for seg in s.split('/') {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(NameError::Reserved { kind });
            }
            if seg.contains('\0') {
                return Err(NameError::BadCharacters { kind });
            }
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// `a/b` joined with `c` is `a/b/c`.
    pub fn join(&self, name: &str) -> String {
        if self.0.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.0)
        }
    }

    /// The last segment (the file name), empty for the root.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }
}

/// An e-mail address, checked only as far as is useful: one `@`, no spaces or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = s.len() <= 254
            && s.split('@').count() == 2
            && !s.starts_with('@')
            && !s.ends_with('@')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!("'{s}' is not an e-mail address"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["alice", "dns", "home-lab", "a", "x_1.conf", "A9"] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_dot_and_dotdot() {
        assert!(matches!(
            RepoName::parse("."),
            Err(NameError::BadCharacters { .. })
        ));
        assert!(matches!(
            RepoName::parse(".."),
            Err(NameError::BadCharacters { .. })
        ));
        assert!(RepoName::parse_url_segment("...git").is_err());
    }

    #[test]
    fn refuses_path_traversal() {
        assert!(RepoPath::parse("a/../b").is_err());
        assert!(RepoPath::parse("../etc").is_err());
        assert!(RepoPath::parse("/a/b").is_err());
        assert!(RepoPath::parse("a/b/c").is_err());
        assert!(RepoName::parse("a/b").is_err());
    }

    #[test]
    fn refuses_percent_encoding() {
        assert!(RepoName::parse("%2e%2e").is_err());
        assert!(Username::parse("%2e").is_err());
    }

    #[test]
    fn refuses_leading_dash_so_git_never_sees_an_option() {
        assert!(RepoName::parse("-x").is_err());
        assert!(Username::parse("--upload-pack=id").is_err());
    }

    #[test]
    fn dot_git_suffix_at_most_once() {
        assert_eq!(
            RepoName::parse_url_segment("dns.git").unwrap().as_str(),
            "dns"
        );
        assert_eq!(RepoName::parse_url_segment("dns").unwrap().as_str(), "dns");
        assert!(RepoName::parse_url_segment("x.git.git").is_err());
        assert!(RepoName::parse("x.git").is_err());
        assert!(RepoName::parse("x.GIT").is_err());
    }

    #[test]
    fn refuses_nul_newline_and_spaces() {
        for bad in ["a\0b", "a\nb", "a b", "a\tb", "é", "a;id", "a'b"] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?}");
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_empty_and_too_long() {
        assert!(matches!(RepoName::parse(""), Err(NameError::Empty { .. })));
        assert!(RepoName::parse(&"a".repeat(100)).is_ok());
        assert!(matches!(
            RepoName::parse(&"a".repeat(101)),
            Err(NameError::TooLong { .. })
        ));
    }

    #[test]
    fn repo_path_round_trips() {
        let p = RepoPath::parse("lab/dns.git").unwrap();
        assert_eq!(p.to_string(), "lab/dns");
    }

    #[test]
    fn tree_paths() {
        assert!(TreePath::parse("").unwrap().is_root());
        assert_eq!(TreePath::parse("/a/b/").unwrap().as_str(), "a/b");
        assert_eq!(TreePath::parse("a/b").unwrap().join("c"), "a/b/c");
        assert_eq!(TreePath::parse("a/b.txt").unwrap().file_name(), "b.txt");
        for bad in ["a/../b", "..", "a//b", "./a", "a/\0"] {
            assert!(TreePath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn email_needs_one_at_sign() {
        assert!(Email::parse("a@b.c").is_ok());
        assert!(Email::parse("ab.c").is_err());
        assert!(Email::parse("a@b@c").is_err());
        assert!(Email::parse("a b@c").is_err());
    }

    /// A one-segment name is a single plain path component: never `.`, `..`, `-x`, `/` or NUL.
    fn is_one_safe_component(name: &str) -> bool {
        let mut parts = std::path::Path::new(name).components();
        matches!(parts.next(), Some(std::path::Component::Normal(_)))
            && parts.next().is_none()
            && !name.starts_with(['.', '-'])
            && !name.contains(['/', '\\', '\0'])
            && name.len() <= 100
    }

    proptest::proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn parsed_names_are_one_safe_component(s in "\\PC{0,120}|[a-zA-Z0-9._/-]{0,110}") {
            let limit = std::time::Duration::from_millis(200);
            let parsed = crate::fuzz::within(limit, "names", || {
                (Username::parse(&s), RepoName::parse_url_segment(&s), DeployName::parse(&s))
            });
            if let Ok(u) = parsed.0 {
                proptest::prop_assert!(is_one_safe_component(u.as_str()));
                proptest::prop_assert_eq!(Username::parse(u.as_str()), Ok(u.clone()));
            }
            if let Ok(r) = parsed.1 {
                proptest::prop_assert!(is_one_safe_component(r.as_str()));
                proptest::prop_assert!(!r.as_str().to_ascii_lowercase().ends_with(".git"));
            }
            if let Ok(d) = parsed.2 {
                proptest::prop_assert!(is_one_safe_component(d.as_str()));
            }
        }

        #[test]
        fn repo_paths_are_two_names_and_print_back(s in "\\PC{0,60}|[a-z./]{0,30}") {
            if let Ok(p) = RepoPath::parse(&s) {
                proptest::prop_assert!(is_one_safe_component(p.owner.as_str()));
                proptest::prop_assert!(is_one_safe_component(p.name.as_str()));
                proptest::prop_assert_eq!(RepoPath::parse(&p.to_string()), Ok(p.clone()));
            }
        }

        #[test]
        fn tree_paths_have_no_dot_segments(s in "\\PC{0,200}|[a./\\x00]{0,40}") {
            let limit = std::time::Duration::from_millis(200);
            if let Ok(p) = crate::fuzz::within(limit, "tree path", || TreePath::parse(&s)) {
                for seg in p.as_str().split('/').filter(|_| !p.is_root()) {
                    proptest::prop_assert!(!seg.is_empty() && seg != "." && seg != "..");
                    proptest::prop_assert!(!seg.contains('\0'));
                }
                proptest::prop_assert_eq!(TreePath::parse(p.as_str()), Ok(p.clone()));
            }
        }
    }
}
