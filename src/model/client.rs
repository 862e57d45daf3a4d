//! Where a request came from, as authentication and its throttle and log see it.

use std::fmt;
use std::net::IpAddr;

/// The way in; named in the log line fail2ban reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Web,
    HttpGit,
    Api,
    Ssh,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Web => "web",
            Transport::HttpGit => "http-git",
            Transport::Api => "api",
            Transport::Ssh => "ssh",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The remote address (None when unknown, e.g. a unix socket) and the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub addr: Option<IpAddr>,
    pub transport: Transport,
}

impl Client {
    pub fn new(addr: impl Into<Option<IpAddr>>, transport: Transport) -> Self {
        Self {
            addr: addr.into().map(|a| a.to_canonical()),
            transport,
        }
    }
}

/// The network an address belongs to, as limits count it: an IPv4 address alone, an IPv6
/// address by its /64 (one customer's subnet; anyone there has 2^64 addresses to rotate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrPrefix(IpAddr);

impl AddrPrefix {
    pub fn of(ip: IpAddr) -> Self {
        Self::masked(ip, 32, 64)
    }

    /// A wider net: IPv4 /24, IPv6 /48 (a site), for limits that catch rotation within one.
    pub fn wide(ip: IpAddr) -> Self {
        Self::masked(ip, 24, 48)
    }

    fn masked(ip: IpAddr, v4_bits: u32, v6_bits: u32) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - v4_bits).unwrap_or(0);
                AddrPrefix(IpAddr::V4((u32::from(v4) & mask).into()))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - v6_bits).unwrap_or(0);
                AddrPrefix(IpAddr::V6((u128::from(v6) & mask).into()))
            }
        }
    }
}

impl fmt::Display for AddrPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_group_ipv6_by_64_and_keep_ipv4_whole() {
        let p = |s: &str| AddrPrefix::of(s.parse().unwrap());
        assert_eq!(p("2001:db8:1:2::1"), p("2001:db8:1:2:ffff::9"));
        assert_ne!(p("2001:db8:1:2::1"), p("2001:db8:1:3::1"));
        assert_ne!(p("192.0.2.1"), p("192.0.2.2"));
        assert_eq!(p("::ffff:192.0.2.1"), p("192.0.2.1"));
        let w = |s: &str| AddrPrefix::wide(s.parse().unwrap());
        assert_eq!(w("192.0.2.1"), w("192.0.2.200"));
        assert_eq!(w("2001:db8:1:2::1"), w("2001:db8:1:ff::1"));
        assert_eq!(p("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }
}
