//! Where webhooks may go, in Gitea's words: `loopback`, `private`, `external`, `*`, CIDRs and host
//! globs, comma-separated. Checked against the addresses a name resolves to, on every attempt, so
//! a name that later points at 127.0.0.1 or a cloud metadata address is refused then.
//!
//! The classes (an address belongs to at most one):
//! - `loopback`: 127.0.0.0/8, ::1.
//! - `private`: RFC 1918 (10/8, 172.16/12, 192.168/16), unique-local fc00::/7, and the shared
//!   address space 100.64.0.0/10 (carrier-grade NAT, and the range Tailscale hands out: in a homelab
//!   it is as private as 192.168).
//! - `external`: global unicast that is none of the above and not link-local, unspecified,
//!   multicast or broadcast.
//!
//! Link-local (169.254.0.0/16, fe80::/10) is in no class: cloud metadata services live there, so
//! only `*` or an explicit CIDR reaches it. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is
//! judged as the IPv4 address it carries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Any,
    Loopback,
    Private,
    External,
    Net(IpNet),
    /// A glob on the host name as written in the URL (lowercase).
    Host(glob::Pattern),
}

/// The words `allowed_hosts` knows, as error messages list them.
pub const WORDS: &str = "loopback, private, external and *";

/// A parsed `allowed_hosts` value.
#[derive(Clone, PartialEq, Eq)]
pub struct HostAllowList {
    rules: Vec<Rule>,
    text: String,
}

impl fmt::Debug for HostAllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostAllowList({:?})", self.text)
    }
}

impl fmt::Display for HostAllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Default for HostAllowList {
    /// Gitea's default for webhooks: anything but loopback and link-local.
    fn default() -> Self {
        Self::parse("private,external").expect("the default list parses")
    }
}

impl HostAllowList {
    /// Parses `private,external`, `loopback, 10.0.0.0/8, *.lab.example`, `*`, ... An empty list
    /// allows nothing; an entry that is neither a word, a CIDR, an address nor a valid glob is
    /// an error that names it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let lower = entry.to_ascii_lowercase();
            let rule = match lower.as_str() {
                "*" => Rule::Any,
                "loopback" => Rule::Loopback,
                "private" => Rule::Private,
                "external" => Rule::External,
                _ => {
                    if let Ok(net) = lower.parse::<IpNet>() {
                        Rule::Net(canonical_net(net))
                    } else if let Ok(ip) = lower.parse::<IpAddr>() {
                        Rule::Net(canonical_net(IpNet::from(ip)))
                    } else if !lower.contains(['.', '*', '?', '[']) {
                        // A bare word is meant as one of the words: `loopbak` is a typo, not the
                        // host named loopbak (a one-label host is reached by its address).
                        return Err(format!(
                            "allowed_hosts: '{entry}' is not a known word; the words are {WORDS}, \
                             besides CIDRs (10.0.0.0/8), addresses and host names with a dot or a \
                             glob (*.lab.example)"
                        ));
                    } else if lower
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.*?[]!_".contains(c))
                    {
                        Rule::Host(glob::Pattern::new(&lower).map_err(|e| {
                            format!("allowed_hosts: '{entry}' is not a valid host glob: {e}")
                        })?)
                    } else {
                        return Err(format!(
                            "allowed_hosts: '{entry}' is not loopback, private, external, *, a CIDR or a host glob"
                        ));
                    }
                }
            };
            rules.push(rule);
        }
        Ok(Self {
            rules,
            text: s.trim().to_owned(),
        })
    }

    /// Whether the list allows host name `host` (as in the URL), which resolved to `ip`.
    pub fn allows(&self, host: &str, ip: IpAddr) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let ip = ip.to_canonical();
        let class = classify(ip);
        self.rules.iter().any(|rule| match rule {
            Rule::Any => true,
            Rule::Loopback => class == Some(Class::Loopback),
            Rule::Private => class == Some(Class::Private),
            Rule::External => class == Some(Class::External),
            Rule::Net(net) => net.contains(&ip),
            Rule::Host(glob) => glob.matches(&host),
        })
    }
}

/// The entry that would let `ip` through, for messages: its class word, or the address itself
/// for one in no class (link-local: cloud metadata lives there, so never a word).
pub fn entry_allowing(ip: IpAddr) -> String {
    match classify(ip) {
        Some(Class::Loopback) => "loopback".to_owned(),
        Some(Class::Private) => "private".to_owned(),
        Some(Class::External) => "external".to_owned(),
        None => ip.to_canonical().to_string(),
    }
}

/// `::ffff:10.0.0.0/104` is written as 10.0.0.0/8, so it matches the canonical addresses.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => {
                IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).expect("prefix 0..=32")
            }
            _ => net,
        },
        IpNet::V4(_) => net,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Loopback,
    Private,
    External,
}

