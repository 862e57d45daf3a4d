//! `trusted_proxies`: behind a reverse proxy every connection comes from the proxy, so the
//! password throttle and the per-address caps would count everyone as one client. Only a peer
//! in this set may say who the client is (`X-Forwarded-For`, or RFC 7239 `Forwarded` when that
//! is absent); anyone else's headers are ignored, or a client could name any address it likes.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Hops read from the right of a forwarding header at most: a chain of proxies is short, and a
/// client may send a header with thousands of entries.
pub const MAX_HOPS: usize = 16;

/// Addresses and networks whose forwarding headers are believed. Empty by default.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// As the operator writes them (`10.0.0.0/8, ::1/128`), for the admin's configuration page.
impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nets: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&nets.join(", "))
    }
}

impl TrustedProxies {
    /// `127.0.0.1, 10.0.0.0/8, ::1`: commas or spaces between, a bare address is one host.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in text.split([',', ' ']).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip.to_canonical()),
                    Err(_) => {
                        return Err(format!(
                            "trusted_proxies: {item:?} is not an address or network"
                        ));
                    }
                },
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer` itself unless it is trusted; then the right-most address
    /// of the forwarding chain that is not a trusted proxy (the left part is the client's own
    /// say and could be anything). A header that cannot be read leaves `peer`.
    pub fn client(
        &self,
        peer: IpAddr,
        forwarded_for: Option<&str>,
        forwarded: Option<&str>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = match (forwarded_for, forwarded) {
            (Some(xff), _) => xff.rsplit(',').take(MAX_HOPS).collect(),
            (None, Some(fwd)) => fwd
                .rsplit(',')
                .take(MAX_HOPS)
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.trim().split_once('='))
                        .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                        .map_or("", |(_, v)| v)
                })
                .collect(),
            (None, None) => return peer,
        };
        let mut client = peer;
        for hop in hops {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One hop: `1.2.3.4`, `"[2001:db8::1]:4711"`, `1.2.3.4:80`; `unknown` and names are None.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse::<IpAddr>().ok();
    }
    let (host, _port) = hop.rsplit_once(':')?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(ToString::to_string))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_networks_and_refuses_nonsense() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8 ::1").unwrap();
        assert!(t.trusts(ip("127.0.0.1")) && t.trusts(ip("10.9.8.7")) && t.trusts(ip("::1")));
        assert!(
            t.trusts(ip("::ffff:10.1.1.1")),
            "IPv4-mapped IPv6 is the IPv4 address"
        );
        assert!(!t.trusts(ip("192.168.1.1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("proxy.lan").is_err());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn headers_count_only_from_a_trusted_peer() {
        let t = TrustedProxies::parse("10.0.0.1").unwrap();
        let stranger = ip("203.0.113.9");
        assert_eq!(t.client(stranger, Some("1.2.3.4"), None), stranger);
        assert_eq!(
            t.client(ip("10.0.0.1"), Some("198.51.100.7"), None),
            ip("198.51.100.7")
        );
        assert_eq!(t.client(ip("10.0.0.1"), None, None), ip("10.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_not_what_the_client_wrote() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client prepended a lie; the proxies appended the truth.
        let chain = "6.6.6.6, 198.51.100.7, 10.0.0.2";
        assert_eq!(
            t.client(ip("10.0.0.1"), Some(chain), None),
            ip("198.51.100.7")
        );
        // An unreadable hop stops the walk at the last address known.
        assert_eq!(
            t.client(ip("10.0.0.1"), Some("junk, 10.0.0.2"), None),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn forwarded_is_read_when_x_forwarded_for_is_absent() {
        let t = TrustedProxies::parse("10.0.0.1").unwrap();
        let peer = ip("10.0.0.1");
        let fwd = "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https";
        assert_eq!(t.client(peer, None, Some(fwd)), ip("2001:db8::7"));
        assert_eq!(
            t.client(peer, None, Some("for=198.51.100.7:80")),
            ip("198.51.100.7")
        );
        assert_eq!(t.client(peer, None, Some("for=unknown")), peer);
    }

    #[test]
    fn a_long_chain_is_read_only_max_hops_deep() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let mut hops: Vec<String> = vec!["198.51.100.7".into()];
        hops.extend((0..MAX_HOPS).map(|i| format!("10.0.0.{i}")));
        let chain = hops.join(",");
        // Every hop read was a trusted proxy: the deepest one read is the answer.
        assert_eq!(
            t.client(ip("10.0.0.1"), Some(&chain), None),
            ip(&format!("10.0.0.{}", 0))
        );
        hops.remove(1);
        let chain = hops.join(",");
        assert_eq!(
            t.client(ip("10.0.0.1"), Some(&chain), None),
            ip("198.51.100.7")
        );
    }
}
