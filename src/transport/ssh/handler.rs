//! One SSH connection: public-key authentication (the key that signed is the key that
//! identifies), then exec of git services or interface commands on session channels.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use russh::keys::HashAlg;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::sync::{mpsc, oneshot};

use super::commands::{self, Output};
use super::exec::{self, ExecRequest};
use super::git_channel;
use super::{Knocking, SshState};
use crate::domain::{Error, Principal};
use crate::git::GitProtocol;
use crate::git::Service;
use crate::model::{Actor, Client, RepoPath, Transport, terminal_text};

/// Per-channel state: what the client set before `exec`, and the running git's stdin.
#[derive(Default)]
struct ChannelState {
    protocol: Option<GitProtocol>,
    pty: bool,
    started: bool,
    stdin: Option<mpsc::Sender<Bytes>>,
    /// Dropping this kills the channel's git process.
    _kill: Option<oneshot::Sender<()>>,
    /// Set when the channel's git task is over and has closed the channel.
    ended: git_channel::Ended,
}

pub struct SshSession {
    st: SshState,
    peer: Option<SocketAddr>,
    actor: Option<Actor>,
    /// Set instead of `actor` when a deploy key signed in: git on its repositories only.
    deploy_key: Option<Principal>,
    key: String,
    /// Held while unauthenticated; released on success so the unauthenticated caps count only
    /// connections still knocking.
    unauth_permit: Option<Knocking>,
    /// The user name of a refused attempt: a connection that ends without authenticating after
    /// one is logged as a failed authentication (once, when it ends).
    refused_user: Option<String>,
    authenticated: Arc<AtomicBool>,
    channels: HashMap<ChannelId, ChannelState>,
}

/// Channels open at once on one connection (OpenSSH's ControlMaster multiplexes many sessions
/// over one): a channel stops counting once it is closed, whichever side closed it.
const MAX_CHANNELS: usize = 8;

fn publickey_only() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])),
        partial_success: false,
    }
}

impl SshSession {
    pub fn new(
        st: SshState,
        peer: Option<SocketAddr>,
        unauth_permit: Knocking,
        authenticated: Arc<AtomicBool>,
    ) -> Self {
        Self {
            st,
            peer,
            actor: None,
            deploy_key: None,
            key: String::new(),
            unauth_permit: Some(unauth_permit),
            refused_user: None,
            authenticated,
            channels: HashMap::new(),
        }
    }

    /// Sends a finished command's output and ends the channel the way OpenSSH does:
    /// data, EOF, exit status, close.
    fn finish(
        &mut self,
        channel: ChannelId,
        out: Output,
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        let pty = self.channels.get(&channel).is_some_and(|c| c.pty);
        // Names, descriptions and key titles end up here: no control bytes reach the terminal.
        let fix = |s: String| {
            let s = terminal_text(&s);
            if pty {
                s.replace('\n', "\r\n")
            } else {
                s.into_owned()
            }
        };
        if !out.stdout.is_empty() {
            session.data(channel, Bytes::from(fix(out.stdout)))?;
        }
        if !out.stderr.is_empty() {
            session.extended_data(channel, 1, Bytes::from(fix(out.stderr)))?;
        }
        session.eof(channel)?;
        session.exit_status_request(channel, out.code)?;
        session.close(channel)?;
        // russh forgets a channel the server closed, and never reports the client's close:
        // the slot is free now.
        self.channels.remove(&channel);
        Ok(())
    }

    async fn start_git(
        &mut self,
        channel: ChannelId,
        service: Service,
        path: RepoPath,
        session: &mut Session,
    ) -> Result<(), anyhow::Error> {
        let principal = match (&self.actor, &self.deploy_key) {
            (Some(actor), _) => Principal::User(actor.clone()),
            (None, Some(key)) => key.clone(),
            (None, None) => unreachable!("channels open only after authentication"),
        };
        // A renamed or transferred repository: the old path keeps working, with a warning.
        let (path, moved) = match self.st.forge.moved_to(&principal, &path).await {
            Ok(Some(now)) => (now.clone(), Some(now)),
            _ => (path, None),
        };
        let authorized = self
            .st
            .forge
            .authorize_service_as(&principal, &path, service)
            .await;
        let grant = match authorized {
            Ok(grant) => grant,
            Err(e) => {
                let message = match e {
                    Error::NotFound => format!("repository '{path}' not found"),
                    Error::Forbidden(why) => why,
                    Error::Internal(e) => {
                        tracing::error!(error = ?e, "authorizing an SSH git request");
                        "internal error".to_owned()
                    }
                    other => other.to_string(),
                };
                session.channel_success(channel)?;
                return Ok(self.finish(channel, Output::fail(message), session)?);
            }
        };
        let state = self.channels.entry(channel).or_default();
        let (stdin_tx, kill_tx) = git_channel::start(
            &self.st,
            grant,
            state.protocol,
            channel,
            session.handle(),
            state.ended.clone(),
        );
        state.stdin = Some(stdin_tx);
        state._kill = Some(kill_tx);
        session.channel_success(channel)?;
        // Queued in the session before anything git's task sends through the handle.
        if let Some(now) = moved {
            let warning = format!("remote: this repository moved to {now}; update your remote\n");
            session.extended_data(channel, 1, Bytes::from(warning))?;
        }
        Ok(())
    }
}

