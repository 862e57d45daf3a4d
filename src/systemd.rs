//! systemd's service protocol, the part a `Type=notify` unit needs: `READY=1` once the forge
//! answers (so `systemctl start` returns when clones work, and units ordered after labforge
//! start then), `RELOADING=1`/`READY=1` around a reload, `STOPPING=1`, and `WATCHDOG=1` pings
//! while `WatchdogSec=` asks for them. The protocol is one datagram to the unix socket named by
//! `NOTIFY_SOCKET` (sd_notify(3)); outside systemd the variable is unset and every call does
//! nothing. Written out rather than a crate: a few lines of std, and nothing to link.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Sends `state` (newline-separated `KEY=VALUE` lines) to systemd, when it listens. A failure is
/// logged, never fatal: the forge works the same without its supervisor's bookkeeping.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&path, state) {
        tracing::warn!(error = %e, socket = ?path, "telling systemd {state:?}");
    }
}

fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    // A leading '@' names a socket in the abstract namespace (systemd's default for services).
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// The forge listens and its database is migrated: clones and pushes work from now on.
pub fn notify_ready() {
    notify("READY=1\nSTATUS=serving");
}

/// A reload starts; systemd holds `systemctl reload` until the next `READY=1`. `MONOTONIC_USEC`
/// is what `Type=notify-reload` (systemd 253) needs to match the two; older ones ignore it.
pub fn notify_reloading() {
    notify(&format!(
        "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC={}",
        monotonic_usec()
    ));
}

pub fn notify_stopping() {
    notify("STOPPING=1\nSTATUS=stopping: waiting for running requests");
}

fn monotonic_usec() -> u128 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| Duration::from(t).as_micros())
        .unwrap_or(0)
}

/// How often systemd wants a `WATCHDOG=1`, when `WatchdogSec=` is set for this process:
/// `WATCHDOG_USEC`, and `WATCHDOG_PID` (when present) naming this process, not a parent's.
pub fn watchdog_interval() -> Option<Duration> {
    watchdog_interval_from(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

fn watchdog_interval_from(usec: Option<&str>, pid: Option<&str>, own: u32) -> Option<Duration> {
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(own)
    {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings systemd at half the interval it asked for (sd_watchdog_enabled(3)'s advice) for as
/// long as the runtime lives, the shutdown included (pushes finishing, PostgreSQL stopping).
/// The pings come from a task on the same runtime that serves requests, so a runtime wedged by
/// a blocking call stops them and systemd restarts the forge, which is the point.
pub async fn keep_watchdog_fed(interval: Duration) {
    let mut tick = tokio::time::interval(interval / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        notify("WATCHDOG=1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_interval_is_read_only_for_this_process() {
        let ten = Some(Duration::from_secs(10));
        assert_eq!(watchdog_interval_from(Some("10000000"), None, 7), ten);
        assert_eq!(watchdog_interval_from(Some("10000000"), Some("7"), 7), ten);
        // Meant for a parent (a wrapper script that exec'd nothing): not ours to answer.
        assert_eq!(watchdog_interval_from(Some("10000000"), Some("6"), 7), None);
        assert_eq!(watchdog_interval_from(None, Some("7"), 7), None);
        assert_eq!(watchdog_interval_from(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval_from(Some("soon"), None, 7), None);
    }

    #[test]
    fn a_message_reaches_a_path_socket_and_an_abstract_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("labforge-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        send(std::ffi::OsStr::new(&format!("@{name}")), "WATCHDOG=1").unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }
}
