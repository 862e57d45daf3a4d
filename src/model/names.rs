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
    #[error("'{name}' is a word the site's own addresses use; choose another name")]
    ReservedWord { name: String },
    #[error("expected ORG/TEAM")]
    NotOrgTeam,
}

/// Whether `name` is one of `RESERVED_OWNER_NAMES`, without regard to case.
pub fn is_reserved_owner(name: &str) -> bool {
    RESERVED_OWNER_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
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

/// A `[[check]]` name from the config file (the deploy rule): shown in push output, in the
/// `check/NAME` status context, and named by `--require-check` on protected branches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckName(String);

impl CheckName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_segment("a check name", s)?;
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Owner names the site's own addresses use as their first path segment (and a few it will):
/// users and organizations share one name space with the routes (`/lab` is an owner's page,
/// `/new` is not), so a new owner may not take one. Lower case; compared without regard to
/// case. A test in `app` checks every first segment of the route table is here.
pub const RESERVED_OWNER_NAMES: &[&str] = &[
    "-",
    "about",
    "admin",
    "api",
    "assets",
    "explore",
    "favicon.ico",
    "healthz",
    "help",
    "issues",
    "login",
    "logout",
    "metrics",
    "new",
    "notifications",
    "org",
    "orgs",
    "pulls",
    "register",
    "repos",
    "robots.txt",
    "search",
    "settings",
    "signup",
    "static",
    "teams",
    "user",
    "users",
    "version",
];

/// A user (and so repository owner) name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// An existing owner's name (in a URL, an SSH command): any name the rule allows, so an
    /// owner created before a word was reserved stays reachable.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_segment("a user name", s)?;
        Ok(Self(s.to_owned()))
    }

    /// A name for a new user or organization: also not one of `RESERVED_OWNER_NAMES`.
    pub fn parse_new(s: &str) -> Result<Self, NameError> {
        let name = Self::parse(s)?;
        if is_reserved_owner(s) {
            return Err(NameError::ReservedWord { name: s.to_owned() });
        }
        Ok(name)
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

    /// The address an old `/{owner}/{repo}…` request moves to when the repository is now at
    /// `self`: the same rest of the path and query, and `.git` kept if the old one had it.
    pub fn moved_url(&self, old_path: &str, query: Option<&str>) -> String {
        let mut segments = old_path.trim_start_matches('/').splitn(3, '/');
        let _owner = segments.next();
        let git = segments.next().is_some_and(|r| r.ends_with(".git"));
        let rest = segments.next().map(|r| format!("/{r}")).unwrap_or_default();
        let suffix = if git { ".git" } else { "" };
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        format!(
            "/{}/{}{suffix}{rest}{query}",
            self.owner.as_str(),
            self.name.as_str()
        )
    }
}

/// A team's name within its organization (`deployers`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TeamName(String);

impl TeamName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check_segment("a team name", s)?;
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ORG/TEAM`, as the command line names a team (`lab/deployers`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TeamPath {
    pub org: Username,
    pub team: TeamName,
}

impl TeamPath {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let (org, team) = s.split_once('/').ok_or(NameError::NotOrgTeam)?;
        if team.contains('/') {
            return Err(NameError::NotOrgTeam);
        }
        Ok(Self {
            org: Username::parse(org)?,
            team: TeamName::parse(team)?,
        })
    }
}

impl fmt::Display for TeamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.org, self.team)
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
    fn a_moved_url_keeps_the_rest_of_the_path_the_query_and_git_suffix() {
        let now = RepoPath::parse("lab/dns").unwrap();
        assert_eq!(now.moved_url("/alice/dns", None), "/lab/dns");
        assert_eq!(
            now.moved_url("/alice/old/issues/3", Some("tab=files")),
            "/lab/dns/issues/3?tab=files"
        );
        assert_eq!(
            now.moved_url("/alice/old.git/info/refs", Some("service=git-upload-pack")),
            "/lab/dns.git/info/refs?service=git-upload-pack"
        );
    }

    #[test]
    fn new_owners_may_not_take_route_words_in_any_case() {
        for word in [
            "api", "new", "Login", "SETTINGS", "-", "org", "explore", "admin",
        ] {
            assert!(
                matches!(
                    Username::parse_new(word),
                    Err(NameError::ReservedWord { .. }) | Err(NameError::BadCharacters { .. })
                ),
                "{word}"
            );
            assert!(is_reserved_owner(word), "{word}");
        }
        assert!(Username::parse_new("lab").is_ok());
        assert!(Username::parse_new("newt").is_ok(), "only whole words");
        // An existing owner of such a name still parses where names are looked up.
        assert!(Username::parse("explore").is_ok());
        assert!(
            RESERVED_OWNER_NAMES
                .iter()
                .all(|w| *w == w.to_ascii_lowercase())
        );
    }

    #[test]
    fn team_paths_are_org_slash_team() {
        let t = TeamPath::parse("lab/deployers").unwrap();
        assert_eq!((t.org.as_str(), t.team.as_str()), ("lab", "deployers"));
        assert_eq!(t.to_string(), "lab/deployers");
        for bad in ["lab", "lab/a/b", "/x", "lab/", "lab/..", "lab/-x"] {
            assert!(TeamPath::parse(bad).is_err(), "{bad}");
        }
    }

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