impl russh::server::Handler for SshSession {
    type Error = anyhow::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(publickey_only())
    }

    async fn auth_password(&mut self, user: &str, _password: &str) -> Result<Auth, Self::Error> {
        self.refused(user);
        Ok(publickey_only())
    }

    /// Only says whether signing is worth it; identity is decided in `auth_publickey`.
    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        let fingerprint = offer.public_key.fingerprint(HashAlg::Sha256).to_string();
        let forge = &self.st.forge;
        Ok(
            if forge.key_is_known(&fingerprint).await?
                || forge.deploy_key_is_known(&fingerprint).await?
            {
                Auth::Accept
            } else {
                self.refused(user);
                publickey_only()
            },
        )
    }

    /// Called by russh only after the signature over this very key was verified.
    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let fingerprint = key.public_key.fingerprint(HashAlg::Sha256).to_string();
        match self.st.forge.authenticate_key(&fingerprint).await? {
            Some(actor) => {
                tracing::info!(user = %actor.user.name, key = %fingerprint, peer = ?self.peer, "ssh login");
                self.actor = Some(actor);
                self.key = fingerprint;
                self.authenticated.store(true, Ordering::SeqCst);
                self.unauth_permit = None;
                self.st.forge.metrics().ssh_authenticated("succeeded");
                Ok(Auth::Accept)
            }
            None => match self.st.forge.authenticate_deploy_key(&fingerprint).await? {
                Some(principal) => {
                    tracing::info!(key = %fingerprint, peer = ?self.peer, "ssh login with a deploy key");
                    self.deploy_key = Some(principal);
                    self.key = fingerprint;
                    self.authenticated.store(true, Ordering::SeqCst);
                    self.unauth_permit = None;
                    self.st.forge.metrics().ssh_authenticated("succeeded");
                    Ok(Auth::Accept)
                }
                None => {
                    self.refused(user);
                    Ok(publickey_only())
                }
            },
        }
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        self.refused(user);
        Ok(publickey_only())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.retain(|_, c| !c.ended.is_set());
        let signed_in = self.actor.is_some() || self.deploy_key.is_some();
        if !signed_in || self.channels.len() >= MAX_CHANNELS {
            return Ok(()); // dropping `reply` refuses the channel
        }
        self.channels.insert(channel.id(), ChannelState::default());
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Accepted so `ssh git@host` shows the greeting cleanly; no terminal is ever attached.
        if let Some(state) = self.channels.get_mut(&channel) {
            state.pty = true;
        }
        session.channel_success(channel)?;
        Ok(())
    }

    /// Only `GIT_PROTOCOL=version=N` is kept; everything else a client sets is ignored.
    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let protocol = (name == "GIT_PROTOCOL")
            .then(|| GitProtocol::parse(value))
            .flatten();
        match (protocol, self.channels.get_mut(&channel)) {
            (Some(p), Some(state)) => {
                state.protocol = Some(p);
                session.channel_success(channel)?;
            }
            _ => {
                tracing::debug!(name, "ignoring an SSH env request");
                session.channel_failure(channel)?;
            }
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.deploy_key.is_some() {
            session.channel_success(channel)?;
            let out = Output::fail(commands::DEPLOY_KEY_GIT_ONLY);
            return Ok(self.finish(channel, out, session)?);
        }
        let Some(actor) = self.active_actor().await? else {
            session.channel_success(channel)?;
            let out = Output::fail("this account is disabled; ask an administrator");
            return Ok(self.finish(channel, out, session)?);
        };
        if !self.mark_started(channel) {
            session.channel_failure(channel)?;
            return Ok(());
        }
        session.channel_success(channel)?;
        let text = commands::greeting(&self.st, &actor, &self.key).await;
        self.finish(
            channel,
            Output {
                stdout: text,
                stderr: String::new(),
                code: 0,
            },
            session,
        )?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.deploy_key.is_some() {
            return self.exec_deploy_key(channel, data, session).await;
        }
        let Some(actor) = self.active_actor().await? else {
            session.channel_success(channel)?;
            let out = Output::fail("this account is disabled; ask an administrator");
            return Ok(self.finish(channel, out, session)?);
        };
        if !self.mark_started(channel) {
            session.channel_failure(channel)?;
            return Ok(());
        }
        match exec::parse(data) {
            Ok(ExecRequest::Git { service, path }) => {
                self.start_git(channel, service, path, session).await
            }
            Ok(ExecRequest::Command(words)) => {
                session.channel_success(channel)?;
                let out = commands::run(&self.st, &actor, &self.key, &words).await;
                Ok(self.finish(channel, out, session)?)
            }
            Err(e) => {
                tracing::info!(user = %actor.user.name, error = %e, "refused SSH exec request");
                session.channel_success(channel)?;
                Ok(self.finish(channel, Output::fail(format!("refused: {e}")), session)?)
            }
        }
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(stdin) = self.channels.get(&channel).and_then(|c| c.stdin.as_ref()) {
            // A closed receiver means git has exited; the client learns that from exit-status.
            let _ = stdin.send(Bytes::copy_from_slice(data)).await;
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(state) = self.channels.get_mut(&channel) {
            state.stdin = None; // git sees the end of its input
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel); // kills git if it still runs
        Ok(())
    }
}

