//! Push mirrors: where a repository is copied after each push, and how labforge signs in there.

/// A mirror's remote: `ssh://[user@]host[:port]/path`, `[user@]host:path` (scp-like),
/// `https://host/path`, `http://host/path` (for a lab's own network) or `git://host/path`, and
/// nothing else: never `ext::`, `fd::`, `file://` or a local path, which run commands or reach
/// this machine's files. Never with a password inside, never anything git could read as an
/// option or that could split a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorUrl {
    url: String,
    transport: MirrorTransport,
    /// The host as connections name it (lowercase; an IPv6 address without brackets).
    host: String,
    port: u16,
    /// For `https`, `http` and `git`: the URL as `url` normalizes it (an IPv4 address written
    /// as `2130706433` or `127.1` becomes `127.0.0.1`), so git and the check see one host.
    normalized: Option<url::Url>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorTransport {
    Ssh,
    Http,
    /// `git://`: read-only and unauthenticated (git daemon); for pull mirrors.
    GitDaemon,
}

/// What `MirrorUrl::parse` accepts, for error messages (one list, so they never disagree).
pub const ACCEPTED_FORMS: &str = "https://host/path, http://host/path, ssh://[user@]host[:port]/path, user@host:path or git://host/path";

/// A host name or address as written after `@` (without brackets): letters, digits, `.`, `-`,
/// `_`, and `:` only inside brackets (IPv6).
fn plain_host(h: &str) -> bool {
    !h.is_empty()
        && !h.starts_with('-')
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
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
        let unknown = || format!("use one of {ACCEPTED_FORMS}");
        if let Some((scheme, _)) = s.split_once("://") {
            let transport = match scheme.to_ascii_lowercase().as_str() {
                "https" | "http" => MirrorTransport::Http,
                "git" => MirrorTransport::GitDaemon,
                "ssh" => MirrorTransport::Ssh,
                _ => return Err(unknown()),
            };
            let url = url::Url::parse(s).map_err(|e| format!("the URL is not valid: {e}"))?;
            if transport == MirrorTransport::Http
                && (!url.username().is_empty() || url.password().is_some())
            {
                return Err(
                    "put the user name and token in their own fields, not in the URL".into(),
                );
            }
            if url.password().is_some() {
                return Err("the URL may not carry a password".into());
            }
            let host = match url.host() {
                Some(url::Host::Domain(d)) if plain_host(d) => d.to_ascii_lowercase(),
                Some(url::Host::Ipv4(v4)) => v4.to_string(),
                Some(url::Host::Ipv6(v6)) => v6.to_string(),
                _ => return Err("the URL needs a host name or address".into()),
            };
            let path = url.path();
            if path.len() < 2 || url.query().is_some() || url.fragment().is_some() {
                return Err("the URL needs a path (and no ?query or #fragment)".into());
            }
            let default_port = match transport {
                MirrorTransport::GitDaemon => 9418,
                MirrorTransport::Ssh => 22,
                MirrorTransport::Http => url.port_or_known_default().unwrap_or(443),
            };
            let port = url.port().unwrap_or(default_port);
            if transport == MirrorTransport::Ssh && url.port() == Some(0) {
                return Err("an ssh:// URL needs a host, an optional port and a path".into());
            }
            let normalized = (transport != MirrorTransport::Ssh).then_some(url);
            return Ok(Self {
                url: s.to_owned(),
                transport,
                host,
                port,
                normalized,
            });
        }
        // scp-like: [user@]host:path, or [user@][v6]:path. git reads `NAME::ADDRESS` as the
        // remote helper NAME (`ext::`, `fd::`), so a path starting with `:` is never accepted.
        let (user, rest) = match s.split_once('@') {
            Some((u, r)) if !u.contains([':', '/', '[']) => (Some(u), r),
            _ => (None, s),
        };
        let (host, path) = if let Some(v6) = rest.strip_prefix('[') {
            let (inside, after) = v6.split_once(']').ok_or_else(unknown)?;
            let ip: std::net::Ipv6Addr = inside.parse().map_err(|_| unknown())?;
            let path = after.strip_prefix(':').ok_or_else(unknown)?;
            (ip.to_string(), path)
        } else {
            let (host, path) = rest.split_once(':').ok_or_else(unknown)?;
            if !plain_host(host) {
                return Err(unknown());
            }
            (host.to_ascii_lowercase(), path)
        };
        if path.is_empty() || path.starts_with(':') || user.is_some_and(|u| !plain_host(u)) {
            return Err(unknown());
        }
        Ok(Self {
            url: s.to_owned(),
            transport: MirrorTransport::Ssh,
            host,
            port: 22,
            normalized: None,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn transport(&self) -> MirrorTransport {
        self.transport
    }

    /// The host the connection goes to (checked against the allow list, then pinned).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The scheme `GIT_ALLOW_PROTOCOL` names for this URL (scp-like is `ssh`).
    pub fn protocol(&self) -> &'static str {
        match (&self.transport, &self.normalized) {
            (MirrorTransport::Http, Some(u)) if u.scheme() == "http" => "http",
            (MirrorTransport::Http, _) => "https",
            (MirrorTransport::GitDaemon, _) => "git",
            (MirrorTransport::Ssh, _) => "ssh",
        }
    }

    /// What git is given for a connection to `ip`, the address the allow list passed. HTTP(S)
    /// keeps its host name (TLS and virtual hosts need it; the runner pins it with
    /// `http.curloptResolve`); `git://` names the address itself, since git daemon has no
    /// resolve override; SSH keeps the URL and is pinned with ssh's `HostName`.
    pub fn for_git(&self, ip: std::net::IpAddr) -> String {
        match (&self.transport, &self.normalized) {
            (MirrorTransport::GitDaemon, Some(u)) => {
                let mut u = u.clone();
                u.set_ip_host(ip)
                    .expect("git:// URLs have a host because parse checked");
                u.set_port(Some(self.port))
                    .expect("git:// URLs take a port because they have a host");
                u.to_string()
            }
            (MirrorTransport::Http, Some(u)) => u.to_string(),
            _ => self.url.clone(),
        }
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
        ok("git.lab:alice/dns.git", MirrorTransport::Ssh);
        ok("git@[::1]:alice/dns.git", MirrorTransport::Ssh);
        ok("git://127.0.0.1:9418/dns.git", MirrorTransport::GitDaemon);
        for bad in [
            "https://alice:token@git.lab/dns.git",
            "-oProxyCommand=x",
            "ssh://host:port/x",
            "https://git.lab",
            "file:///etc",
            "/srv/git/dns.git",
            "https://git.lab/a b",
            "ext::sh -c touch% /tmp/x",
            "ext::sh",
            "fd::0",
            "fd::0,1",
            "x::y",
            "ftp://git.lab/dns.git",
            "ssh://-oProxyCommand=x/dns.git",
            "-x@host:path",
            "host:",
            "",
        ] {
            assert!(MirrorUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_and_ports_are_what_git_connects_to() {
        let hp = |s: &str| {
            let u = MirrorUrl::parse(s).unwrap();
            (u.host().to_owned(), u.port())
        };
        assert_eq!(hp("https://Git.Lab/a.git"), ("git.lab".into(), 443));
        assert_eq!(hp("http://git.lab/a.git"), ("git.lab".into(), 80));
        assert_eq!(hp("http://2130706433:3000/a"), ("127.0.0.1".into(), 3000));
        assert_eq!(hp("http://0x7f000001/a"), ("127.0.0.1".into(), 80));
        assert_eq!(hp("https://127.1/a"), ("127.0.0.1".into(), 443));
        assert_eq!(
            hp("https://[::ffff:127.0.0.1]/a"),
            ("::ffff:127.0.0.1".into(), 443)
        );
        assert_eq!(hp("git://git.lab/a.git"), ("git.lab".into(), 9418));
        assert_eq!(hp("ssh://git@git.lab:2222/a.git"), ("git.lab".into(), 2222));
        assert_eq!(hp("git@git.lab:a.git"), ("git.lab".into(), 22));
        assert_eq!(hp("git@[::1]:a.git"), ("::1".into(), 22));
        // A non-special scheme keeps the host as written; the resolver reads 2130706433.
        assert_eq!(hp("git://2130706433/a"), ("2130706433".into(), 9418));
    }

    #[test]
    fn git_is_given_the_checked_address_or_the_normalized_url() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let u = MirrorUrl::parse("git://far.lab/fw.git").unwrap();
        assert_eq!(u.for_git(ip("127.0.0.2")), "git://127.0.0.2:9418/fw.git");
        assert_eq!(u.for_git(ip("::1")), "git://[::1]:9418/fw.git");
        let u = MirrorUrl::parse("http://2130706433:3000/fw.git").unwrap();
        assert_eq!(u.for_git(ip("127.0.0.1")), "http://127.0.0.1:3000/fw.git");
        assert_eq!(u.protocol(), "http");
        let u = MirrorUrl::parse("git@far.lab:fw.git").unwrap();
        assert_eq!(u.for_git(ip("10.0.0.1")), "git@far.lab:fw.git");
        assert_eq!(u.protocol(), "ssh");
    }
}
