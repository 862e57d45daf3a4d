//! Push mirrors: a copy of a repository elsewhere, pushed after every push. Their settings hold
//! credentials and far-side addresses, so each public function takes an admin grant; a writer
//! cannot add one:
//!
//! ```compile_fail
//! # use labforge::domain::{Forge, Grant, Write};
//! # use labforge::domain::mirrors::NewMirrorAuth;
//! # use labforge::model::MirrorScope;
//! async fn add(forge: &Forge, grant: &Grant<Write>) {
//!     let _ = forge
//!         .add_push_mirror(grant, "ssh://git@far.lab/dns", NewMirrorAuth::Ssh, MirrorScope::Mirror, true)
//!         .await;
//! }
//! ```
//! The twin, differing only in the grant, compiles:
//! ```
//! # use labforge::domain::{Forge, Grant, Admin};
//! # use labforge::domain::mirrors::NewMirrorAuth;
//! # use labforge::model::MirrorScope;
//! async fn add(forge: &Forge, grant: &Grant<Admin>) {
//!     let _ = forge
//!         .add_push_mirror(grant, "ssh://git@far.lab/dns", NewMirrorAuth::Ssh, MirrorScope::Mirror, true)
//!         .await;
//! }
//! ```

use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;

use super::egress::Outbound;
use super::{Admin, Error, Forge, Grant, Result};
use crate::git::mirror::{MirrorCredentials, MirrorError, SyncLimits, Target};
use crate::model::{MirrorScope, MirrorTransport, MirrorUrl, PushMirror, Repo};
use crate::storage::{NewPushMirror, PushMirrorRow, Tx};

/// How a new mirror signs in on the far side.
pub enum NewMirrorAuth {
    /// A key pair made here; its public half is shown to add on the far side.
    Ssh,
    Https {
        username: String,
        token: String,
    },
}

fn view(row: PushMirrorRow) -> PushMirror {
    PushMirror {
        id: row.id,
        transport: if row.auth == "ssh" {
            MirrorTransport::Ssh
        } else {
            MirrorTransport::Http
        },
        remote_url: row.remote_url,
        username: row.username,
        public_key: row.ssh_public_key,
        host_key: row.host_key,
        scope: MirrorScope::parse(&row.scope).unwrap_or(MirrorScope::Mirror),
        sync_on_push: row.sync_on_push,
        syncing: row.syncing,
        sync_wanted: row.sync_wanted,
        failures: row.failures,
        last_attempt_at: row.last_attempt_at,
        last_success_at: row.last_success_at,
        last_error: row.last_error,
        created_at: row.created_at,
    }
}

/// A new ed25519 key pair: (private key in OpenSSH form, public key line).
fn new_key_pair(comment: &str) -> Result<(String, String)> {
    let mut seed = [0u8; 32];
    super::fill_random(&mut seed)?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| Error::Internal(anyhow::anyhow!("encoding a mirror key: {e}")))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::Internal(anyhow::anyhow!("encoding a mirror key: {e}")))?;
    Ok((private.to_string(), public))
}

impl Forge {
    /// The save-time check of a mirror's or import's host against `[mirror] allowed_hosts`.
    pub(in crate::domain) async fn check_mirror_target(&self, url: &MirrorUrl) -> Result<()> {
        self.egress
            .check_target(Outbound::Mirror, url.host(), url.port())
            .await
            .map_err(Error::InvalidInput)
    }

    /// The connection-time check: the one address git is pinned to for this sync.
    pub(in crate::domain) async fn mirror_address(
        &self,
        url: &MirrorUrl,
    ) -> std::result::Result<std::net::IpAddr, String> {
        let ips = self
            .egress
            .allowed_addresses(Outbound::Mirror, url.host(), url.port())
            .await
            .map_err(|r| r.to_string())?;
        Ok(*ips
            .first()
            .expect("an allowed list is never empty because empty is a refusal"))
    }

    pub(in crate::domain) fn sync_limits(&self) -> SyncLimits {
        SyncLimits {
            deadline: self.mirror.sync_timeout,
            low_speed_bytes: self.mirror.low_speed_bytes,
            low_speed_secs: self.mirror.low_speed_secs,
        }
    }

