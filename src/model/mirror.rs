//! Push mirrors: where a repository is copied after each push, and how labforge signs in there.

/// A mirror's remote: `ssh://[user@]host[:port]/path`, `user@host:path`, or `https://host/path`
/// (`http://` too, for a lab's own network). Never with a password inside, never anything git
/// could read as an option or that could split a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorUrl {
    url: String,
    transport: MirrorTransport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorTransport {
    Ssh,
    Http,
    /// `git://`: read-only and unauthenticated (git daemon); for pull mirrors.
    GitDaemon,
}

impl MirrorUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.len() > 2000 {
            return Err("the remote URL must be 1 to 2000 characters".into());
        }
        if s.starts_with('-') || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("the remote URL may not start with - or hold spaces".into());
        }
        let transport = if let Some(rest) = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
        {
            let authority = rest.split('/').next().unwrap_or("");
            if authority.contains('@') {
                return Err(
                    "put the user name and token in their own fields, not in the URL".into(),
                );
            }
            if authority.is_empty() || !rest.contains('/') {
                return Err("the URL needs a host and a path".into());
            }
            MirrorTransport::Http
        } else if let Some(rest) = s.strip_prefix("git://") {
            if rest.split('/').next().unwrap_or("").is_empty() || !rest.contains('/') {
                return Err("a git:// URL needs a host and a path".into());
            }
            MirrorTransport::GitDaemon
        } else if let Some(rest) = s.strip_prefix("ssh://") {
            let authority = rest.split('/').next().unwrap_or("");
            if authority.is_empty()
                || !rest.contains('/')
                || authority.contains(':')
                    && authority
                        .rsplit(':')
                        .next()
                        .is_some_and(|p| p.parse::<u16>().is_err())
            {
                return Err("an ssh:// URL needs a host, an optional port and a path".into());
            }
            MirrorTransport::Ssh
        } else if let Some((userhost, path)) = s.split_once(':')
            && !userhost.is_empty()
            && !path.is_empty()
            && !userhost.contains('/')
            && !s.contains("://")
        {
            MirrorTransport::Ssh
        } else {
            return Err("use ssh://host/path, user@host:path or https://host/path".into());
        };
        Ok(Self {
            url: s.to_owned(),
            transport,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn transport(&self) -> MirrorTransport {
        self.transport
    }
}

/// What a sync pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorScope {
    /// Every ref, deletions included (`git push --mirror`).
    Mirror,
    /// Branches and tags only, deletions included.
    Branches,
}

impl MirrorScope {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorScope::Mirror => "mirror",
            MirrorScope::Branches => "branches",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mirror" => Some(MirrorScope::Mirror),
            "branches" => Some(MirrorScope::Branches),
            _ => None,
        }
    }
}

/// A push mirror as pages and the API show it: no secret in it.
#[derive(Debug, Clone)]
pub struct PushMirror {
    pub id: i64,
    pub remote_url: String,
    pub transport: MirrorTransport,
    pub username: String,
    /// For SSH: the public key to add on the far side.
    pub public_key: String,
    pub host_key: Option<String>,
    pub scope: MirrorScope,
    pub sync_on_push: bool,
    pub syncing: bool,
    pub sync_wanted: bool,
    pub failures: i32,
    pub last_attempt_at: Option<time::OffsetDateTime>,
    pub last_success_at: Option<time::OffsetDateTime>,
    pub last_error: String,
    pub created_at: time::OffsetDateTime,
}

/// A pull mirror as pages and the API show it: no secret in it.
#[derive(Debug, Clone)]
pub struct PullMirror {
    pub remote_url: String,
    pub username: String,
    pub interval: std::time::Duration,
    pub next_sync_at: time::OffsetDateTime,
    pub syncing: bool,
    pub last_attempt_at: Option<time::OffsetDateTime>,
    pub last_success_at: Option<time::OffsetDateTime>,
    pub last_error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls() {
        let ok = |s: &str, t| assert_eq!(MirrorUrl::parse(s).unwrap().transport(), t, "{s}");
        ok("https://git.lab/alice/dns.git", MirrorTransport::Http);
        ok("http://127.0.0.1:8080/git/dns.git", MirrorTransport::Http);
        ok("ssh://git@git.lab:2222/alice/dns.git", MirrorTransport::Ssh);
        ok("git@github.com:alice/dns.git", MirrorTransport::Ssh);
        ok("git://127.0.0.1:9418/dns.git", MirrorTransport::GitDaemon);
        for bad in [
            "https://alice:token@git.lab/dns.git",
            "-oProxyCommand=x",
            "ssh://host:port/x",
            "https://git.lab",
            "file:///etc",
            "/srv/git/dns.git",
            "https://git.lab/a b",
            "",
        ] {
            assert!(MirrorUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