/// The class of an address, or None for link-local, unspecified, multicast and broadcast.
fn classify(ip: IpAddr) -> Option<Class> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(Class::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Class::Private)
    } else if ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
    {
        None
    } else {
        Some(Class::External)
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(Class::Loopback)
    } else if first & 0xfe00 == 0xfc00 {
        Some(Class::Private)
    } else if first & 0xffc0 == 0xfe80 || ip.is_unspecified() || ip.is_multicast() {
        None
    } else {
        Some(Class::External)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(list: &str, host: &str, ip: &str) -> bool {
        HostAllowList::parse(list)
            .unwrap()
            .allows(host, ip.parse().unwrap())
    }

    #[test]
    fn loopback_word() {
        assert!(allows("loopback", "localhost", "127.0.0.1"));
        assert!(allows("loopback", "x", "127.8.9.10"));
        assert!(allows("loopback", "x", "::1"));
        assert!(!allows("loopback", "x", "10.0.0.1"));
        assert!(!allows("loopback", "x", "93.184.216.34"));
    }

    #[test]
    fn private_word() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "fd00::1",
            "fc00::1",
        ] {
            assert!(allows("private", "x", ip), "{ip}");
        }
        for ip in ["127.0.0.1", "172.32.0.1", "100.128.0.1", "8.8.8.8", "::1"] {
            assert!(!allows("private", "x", ip), "{ip}");
        }
    }

    #[test]
    fn external_word() {
        for ip in ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888"] {
            assert!(allows("external", "x", ip), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fd00::1",
            "ff02::1",
        ] {
            assert!(!allows("external", "x", ip), "{ip}");
        }
    }

    #[test]
    fn link_local_only_by_star_or_cidr() {
        for ip in ["169.254.169.254", "fe80::1"] {
            assert!(!allows("private,external,loopback", "x", ip), "{ip}");
            assert!(allows("*", "x", ip), "{ip}");
        }
        assert!(allows("169.254.0.0/16", "x", "169.254.169.254"));
        assert!(allows("fe80::/10", "x", "fe80::1"));
    }

    #[test]
    fn the_default_is_private_and_external() {
        let list = HostAllowList::default();
        assert_eq!(list.to_string(), "private,external");
        assert!(list.allows("x", "192.168.1.1".parse().unwrap()));
        assert!(list.allows("x", "8.8.8.8".parse().unwrap()));
        assert!(!list.allows("x", "127.0.0.1".parse().unwrap()));
        assert!(!list.allows("x", "169.254.169.254".parse().unwrap()));
    }

    #[test]
    fn cidrs_v4_and_v6_and_single_addresses() {
        assert!(allows("10.0.0.0/8", "x", "10.200.0.1"));
        assert!(!allows("10.0.0.0/8", "x", "11.0.0.1"));
        assert!(allows("2001:db8::/32", "x", "2001:db8:1::5"));
        assert!(!allows("2001:db8::/32", "x", "2001:db9::5"));
        assert!(allows("192.168.1.10", "x", "192.168.1.10"));
        assert!(!allows("192.168.1.10", "x", "192.168.1.11"));
        assert!(allows("::ffff:10.0.0.0/104", "x", "10.1.1.1"));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_judged_as_ipv4() {
        assert!(!allows("private,external", "x", "::ffff:127.0.0.1"));
        assert!(!allows("external", "x", "::ffff:169.254.169.254"));
        assert!(allows("loopback", "x", "::ffff:127.0.0.1"));
        assert!(allows("10.0.0.0/8", "x", "::ffff:10.9.9.9"));
        assert!(allows("private", "x", "::ffff:192.168.0.1"));
    }

    #[test]
    fn host_globs_match_the_name_case_insensitively() {
        assert!(allows("*.lab.example", "ci.lab.example", "127.0.0.1"));
        assert!(allows("*.lab.example", "CI.Lab.Example", "10.0.0.1"));
        assert!(!allows("*.lab.example", "lab.example", "10.0.0.1"));
        assert!(!allows("*.lab.example", "evil.example", "10.0.0.1"));
        assert!(allows("hooks.lab", "hooks.lab", "169.254.1.1"));
    }

    #[test]
    fn words_combine_and_spaces_are_ignored() {
        let list = " loopback , 10.0.0.0/8 ,*.lab ";
        assert!(allows(list, "x", "127.0.0.1"));
        assert!(allows(list, "x", "10.0.0.9"));
        assert!(allows(list, "a.lab", "8.8.8.8"));
        assert!(!allows(list, "x", "8.8.8.8"));
        assert!(!allows("", "x", "8.8.8.8"));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(HostAllowList::parse("privat e").is_err());
        assert!(HostAllowList::parse("10.0.0.0/33").is_err());
        assert!(HostAllowList::parse("http://x").is_err());
        assert!(HostAllowList::parse("[a").is_err());
    }

    #[test]
    fn the_entry_that_would_allow_an_address() {
        for (ip, entry) in [
            ("127.0.0.1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("192.168.1.5", "private"),
            ("8.8.8.8", "external"),
            ("169.254.169.254", "169.254.169.254"),
        ] {
            assert_eq!(entry_allowing(ip.parse().unwrap()), entry, "{ip}");
        }
    }

    #[test]
    fn a_misspelt_word_is_named_with_the_valid_ones() {
        let err = HostAllowList::parse("loopbak,private").unwrap_err();
        assert!(err.contains("'loopbak'"), "{err}");
        assert!(err.contains("loopback, private, external and *"), "{err}");
        assert!(HostAllowList::parse("Private, LOOPBACK").is_ok());
        assert!(HostAllowList::parse("nas.lan, *.lab").is_ok());
    }
}
