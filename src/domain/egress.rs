//! The one check for every connection labforge makes on a user's behalf: webhooks, push and pull
//! mirrors, imports, and anything later. A host is resolved here, once; only the addresses its
//! allow list passes are returned, and the caller connects to exactly those (reqwest through its
//! resolver, git through a pinned address: `http.curloptResolve`, ssh's `HostName`, or the
//! address itself in a `git://` URL). A DNS server that answers differently the second time
//! (rebinding) is never asked a second time. The check runs when a target is saved, so an admin
//! learns at once, and again before every connection, so a name that later points at 127.0.0.1
//! or a metadata address is refused then.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;
use std::time::Duration;

use crate::model::HostAllowList;
use crate::model::allow_list::entry_allowing;

/// Upper bound on one name lookup.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which setting governs a connection (and is named in refusals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    Webhook,
    /// Push mirrors, pull mirrors and imports.
    Mirror,
}

impl Outbound {
    fn section(self) -> &'static str {
        match self {
            Outbound::Webhook => "webhook",
            Outbound::Mirror => "mirror",
        }
    }

    fn env(self) -> &'static str {
        match self {
            Outbound::Webhook => "LABFORGE_WEBHOOK_ALLOWED_HOSTS",
            Outbound::Mirror => "LABFORGE_MIRROR_ALLOWED_HOSTS",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Outbound::Webhook => "webhooks",
            Outbound::Mirror => "mirrors and imports",
        }
    }
}

/// Why a host may not be reached now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It resolved, and the allow list passes none of its addresses.
    NotAllowed {
        host: String,
        addresses: Vec<IpAddr>,
        /// For the connection-time message.
        message: String,
    },
    /// It does not resolve (or not in time).
    Unresolved(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotAllowed { message, .. } => f.write_str(message),
            Refusal::Unresolved(host) => write!(f, "{host} does not resolve"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The allow lists and the resolver every outbound connection goes through.
pub struct Egress {
    /// Replaced by a reload (SIGHUP); each check reads it once.
    webhook: RwLock<HostAllowList>,
    mirror: HostAllowList,
    /// Names answered here instead of by the system resolver: a seam for tests, which must
    /// show that git connects to the address this check saw even when the system would
    /// resolve the name elsewhere (a rebinding DNS server). Empty outside tests.
    answers: RwLock<HashMap<String, Vec<IpAddr>>>,
}

impl Egress {
    pub fn new(webhook: HostAllowList, mirror: HostAllowList) -> Self {
        Self {
            webhook: RwLock::new(webhook),
            mirror,
            answers: RwLock::default(),
        }
    }

    pub fn allow_list(&self, outbound: Outbound) -> HostAllowList {
        match outbound {
            Outbound::Webhook => self.webhook.read().expect("never poisoned").clone(),
            Outbound::Mirror => self.mirror.clone(),
        }
    }

    /// Webhooks are checked against `list` from now on (a reload).
    pub fn set_webhook_allow_list(&self, list: HostAllowList) {
        *self.webhook.write().expect("never poisoned") = list;
    }

    /// From now on this check resolves `name` to `addresses` (an empty list: the system's
    /// answer again). For tests; git itself is never told, so it connects where this says
    /// only through the pinning.
    #[doc(hidden)]
    pub fn answer_name(&self, name: &str, addresses: Vec<IpAddr>) {
        let mut answers = self.answers.write().expect("never poisoned");
        if addresses.is_empty() {
            answers.remove(&name.to_ascii_lowercase());
        } else {
            answers.insert(name.to_ascii_lowercase(), addresses);
        }
    }

    /// `host`'s addresses: an IP literal as is, a name from the resolver (which also reads
    /// `2130706433`, `0x7f000001`, `127.1` and `0` as the addresses they are).
    async fn lookup(&self, host: &str, port: u16) -> Option<Vec<IpAddr>> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(vec![ip]);
        }
        if let Some(found) = self
            .answers
            .read()
            .expect("never poisoned")
            .get(&bare.to_ascii_lowercase())
        {
            return Some(found.clone());
        }
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port))).await {
            Ok(Ok(found)) => {
                let mut ips: Vec<IpAddr> = found.map(|a| a.ip()).collect();
                ips.dedup();
                Some(ips)
            }
            _ => None,
        }
    }

    /// The one check: `host`'s addresses that `outbound`'s allow list passes, in the
    /// resolver's order; the caller connects to these and no other. Refused when none passes.
    pub async fn allowed_addresses(
        &self,
        outbound: Outbound,
        host: &str,
        port: u16,
    ) -> Result<Vec<IpAddr>, Refusal> {
        let found = self
            .lookup(host, port)
            .await
            .filter(|f| !f.is_empty())
            .ok_or_else(|| Refusal::Unresolved(host.to_owned()))?;
        let allow = self.allow_list(outbound);
        let own = own_addresses();
        let allowed: Vec<IpAddr> = found
            .iter()
            .copied()
            .filter(|ip| allow.allows_with(host, *ip, &own))
            .collect();
        if allowed.is_empty() {
            let list: Vec<String> = found.iter().map(ToString::to_string).collect();
            return Err(Refusal::NotAllowed {
                host: host.to_owned(),
                message: format!(
                    "refused: {host} resolves to {}, which {} allowed_hosts ({allow}) does not allow",
                    list.join(", "),
                    outbound.section()
                ),
                addresses: found,
            });
        }
        Ok(allowed)
    }

    /// The save-time check: a target the allow list refuses now is refused with the setting
    /// that would allow it, so an admin learns it at once rather than at the first sync. A
    /// name that does not resolve yet is accepted: every connection checks it again.
    pub async fn check_target(
        &self,
        outbound: Outbound,
        host: &str,
        port: u16,
    ) -> Result<(), String> {
        match self.allowed_addresses(outbound, host, port).await {
            Ok(_) => Ok(()),
            Err(Refusal::Unresolved(_)) => {
                tracing::info!(
                    host,
                    "target does not resolve now; it is checked at each connection"
                );
                Ok(())
            }
            Err(Refusal::NotAllowed {
                host, addresses, ..
            }) => {
                let shown: Vec<String> = addresses
                    .iter()
                    .map(|ip| ip.to_canonical().to_string())
                    .collect();
                let mut entries: Vec<String> =
                    addresses.iter().map(|ip| entry_allowing(*ip)).collect();
                entries.dedup();
                Err(format!(
                    "{} may not go to {host} ({}): the instance setting [{}] allowed_hosts ({}) \
                     is \"{}\"; the operator can allow it by adding {}",
                    outbound.what(),
                    shown.join(", "),
                    outbound.section(),
                    outbound.env(),
                    self.allow_list(outbound),
                    entries.join(" or ")
                ))
            }
        }
    }
}