    pub async fn push_mirrors(&self, grant: &Grant<Admin>) -> Result<Vec<PushMirror>> {
        Ok(self
            .db
            .push_mirrors(grant.repo().id)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// Adds a mirror of the repository at `url`; its first sync is queued at once.
    pub async fn add_push_mirror(
        &self,
        grant: &Grant<Admin>,
        url: &str,
        auth: NewMirrorAuth,
        scope: MirrorScope,
        sync_on_push: bool,
    ) -> Result<PushMirror> {
        let repo = grant.repo();
        let url = MirrorUrl::parse(url).map_err(Error::InvalidInput)?;
        let (kind, username, token, private, public) = match (&auth, url.transport()) {
            (NewMirrorAuth::Ssh, MirrorTransport::Ssh) => {
                let (private, public) =
                    new_key_pair(&format!("labforge mirror of {}", repo.full_name()))?;
                ("ssh", String::new(), String::new(), private, public)
            }
            (NewMirrorAuth::Https { username, token }, MirrorTransport::Http) => {
                if token.is_empty() || token.len() > 1000 || username.len() > 200 {
                    return Err(Error::InvalidInput(
                        "an HTTPS mirror needs a token (and a user name) of sensible length".into(),
                    ));
                }
                if token.chars().chain(username.chars()).any(char::is_control) {
                    return Err(Error::InvalidInput(
                        "the user name and token may not hold control characters".into(),
                    ));
                }
                (
                    "https",
                    username.clone(),
                    token.clone(),
                    String::new(),
                    String::new(),
                )
            }
            (_, MirrorTransport::GitDaemon) => {
                return Err(Error::InvalidInput(
                    "git:// is read-only; push mirrors use https://host/path, http://host/path, \
                     ssh://[user@]host[:port]/path or user@host:path"
                        .into(),
                ));
            }
            (NewMirrorAuth::Ssh, MirrorTransport::Http) => {
                return Err(Error::InvalidInput(
                    "an SSH mirror needs an ssh:// or user@host:path URL".into(),
                ));
            }
            (NewMirrorAuth::Https { .. }, MirrorTransport::Ssh) => {
                return Err(Error::InvalidInput(
                    "a user name and token go with an https:// or http:// URL".into(),
                ));
            }
        };
        self.check_mirror_target(&url).await?;
        let row = self
            .db
            .insert_push_mirror(NewPushMirror {
                repo_id: repo.id,
                remote_url: url.as_str(),
                auth: kind,
                username: &username,
                token: &token,
                ssh_private_key: &private,
                ssh_public_key: &public,
                scope: scope.as_str(),
                sync_on_push,
            })
            .await?;
        Ok(view(row))
    }

    pub async fn remove_push_mirror(&self, grant: &Grant<Admin>, id: i64) -> Result<()> {
        if self.db.delete_push_mirror(grant.repo().id, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// "Sync now" for one mirror, or all of the repository's (`id` None).
    pub async fn sync_push_mirrors_now(&self, grant: &Grant<Admin>, id: Option<i64>) -> Result<()> {
        if self.db.want_push_mirror_sync(grant.repo().id, id).await? == 0 && id.is_some() {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// In a push's transaction (the outbox): the repository's mirrors want a sync.
    pub(in crate::domain) async fn queue_push_mirrors(
        &self,
        tx: &mut Tx,
        repo: &Repo,
    ) -> Result<()> {
        tx.queue_push_mirrors(repo.id).await?;
        Ok(())
    }

    /// At start: syncs cut off by a stop run again.
    pub async fn resume_push_mirrors(&self) -> Result<u64> {
        Ok(self.db.resume_interrupted_push_mirrors().await?)
    }

    /// The worker's step: syncs the mirror due first. False when none is due.
    pub async fn sync_next_push_mirror(&self) -> Result<bool> {
        let Some(m) = self.db.claim_push_mirror().await? else {
            return Ok(false);
        };
        let outcome = match self.repo_by_id(m.repo_id).await? {
            None => Err(MirrorError::Failed("the repository is gone".into())),
            Some(repo) => {
                let url = MirrorUrl::parse(&m.remote_url).map_err(MirrorError::Failed);
                let scope = MirrorScope::parse(&m.scope).unwrap_or(MirrorScope::Mirror);
                let credentials = if m.auth == "ssh" {
                    MirrorCredentials::Ssh {
                        private_key: &m.ssh_private_key,
                        pinned_host_key: m.host_key.as_deref(),
                    }
                } else {
                    MirrorCredentials::Https {
                        username: &m.username,
                        token: &m.token,
                    }
                };
                match (url, self.repo_dir(&repo)) {
                    (Ok(url), Ok(dir)) => match self.mirror_address(&url).await {
                        Ok(ip) => {
                            self.runner
                                .push_to_mirror(
                                    &dir,
                                    Target { url: &url, ip },
                                    credentials,
                                    scope,
                                    self.sync_limits(),
                                )
                                .await
                        }
                        Err(refused) => Err(MirrorError::Failed(refused)),
                    },
                    (Err(e), _) => Err(e),
                    (_, Err(e)) => Err(MirrorError::Failed(e.to_string())),
                }
            }
        };
        self.metrics.mirror_synced("push", outcome.is_ok());
        match outcome {
            Ok(host_key) => {
                tracing::info!(mirror = m.id, "push mirror synced");
                self.db
                    .push_mirror_synced(m.id, host_key.as_deref())
                    .await?;
            }
            Err(MirrorError::HostKeyChanged(why)) => {
                tracing::warn!(mirror = m.id, error = %why, "push mirror stopped");
                self.db.push_mirror_failed(m.id, &why, false).await?;
            }
            Err(MirrorError::Failed(why)) => {
                tracing::warn!(mirror = m.id, error = %why, "push mirror sync failed; retried");
                self.db.push_mirror_failed(m.id, &why, true).await?;
            }
        }
        Ok(true)
    }
}
