//! Caps on connections shared by the HTTP and SSH accept loops: a count per address prefix
//! (IPv4 address, IPv6 /64, so one host cannot take every slot by rotating addresses), a stream
//! that can be cut from outside (a deadline that holds whatever the peer sends), and warnings that
//! say when a cap bites without writing a line per refused socket during a flood.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::model::AddrPrefix;

/// At most `max` open connections per address prefix.
pub struct PerAddressLimit {
    max: usize,
    open: Mutex<HashMap<AddrPrefix, usize>>,
}

impl PerAddressLimit {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            open: Mutex::default(),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for a connection from `ip`, or None when its prefix has `max` open already.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddrPermit> {
        let key = AddrPrefix::of(ip);
        let mut open = self.open.lock().expect("never poisoned");
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddrPermit {
            limit: Arc::clone(self),
            key,
        })
    }

    #[cfg(test)]
    fn prefixes(&self) -> usize {
        self.open.lock().unwrap().len()
    }
}

/// One open connection's slot; given back when dropped (an empty entry is removed, so the map
/// holds only prefixes with open connections).
pub struct AddrPermit {
    limit: Arc<PerAddressLimit>,
    key: AddrPrefix,
}

impl Drop for AddrPermit {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock().expect("never poisoned");
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A warning that is logged the first time and then at most every `EVERY`, with how many were
/// left out: a flood of refused sockets must not become a flood of log lines.
pub struct RareWarning {
    what: &'static str,
    last: Mutex<Option<Instant>>,
    skipped: AtomicU64,
}

const EVERY: Duration = Duration::from_secs(10);

impl RareWarning {
    pub const fn new(what: &'static str) -> Self {
        Self {
            what,
            last: Mutex::new(None),
            skipped: AtomicU64::new(0),
        }
    }

    pub fn warn(&self, peer: IpAddr, limit: usize) {
        let mut last = self.last.lock().expect("never poisoned");
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < EVERY) {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        let also = self.skipped.swap(0, Ordering::Relaxed);
        tracing::warn!(
            peer = %peer,
            limit,
            refused_since_last_warning = also,
            "{}",
            self.what
        );
    }
}

/// A stream that fails every read and write once `cut` is cancelled, waking a task blocked on
/// it. Lets a deadline close a connection that a library task owns and that the peer keeps
/// idle (russh waits for a key exchange without looking at its command queue).
pub struct Cutoff<S> {
    inner: S,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<S> Cutoff<S> {
    pub fn new(inner: S, cut: CancellationToken) -> Self {
        Self {
            inner,
            cut: Box::pin(cut.cancelled_owned()),
        }
    }

    fn is_cut(&mut self, cx: &mut Context<'_>) -> bool {
        self.cut.as_mut().poll(cx).is_ready()
    }
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection deadline passed")
}

impl<S: AsyncRead + Unpin> AsyncRead for Cutoff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_cut(cx) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Cutoff<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_cut(cx) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_cut(cx) {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_gets_its_slots_back() {
        let limit = PerAddressLimit::new(2);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::2".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        let p1 = limit.try_acquire(a).unwrap();
        let _p2 = limit.try_acquire(same_64).unwrap();
        assert!(limit.try_acquire(a).is_none(), "the /64 is full");
        let _p3 = limit.try_acquire(other).unwrap();
        drop(p1);
        assert!(limit.try_acquire(same_64).is_some());
        drop(_p2);
        drop(_p3);
        assert_eq!(limit.prefixes(), 0, "no entries are left behind");
    }

    #[tokio::test]
    async fn a_cut_stream_wakes_a_blocked_reader() {
        use tokio::io::AsyncReadExt;
        let (client, server) = tokio::io::duplex(64);
        let cut = CancellationToken::new();
        let mut stream = Cutoff::new(server, cut.clone());
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            stream.read(&mut buf).await
        });
        cut.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("the read ends")
            .unwrap();
        assert!(result.is_err());
        drop(client);
    }
}