/// This machine's interface addresses, read at every check (DHCP may change them): a target at
/// the forge's own LAN address reaches what 127.0.0.1 does, so it counts as `loopback`.
fn own_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    interfaces
        .filter_map(|i| i.address)
        .filter_map(|a| {
            a.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn egress(mirror: &str) -> Egress {
        Egress::new(
            HostAllowList::default(),
            HostAllowList::parse(mirror).unwrap(),
        )
    }

    #[tokio::test]
    async fn every_spelling_of_loopback_is_refused_by_the_default_list() {
        let e = egress("private,external");
        for host in [
            "127.0.0.1",
            "2130706433",
            "0x7f000001",
            "127.1",
            "0",
            "localhost",
            "::ffff:127.0.0.1",
            "[::1]",
        ] {
            let got = e.allowed_addresses(Outbound::Mirror, host, 80).await;
            assert!(
                matches!(got, Err(Refusal::NotAllowed { .. })),
                "{host}: {got:?}"
            );
        }
    }

    #[tokio::test]
    async fn answered_names_are_checked_and_returned_as_answered() {
        let e = egress("127.0.0.2/32");
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        e.answer_name("Far.Test", vec![ip]);
        assert_eq!(
            e.allowed_addresses(Outbound::Mirror, "far.test", 80).await,
            Ok(vec![ip])
        );
        e.answer_name("far.test", vec!["127.0.0.1".parse().unwrap()]);
        let refused = e.allowed_addresses(Outbound::Mirror, "far.test", 80).await;
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("mirror allowed_hosts (127.0.0.2/32) does not allow")
        );
        let message = e
            .check_target(Outbound::Mirror, "far.test", 80)
            .await
            .unwrap_err();
        assert!(
            message.contains("[mirror] allowed_hosts (LABFORGE_MIRROR_ALLOWED_HOSTS)"),
            "{message}"
        );
        assert!(message.contains("adding loopback"), "{message}");
        assert_eq!(
            e.check_target(Outbound::Mirror, "does-not-resolve.invalid", 80)
                .await,
            Ok(()),
            "checked again at each connection"
        );
    }
}
