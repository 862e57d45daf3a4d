//! `GET /metrics` (`[metrics]`): the server's series in Prometheus' text format, behind the
//! optional bearer token (compared in constant time). Mounted on the web port, or alone on
//! `[metrics] addr`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::Secret;
use crate::domain::Forge;
use crate::metrics::{CONTENT_TYPE, Snapshot};
use crate::routes::{Need, Routes};

#[derive(Clone)]
pub struct MetricsState {
    pub forge: Arc<Forge>,
    pub token: Option<Secret>,
    /// `max_upload_packs`: slots in use are this less the free ones.
    pub upload_slots: usize,
}

/// Public as the access matrix counts it: the scrape checks its own bearer token. Only when
/// `[metrics] enabled`, so not in `app::route_table`.
pub fn routes<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    MetricsState: FromRef<S>,
{
    Routes::new().get("/metrics", Need::Public, scrape)
}

/// Whether `headers` carry `Authorization: Bearer TOKEN` (any answer when there is no token).
fn authorized(token: Option<&Secret>, headers: &HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    constant_time_eq::constant_time_eq(sent.trim().as_bytes(), token.expose().as_bytes())
}

async fn scrape(State(st): State<MetricsState>, headers: HeaderMap) -> Response {
    if !authorized(st.token.as_ref(), &headers) {
        let mut res = (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"labforge metrics\""),
        );
        return res;
    }
    let (size, idle) = st.forge.database_pool_sizes();
    // A database that does not answer must not hold the scrape (which reports the pool).
    let queues = tokio::time::timeout(Duration::from_secs(1), st.forge.queue_sizes())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|q| (q.deploys_queued, q.webhooks_pending, q.webhook_oldest_secs));
    let free = st.forge.upload_slots().available_permits();
    let text = st.forge.metrics().render(Snapshot {
        upload_slots_in_use: st.upload_slots.saturating_sub(free) as u64,
        db_pool_size: u64::from(size),
        db_pool_idle: idle as u64,
        queues,
    });
    let mut res = text.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_must_match_exactly() {
        let token = Secret::new("0123456789abcdef");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(authorized(None, &HeaderMap::new()));
        assert!(!authorized(Some(&token), &HeaderMap::new()));
        assert!(authorized(Some(&token), &with("Bearer 0123456789abcdef")));
        assert!(!authorized(Some(&token), &with("Bearer 0123456789abcde")));
        assert!(!authorized(Some(&token), &with("Basic 0123456789abcdef")));
        assert!(!authorized(Some(&token), &with("Bearer ")));
    }
}
