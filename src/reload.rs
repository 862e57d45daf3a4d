//! `systemctl reload labforge` (SIGHUP): the configuration is read again from the sources it
//! came from, and the parts an operator edits while the forge runs take effect without a
//! restart: `[[deploy]]`, `[[check]]` and `[webhook]`. Nothing is dropped: connections, clones
//! and pushes in flight, running deploys and checks go on with the settings they started with.
//! A configuration with a mistake (it does not parse, a `run` is not executable) is refused
//! whole and logged, and the running one stays. Addresses, the data folder and the database
//! need a restart; a reload that changes them says so.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::domain::Forge;

/// What one reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The new deploys, checks and webhook settings are in use; `restart_needed` names the
    /// changed settings that are not (yet).
    Applied {
        deploys: usize,
        checks: usize,
        restart_needed: Vec<&'static str>,
    },
    /// The new configuration has a mistake; the running one stays.
    Refused(String),
}

/// Reloads on every SIGHUP until `stop`. `running` is the configuration `serve` started with;
/// each reload compares with the last one applied.
pub async fn on_sighup(forge: Arc<Forge>, running: Arc<Config>, stop: CancellationToken) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler: reloading needs a restart");
            return;
        }
    };
    let mut current = (*running).clone();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            got = hup.recv() => if got.is_none() { return },
        }
        crate::systemd::notify_reloading();
        let (outcome, next) = reload(&forge, &current).await;
        if let Some(next) = next {
            current = next;
        }
        match outcome {
            Outcome::Applied {
                deploys,
                checks,
                restart_needed,
            } => {
                tracing::info!(
                    deploys,
                    checks,
                    "configuration reloaded (deploys, checks, webhooks)"
                );
                if !restart_needed.is_empty() {
                    tracing::warn!(
                        "changed settings that take effect at the next restart only: {}",
                        restart_needed.join(", ")
                    );
                }
            }
            Outcome::Refused(why) => tracing::error!(
                "configuration reload refused, the running configuration stays: {why}"
            ),
        }
        crate::systemd::notify_ready();
    }
}

/// Reads `current`'s sources again and applies what a reload may change. Returns the outcome and,
/// when applied, the configuration now in force.
pub async fn reload(forge: &Forge, current: &Config) -> (Outcome, Option<Config>) {
    let read = {
        let current = current.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<Config> {
            let next = current.reread()?;
            crate::startup::check_config(&next)?;
            Ok(next)
        })
        .await
    };
    let next = match read {
        Ok(Ok(next)) => next,
        Ok(Err(e)) => return (Outcome::Refused(format!("{e:#}")), None),
        Err(e) => return (Outcome::Refused(format!("reading it failed: {e}")), None),
    };
    forge.deploy_state().replace(next.deploys.clone());
    let checks = next.checks.clone();
    forge
        .check_state()
        .replace(checks, || crate::app::sandbox_for(&next));
    forge
        .egress()
        .set_webhook_allow_list(next.webhook.allowed_hosts.clone());
    forge.webhook_service().set_timing(&next.webhook);
    // Queued runs of a deploy that is configured now may start.
    forge.deploy_state().wake();
    let outcome = Outcome::Applied {
        deploys: next.deploys.len(),
        checks: next.checks.len(),
        restart_needed: restart_needed(current, &next),
    };
    (outcome, Some(next))
}

/// The settings that differ between `old` and `new` and that only a restart applies.
fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut note = |name: &'static str, differs: bool| {
        if differs {
            changed.push(name);
        }
    };
    note("data_dir", old.data_dir != new.data_dir);
    note("http_addr", old.http_addr != new.http_addr);
    note("ssh_addr", old.ssh_addr != new.ssh_addr);
    note("database_url", old.database_url != new.database_url);
    note("push_to_create", old.push_to_create != new.push_to_create);
    note(
        "users_may_create_orgs",
        old.users_may_create_orgs != new.users_may_create_orgs,
    );
    note(
        "max_upload_packs",
        old.max_upload_packs != new.max_upload_packs,
    );
    note("git_timeout_secs", old.git_timeout != new.git_timeout);
    note(
        "[mirror]",
        format!("{:?}", old.mirror) != format!("{:?}", new.mirror),
    );
    note(
        "[backup]",
        format!("{:?}", old.backup) != format!("{:?}", new.backup),
    );
    note(
        "[checks]",
        format!("{:?}", old.check_limits) != format!("{:?}", new.check_limits),
    );
    changed
}
