//! The HTTP accept loop. axum's own `serve` has no header-read timeout and no connection caps
//! (21,000 idle sockets once exhausted the process's file descriptors), so connections are
//! served here with hyper's HTTP/1 builder directly: hyper's `header_read_timeout` (which also
//! runs while a kept-alive connection waits for its next request, so it ends idle connections
//! too), a global cap and a cap per address prefix (IPv4 address, IPv6 /64), checked before any
//! work, so a flood costs one accept and one close per socket. URLs longer than 8 KiB are
//! answered 414 before routing. Here too each request gets its id (`X-Request-Id`), its client
//! address (from a trusted proxy's `X-Forwarded-For`) and its line in the metrics. hyper-util's `auto` builder would add HTTP/2, which nothing here
//! serves; a tower timeout layer could not see a client that never finishes its headers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::middleware::Next;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn_limit::{PerAddressLimit, RareWarning};
use crate::metrics::{Metrics, RequestId, request_id};
use crate::model::TrustedProxies;

/// The longest request target (path and query) answered; longer ones get 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub header_timeout: Duration,
    /// Their connections skip the per-address cap (one proxy is many clients), and their
    /// `X-Forwarded-For` and `X-Request-Id` are believed.
    pub trusted_proxies: Arc<TrustedProxies>,
    pub metrics: Arc<Metrics>,
}

static TOO_MANY: RareWarning = RareWarning::new("http connection refused: too many connections");
static TOO_MANY_FROM_ADDRESS: RareWarning =
    RareWarning::new("http connection refused: too many connections from this address");
static ACCEPT_FAILED: RareWarning =
    RareWarning::new("http accept failed (out of file descriptors?); retrying");

/// Serves `router` on `listener` until `stop`, then lets open connections finish their
/// current request (the caller bounds how long it waits).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    stop: CancellationToken,
) {
    let all = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddressLimit::new(limits.max_connections_per_address);
    let connections = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(error = %e, "http accept failed");
                    let ip = listener.local_addr().map_or([0, 0, 0, 0].into(), |a| a.ip());
                    ACCEPT_FAILED.warn(ip, limits.max_connections);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&all).try_acquire_owned() else {
            TOO_MANY.warn(peer.ip(), limits.max_connections);
            limits.metrics.refused("http", "connections");
            continue;
        };
        let address_slot = if limits.trusted_proxies.trusts(peer.ip()) {
            None
        } else if let Some(slot) = per_address.try_acquire(peer.ip()) {
            Some(slot)
        } else {
            TOO_MANY_FROM_ADDRESS.warn(peer.ip(), per_address.max());
            limits.metrics.refused("http", "connections_per_address");
            continue;
        };
        // Without TCP_NODELAY a response written in pieces (headers, then git's output) waits
        // for the client's delayed ACK, about 40 ms each time.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "setting TCP_NODELAY failed");
        }
        let router = router.clone();
        let stop = stop.clone();
        let limits = limits.clone();
        connections.spawn(async move {
            let _slots = (slot, address_slot);
            let edge = limits.clone();
            let service = hyper::service::service_fn(move |req| {
                answer(router.clone(), peer, edge.clone(), req)
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "http connection ended with an error");
            }
        });
    }
    connections.close();
    connections.wait().await;
}

async fn answer(
    mut router: Router,
    peer: SocketAddr,
    edge: HttpLimits,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let trusted = edge.trusted_proxies.trusts(peer.ip());
    let id = trusted
        .then(|| header(&req, request_id::HEADER).and_then(RequestId::parse))
        .flatten()
        .unwrap_or_default();
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let mut res = if target > MAX_URI_BYTES {
        tracing::info!(%peer, bytes = target, request_id = %id, "refused a request target over 8 KiB");
        let mut res = Response::new(Body::from("URI too long\n"));
        *res.status_mut() = StatusCode::URI_TOO_LONG;
        res
    } else {
        let client = if trusted {
            let ip = edge.trusted_proxies.client(
                peer.ip(),
                header(&req, "x-forwarded-for"),
                header(&req, "forwarded"),
            );
            // The client's port is not known; the proxy's would mislead.
            if ip == peer.ip() {
                peer
            } else {
                SocketAddr::new(ip, 0)
            }
        } else {
            peer
        };
        req.extensions_mut().insert(ConnectInfo(client));
        req.extensions_mut().insert(id.clone());
        let call = tower_service::Service::call(&mut router, req);
        match id.clone().scope(call).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    };
    let route = res
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str);
    edge.metrics
        .http_answered(route, res.status().as_u16(), started.elapsed());
    res.headers_mut().insert(
        request_id::HEADER,
        HeaderValue::from_str(id.as_str()).expect("request ids are plain ASCII because parsed"),
    );
    Ok(res)
}

/// A request header as text, if it is text.
fn header<'r, B>(req: &'r Request<B>, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Route layer: hands the matched route pattern (`/{owner}/{repo}/tree/{*path}`) back on the
/// response, where `answer` labels the request's metrics with it (never with the raw URL).
pub async fn note_route(req: Request<Body>, next: Next) -> Response<Body> {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(route);
    }
    res
}

/// Raises this process's soft limit on open files to the hard limit (as Go programs do at
/// start): connections, repositories' pack files and git's pipes all need descriptors, and the
/// connection caps above are meant to bite before the descriptors run out.
pub fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::debug!(error = %e, "raising the open file limit failed");
            }
        }
        _ => {}
    }
}
