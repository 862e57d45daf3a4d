//! What `labforge hook NAME` and the server say to each other over the unix socket: one JSON
//! request line, then JSON reply lines until `Done`.

use serde::{Deserialize, Serialize};

use crate::model::HookName;

#[derive(Debug, Serialize, Deserialize)]
pub struct HookRequest {
    pub secret: String,
    pub nonce: String,
    pub hook: HookName,
    /// git's stdin lines, `OLD NEW REFNAME`.
    pub updates: Vec<String>,
    pub push_options: Vec<String>,
    /// `GIT_QUARANTINE_PATH` (pre-receive), where the pushed objects wait.
    pub quarantine: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum HookReply {
    /// A line for the pusher.
    Say(String),
    /// The hook's verdict: pre-receive exits non-zero (refusing the push) unless `ok`.
    Done { ok: bool },
}

/// Requests larger than this are refused (a push of every tag of a big mirror fits easily).
pub const MAX_REQUEST: usize = 16 << 20;

/// `labforge backup` asking a running `serve` to hold ref updates for its instant. No secret:
/// the socket is 0600, so whoever connects already owns every file of the data folder.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// What holds: always `backup`.
    pub hold: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum HoldReply {
    /// Ref updates are held until the client sends a line or hangs up (or the server's bound).
    Held,
    Refused(String),
}

/// `labforge admin protect` asking a running `serve` which checks it has for a repository: the
/// serve's configuration may come from a file the admin command was not given. No secret, as
/// for `HoldRequest`; the answer names checks, which the configuration file names anyway.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksRequest {
    /// `OWNER/REPO`.
    pub checks_for: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ChecksReply {
    /// The names of the `[[check]]`s that run on pushes to that repository.
    pub checks: Vec<String>,
}
