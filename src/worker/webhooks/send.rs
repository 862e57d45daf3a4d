//! One delivery attempt over HTTP(S), with the target checked against `allowed_hosts` after DNS
//! resolution (the one check, `domain::egress`) and the connection made to exactly the checked
//! addresses.
//!
//! reqwest (HTTP/1.1, rustls on ring with the system's CA store) is given a resolver that does
//! the one lookup, keeps only the allowed addresses and hands those to the connector: there is no
//! second lookup a rebinding DNS server could answer differently. Connections are not pooled,
//! so every attempt resolves and checks anew. URLs with an IP literal never reach a resolver and
//! are checked before the request. Redirects are not followed; proxies from the environment are
//! not used.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::sign;
use crate::domain::egress::{Egress, Outbound, Refusal};
use crate::domain::webhooks::{AttemptOutcome, ClaimedDelivery};
use crate::model::ContentType;

/// Response bodies are kept up to this many bytes.
const BODY_HEAD: usize = 4096;

/// Why a target was refused; found again in reqwest's error chain to report it plainly.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Refused {}

/// reqwest's resolver: the one check (`domain::egress`), whose allowed addresses are the only
/// ones reqwest connects to.
struct CheckedResolver {
    egress: Arc<Egress>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = Arc::clone(&self.egress);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            match egress.allowed_addresses(Outbound::Webhook, &host, 0).await {
                Ok(ips) => Ok(Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0))) as Addrs),
                Err(Refusal::Unresolved(h)) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{h} does not resolve"),
                ))
                    as Box<dyn StdError + Send + Sync>),
                Err(refusal) => {
                    Err(Box::new(Refused(refusal.to_string())) as Box<dyn StdError + Send + Sync>)
                }
            }
        })
    }
}

pub struct Sender {
    client: reqwest::Client,
    egress: Arc<Egress>,
    timeout: Duration,
}

impl Sender {
    pub fn new(egress: Arc<Egress>, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver {
                egress: Arc::clone(&egress),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            client,
            egress,
            timeout,
        })
    }

    /// The bound this client was built with.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends the delivery once and reports what happened; never fails, the outcome says.
    pub async fn send(&self, d: &ClaimedDelivery) -> AttemptOutcome {
        let started = Instant::now();
        let (body, content_type) = match d.content_type {
            ContentType::Json => (d.payload.clone().into_bytes(), "application/json"),
            ContentType::Form => (
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("payload", &d.payload)
                    .finish()
                    .into_bytes(),
                "application/x-www-form-urlencoded",
            ),
        };
        let headers = request_headers(d, content_type, &body);
        let mut outcome = AttemptOutcome {
            request_headers: headers.clone(),
            ..AttemptOutcome::default()
        };
        if let Err(refused) = self.check_literal(&d.url).await {
            outcome.error = Some(refused.0);
            outcome.refused = true;
            outcome.duration = started.elapsed();
            return outcome;
        }
        let mut request = self.client.post(&d.url).body(body);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        // The client's timeout covers it all: resolving, connecting, sending, the body read.
        let result = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut head = Vec::new();
            while head.len() < BODY_HEAD {
                match response.chunk().await? {
                    Some(chunk) => head.extend_from_slice(&chunk),
                    None => break,
                }
            }
            Ok::<_, reqwest::Error>((status, headers, head))
        }
        .await;
        outcome.duration = started.elapsed();
        match result {
            Ok((status, headers, mut head)) => {
                head.truncate(BODY_HEAD);
                outcome.status = Some(status);
                outcome.response_headers = headers;
                outcome.body_head = String::from_utf8_lossy(&head).into_owned();
            }
            Err(e) => {
                outcome.refused = is_refusal(&e);
                outcome.error = Some(describe(&e, self.timeout));
            }
        }
        outcome
    }

    /// An IP literal in the URL is checked here, since no resolver sees it.
    async fn check_literal(&self, raw: &str) -> Result<(), Refused> {
        let url = url::Url::parse(raw).map_err(|e| Refused(format!("bad URL: {e}")))?;
        let literal = match url.host() {
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
            Some(url::Host::Domain(_)) => false,
            None => return Err(Refused("the URL has no host".into())),
        };
        if !literal {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default();
        self.egress
            .allowed_addresses(Outbound::Webhook, host, 0)
            .await
            .map(|_| ())
            .map_err(|r| Refused(r.to_string()))
    }
}

fn request_headers(d: &ClaimedDelivery, content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = vec![
        ("Content-Type".into(), content_type.into()),
        (
            "User-Agent".into(),
            concat!("labforge/", env!("CARGO_PKG_VERSION")).into(),
        ),
        ("X-GitHub-Event".into(), d.event.clone()),
        ("X-Gitea-Event".into(), d.event.clone()),
        ("X-Gitea-Event-Type".into(), d.event.clone()),
        ("X-GitHub-Delivery".into(), d.guid.clone()),
        ("X-Gitea-Delivery".into(), d.guid.clone()),
        ("X-GitHub-Hook-ID".into(), d.hook_id.to_string()),
        ("webhook-id".into(), d.guid.clone()),
    ];
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    h.push(("webhook-timestamp".into(), timestamp.to_string()));
    if !d.secret.is_empty() {
        let sig = sign::body_signature(&d.secret, body);
        h.push(("X-Hub-Signature-256".into(), format!("sha256={sig}")));
        h.push(("X-Gitea-Signature".into(), sig));
        h.push((
            "webhook-signature".into(),
            sign::standard_signature(&d.secret, &d.guid, timestamp, body),
        ));
    }
    h
}

/// Whether the allow list refused the target (found in reqwest's error chain).
fn is_refusal(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<Refused>().is_some() {
            return true;
        }
        source = s.source();
    }
    false
}

/// reqwest's error with its causes, or just our refusal when that is what it was.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    let mut causes = Vec::new();
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return refused.0.clone();
        }
        causes.push(s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs());
    }
    causes.dedup();
    causes.join(": ")
}
