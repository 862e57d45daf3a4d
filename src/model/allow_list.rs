//! Where webhooks may go, in Gitea's words: `loopback`, `private`, `external`, `*`, CIDRs and host
//! globs, comma-separated. Checked against the addresses a name resolves to, on every attempt, so
//! a name that later points at 127.0.0.1 or a cloud metadata address is refused then.
//!
//! The classes (an address belongs to at most one):
//! - `loopback`: 127.0.0.0/8, ::1, and the forge's own interface addresses (a webhook to the
//!   machine's LAN address reaches the same services as one to 127.0.0.1).
//! - `private`: RFC 1918 (10/8, 172.16/12, 192.168/16), unique-local fc00::/7, and the shared
//!   address space 100.64.0.0/10 (carrier-grade NAT, and the range Tailscale hands out: in a homelab
//!   it is as private as 192.168).
//! - `external`: global unicast that is none of the above and not link-local, unspecified,
//!   multicast, broadcast, reserved (0/8, 240/4, benchmarking 198.18/15, IETF 192.0.0/24) or
//!   documentation (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32).
//!
//! Link-local (169.254.0.0/16, fe80::/10) is in no class: cloud metadata services live there, so
//! only `*` or an explicit CIDR reaches it. An IPv6 address that carries an IPv4 address is judged
//! as that IPv4 address, by classes and CIDRs alike: IPv4-mapped (`::ffff:a.b.c.d`),
//! IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002::/16`)
//! and Teredo (`2001::/32`, the client's address).

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
        self.allows_with(host, ip, &[])
    }

    /// `allows`, with `own` the forge's own interface addresses (they count as `loopback`).
    pub fn allows_with(&self, host: &str, ip: IpAddr, own: &[IpAddr]) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let ip = effective_address(ip);
        let class = if own.iter().any(|o| effective_address(*o) == ip) {
            Some(Class::Loopback)
        } else {
            classify(ip)
        };
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
        None => effective_address(ip).to_string(),
    }
}

/// The address packets to `ip` really reach: the IPv4 address an IPv6 one carries, else itself.
pub fn effective_address(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let s = v6.segments();
    let o = v6.octets();
    let v4 = |b: [u8; 4]| IpAddr::V4(Ipv4Addr::from(b));
    if let Some(mapped) = v6.to_ipv4_mapped() {
        IpAddr::V4(mapped)
    } else if (s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1))
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
    {
        // IPv4-compatible (not :: or ::1); NAT64, well-known and local-use prefixes
        v4([o[12], o[13], o[14], o[15]])
    } else if s[0] == 0x2002 {
        v4([o[2], o[3], o[4], o[5]]) // 6to4
    } else if s[0] == 0x2001 && s[1] == 0 {
        v4([!o[12], !o[13], !o[14], !o[15]]) // Teredo: the client's address, inverted
    } else {
        ip
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
    match effective_address(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let [a, b, c, _] = ip.octets();
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    let reserved = a == 0 || a >= 240 || (a == 198 && (b & 0xfe) == 18) || (a, b, c) == (192, 0, 0);
    if ip.is_loopback() {
        Some(Class::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Class::Private)
    } else if ip.is_link_local() || ip.is_multicast() || documentation || reserved {
        None
    } else {
        Some(Class::External)
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    let [first, second, ..] = ip.segments();
    if ip.is_loopback() {
        Some(Class::Loopback)
    } else if first & 0xfe00 == 0xfc00 {
        Some(Class::Private)
    } else if first & 0xffc0 == 0xfe80
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first, second) == (0x2001, 0x0db8)
        || first & 0xe000 != 0x2000
    {
        None // link-local, documentation, and anything outside global unicast 2000::/3
    } else {
        Some(Class::External)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn documentation_and_reserved_ranges_are_in_no_class() {
        for ip in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "0.1.2.3",
            "240.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "192.0.0.8",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(!allows("private,external,loopback", "x", ip), "{ip}");
        }
        assert!(allows("external", "x", "198.20.0.1"));
        assert!(
            allows("192.0.2.0/24", "x", "192.0.2.1"),
            "a CIDR still reaches it"
        );
    }

    #[test]
    fn ipv6_that_carries_ipv4_is_judged_as_that_ipv4() {
        for (ip, carried) in [
            ("::127.0.0.1", "127.0.0.1"),
            ("::10.1.2.3", "10.1.2.3"),
            ("64:ff9b::7f00:1", "127.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
            ("64:ff9b:1::c0a8:1", "192.168.0.1"),
            ("2002:7f00:1::1", "127.0.0.1"),
            ("2002:a00:1::", "10.0.0.1"),
            // Teredo: server 65.54.227.120, client 127.0.0.1 stored inverted (80ff:fffe).
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(
                effective_address(ip),
                carried.parse::<IpAddr>().unwrap(),
                "{ip}"
            );
            for list in ["loopback", "private", "external", "10.0.0.0/8"] {
                assert_eq!(
                    allows(list, "x", &ip.to_string()),
                    allows(list, "x", carried),
                    "{ip} under {list}"
                );
            }
        }
        assert!(!allows("external", "x", "64:ff9b::7f00:1"));
        assert!(
            allows("external", "x", "2002:808:808::1"),
            "6to4 of 8.8.8.8"
        );
        assert!(allows("loopback", "x", "::1"));
        assert!(!allows("external", "x", "::"));
    }

    #[test]
    fn the_forges_own_addresses_count_as_loopback() {
        let list = HostAllowList::parse("private,external").unwrap();
        let own: Vec<IpAddr> = vec![
            "192.168.1.5".parse().unwrap(),
            "2001:4860::5".parse().unwrap(),
        ];
        assert!(!list.allows_with("x", "192.168.1.5".parse().unwrap(), &own));
        assert!(!list.allows_with("x", "::ffff:192.168.1.5".parse().unwrap(), &own));
        assert!(!list.allows_with("x", "2001:4860::5".parse().unwrap(), &own));
        assert!(list.allows_with("x", "192.168.1.6".parse().unwrap(), &own));
        let loopback = HostAllowList::parse("loopback").unwrap();
        assert!(loopback.allows_with("x", "192.168.1.5".parse().unwrap(), &own));
    }

    proptest! {
        #![proptest_config(crate::fuzz::config())]
        /// Any text parses or is refused without panicking; whatever parses decides any address.
        #[test]
        fn any_list_text_parses_or_is_refused(text in "[ -~]{0,60}", raw in proptest::num::u128::ANY) {
            let ip = IpAddr::V6(Ipv6Addr::from(raw));
            if let Ok(list) = HostAllowList::parse(&text) {
                let _ = list.allows("host.example", ip);
            }
        }

        /// An address is in at most one class, and the same as the address it carries.
        #[test]
        fn classes_follow_the_carried_address(raw in proptest::num::u128::ANY, v4 in proptest::num::u32::ANY) {
            for ip in [IpAddr::V6(Ipv6Addr::from(raw)), IpAddr::V4(Ipv4Addr::from(v4))] {
                let effective = effective_address(ip);
                prop_assert_eq!(classify(ip), classify(effective));
                prop_assert_eq!(effective_address(effective), effective);
                let words = ["loopback", "private", "external"];
                let hits = words.iter().filter(|w| allows(w, "x", &ip.to_string())).count();
                prop_assert!(hits <= 1);
            }
        }
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
