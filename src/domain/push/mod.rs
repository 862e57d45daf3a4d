//! Pushes as git's hooks report them. The transport that starts receive-pack takes a ticket
//! (a random nonce naming the pusher and repository, kept here in memory) and hands it to the
//! hooks through their environment; `labforge hook NAME` brings it back over the unix socket.
//! So identity never comes from anything a client or a repository controls, and a push that did
//! not come through a running server has no ticket and is refused.

mod checks;
mod hold;
mod policy;
pub mod pulled;
mod receive;
mod ref_write;
mod settle;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::domain::deploys::GatedRun;
use crate::model::{Actor, Repo};

pub use checks::{CheckState, is_dry_run};
pub use hold::{HOLD_WAIT, RefHold};
pub use policy::{BranchRule, parse_branch_pattern};
pub use receive::Say;
use receive::say;
pub use ref_write::parse_branch_name;

/// The socket hooks call and the secret they must show; the secret changes at every start.
pub struct HookGate {
    pub socket: PathBuf,
    pub secret: String,
    tickets: Mutex<HashMap<String, PushContext>>,
    /// Ref updates in flight, and a backup's hold on them.
    updates: hold::UpdateGate,
    /// Gate runs whose push ended without post-receive confirming their ref (see
    /// `deploys::gate`), for the deploy worker to note in their logs.
    unlanded: Mutex<Vec<GatedRun>>,
}

#[derive(Clone)]
pub(super) struct PushContext {
    pub repo: Repo,
    /// The name the push is recorded under (events, logs, `LABFORGE_PUSHER`).
    pub actor: Actor,
    /// Who pushes, for the access questions a push asks (admins-only branches, skip-checks):
    /// for a deploy key the key itself, never the owner it is recorded under.
    pub principal: super::Principal,
    /// The pending push event pre-receive recorded.
    pub pending: Option<i64>,
    /// `-o deploy=wait` stops following a run here, before the transport's deadline ends git.
    pub wait_until: tokio::time::Instant,
    /// Runs `-o deploy=gate` made before the refs moved; post-receive checks they landed.
    pub gated: Vec<GatedRun>,
    /// The id of the request (HTTP) or command (SSH) that runs this push, for the hooks' log
    /// lines and a refused push's last line.
    pub request_id: Option<crate::metrics::RequestId>,
}

impl HookGate {
    pub fn new(socket: PathBuf, secret: String) -> Self {
        Self {
            socket,
            secret,
            tickets: Mutex::default(),
            updates: hold::UpdateGate::default(),
            unlanded: Mutex::default(),
        }
    }

    fn set_gated(&self, nonce: &str, runs: Vec<GatedRun>) {
        if let Some(ctx) = self
            .tickets
            .lock()
            .expect("ticket map is never poisoned: no code panics while holding it")
            .get_mut(nonce)
        {
            ctx.gated = runs;
        }
    }

    /// Push `nonce`'s gate runs, now post-receive has come (so the ticket's end is quiet).
    fn take_gated(&self, nonce: &str) -> Vec<GatedRun> {
        self.tickets
            .lock()
            .expect("ticket map is never poisoned: no code panics while holding it")
            .get_mut(nonce)
            .map(|ctx| std::mem::take(&mut ctx.gated))
            .unwrap_or_default()
    }

    pub(in crate::domain) fn take_unlanded(&self) -> Vec<GatedRun> {
        std::mem::take(
            &mut *self
                .unlanded
                .lock()
                .expect("unlanded list is never poisoned: no code panics while holding it"),
        )
    }

    fn context(&self, nonce: &str) -> Option<PushContext> {
        self.tickets
            .lock()
            .expect("ticket map is never poisoned: no code panics while holding it")
            .get(nonce)
            .cloned()
    }

    /// The id of the request that runs the push with this ticket.
    pub fn request_id(&self, nonce: &str) -> Option<crate::metrics::RequestId> {
        self.context(nonce).and_then(|ctx| ctx.request_id)
    }

    fn set_pending(&self, nonce: &str, id: i64) {
        if let Some(ctx) = self
            .tickets
            .lock()
            .expect("ticket map is never poisoned: no code panics while holding it")
            .get_mut(nonce)
        {
            ctx.pending = Some(id);
        }
    }
}

/// Lives as long as the receive-pack it was made for; dropping it makes the nonce worthless.
pub struct ReceiveTicket {
    nonce: String,
    gate: Arc<HookGate>,
}

impl ReceiveTicket {
    /// The variables receive-pack passes on to its hooks.
    pub fn hook_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "LABFORGE_HOOK_SOCKET",
                self.gate.socket.display().to_string(),
            ),
            ("LABFORGE_HOOK_SECRET", self.gate.secret.clone()),
            ("LABFORGE_PUSH_NONCE", self.nonce.clone()),
        ]
    }
}

impl Drop for ReceiveTicket {
    fn drop(&mut self) {
        let ctx = self
            .gate
            .tickets
            .lock()
            .expect("ticket map is never poisoned: no code panics while holding it")
            .remove(&self.nonce);
        self.gate.updates.leave(&self.nonce);
        // Gate runs post-receive never confirmed: git moved none of the push's refs (it runs
        // post-receive whenever one moved). Their deploys ran a commit that is not on the branch.
        if let Some(ctx) = ctx
            && !ctx.gated.is_empty()
        {
            self.gate
                .unlanded
                .lock()
                .expect("unlanded list is never poisoned: no code panics while holding it")
                .extend(ctx.gated);
        }
    }
}

impl super::Forge {
    /// A ticket for one receive-pack on the write grant's repository, by its user; the
    /// transport's deadline for git bounds how long `-o deploy=wait` follows a run.
    pub(in crate::domain) fn receive_ticket(
        &self,
        grant: &super::Grant<super::Write>,
    ) -> super::Result<ReceiveTicket> {
        let actor = match grant.principal() {
            super::Principal::User(actor) => actor.clone(),
            // Recorded under the repository's owner, as Gitea records a deploy key's push (the
            // key has no account); `principal` keeps what the key itself may do.
            super::Principal::DeployKey { .. } => Actor {
                user: crate::model::User {
                    id: grant.repo().owner_id,
                    name: grant.repo().owner.clone(),
                    email: String::new(),
                    role: crate::model::SiteRole::User,
                },
                scope: None,
            },
            other => {
                return Err(super::Error::Internal(anyhow::anyhow!(
                    "a push is made by a user or a deploy key, not {other:?}"
                )));
            }
        };
        let deadline = self.runner.deadline();
        let nonce = super::random_hex(16)?;
        let context = PushContext {
            repo: grant.repo().clone(),
            actor,
            principal: grant.principal().clone(),
            pending: None,
            wait_until: deadline - std::time::Duration::from_secs(15),
            gated: Vec::new(),
            request_id: crate::metrics::RequestId::current(),
        };
        self.hooks
            .tickets
            .lock()
            .expect("ticket map is never poisoned: no code panics while holding it")
            .insert(nonce.clone(), context);
        Ok(ReceiveTicket {
            nonce,
            gate: Arc::clone(&self.hooks),
        })
    }

    /// Whether a hook's secret is this process's (constant time).
    pub fn hook_secret_is_valid(&self, secret: &str) -> bool {
        constant_time_eq::constant_time_eq(secret.as_bytes(), self.hooks.secret.as_bytes())
    }
}