impl SshSession {
    /// The signed-in user, if they are still enabled: a connection kept open (ControlMaster)
    /// runs nothing more once the operator disables its user.
    async fn active_actor(&mut self) -> anyhow::Result<Option<Actor>> {
        let Some(actor) = self.actor.clone() else {
            return Ok(None);
        };
        if let Some(user) = self.st.forge.active_user(actor.user.id).await? {
            // The role as it is now: a site admin revoked meanwhile is a user from here on.
            let actor = Actor { user, ..actor };
            self.actor = Some(actor.clone());
            Ok(Some(actor))
        } else {
            tracing::info!(user = %actor.user.name, "the account was disabled; refusing its SSH requests");
            Ok(None)
        }
    }

    /// A deploy key's exec: git through the one parser and the one access rule, nothing else.
    async fn exec_deploy_key(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> anyhow::Result<()> {
        if !self.mark_started(channel) {
            session.channel_failure(channel)?;
            return Ok(());
        }
        match exec::parse(data) {
            Ok(ExecRequest::Git { service, path }) => {
                self.start_git(channel, service, path, session).await
            }
            Ok(ExecRequest::Command(_)) => {
                session.channel_success(channel)?;
                let out = Output::fail(commands::DEPLOY_KEY_GIT_ONLY);
                Ok(self.finish(channel, out, session)?)
            }
            Err(e) => {
                tracing::info!(key = %self.key, error = %e, "refused SSH exec request");
                session.channel_success(channel)?;
                Ok(self.finish(channel, Output::fail(format!("refused: {e}")), session)?)
            }
        }
    }

    fn refused(&mut self, user: &str) {
        if self.refused_user.is_none() {
            self.refused_user = Some(user.chars().take(64).collect());
        }
    }

    /// One program per channel: a second exec or shell on the same channel is refused.
    fn mark_started(&mut self, channel: ChannelId) -> bool {
        match self.channels.get_mut(&channel) {
            Some(state) if !state.started => {
                state.started = true;
                true
            }
            _ => false,
        }
    }
}

/// A connection that tried and never authenticated is one failed authentication, logged (and
/// counted) when it ends: a client offering several keys before the right one is not a failure.
impl Drop for SshSession {
    fn drop(&mut self) {
        if self.actor.is_none()
            && self.deploy_key.is_none()
            && let Some(user) = self.refused_user.take()
        {
            let client = Client::new(self.peer.map(|p| p.ip()), Transport::Ssh);
            self.st.forge.authentication_failed(&user, client);
            self.st.forge.metrics().ssh_authenticated("failed");
        }
    }
}
