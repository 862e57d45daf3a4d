//! What `labforge keys` / `labforge serv` (run by the host's sshd) and `serve` say to each other
//! over `DATA_DIR/labforge-serv.sock`: one JSON request line, then for `keys` one JSON reply
//! line, for `serv` binary frames (`tag`, big-endian u32 length, bytes) until `EXIT`. After its
//! request, `serv` sends its standard input raw, then half-closes the socket at its end.

use serde::{Deserialize, Serialize};

/// The socket and the secret file, both in the data folder, both 0600.
pub const SOCKET: &str = "labforge-serv.sock";
pub const SECRET: &str = "labforge-serv.secret";

/// Longest request line: sshd's command lines are far shorter; anything longer is refused.
pub const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ServRequest {
    /// sshd's `AuthorizedKeysCommand`: does labforge know this key (`%t`, `%k`)?
    Keys {
        secret: String,
        kind: String,
        key: String,
    },
    /// sshd's forced command for key `key_id`: run `command` (`SSH_ORIGINAL_COMMAND`, raw
    /// bytes; none: the greeting). `git_protocol` is the client's `GIT_PROTOCOL`, if sshd
    /// passed it.
    Serv {
        secret: String,
        key_id: i64,
        /// `key_id` names a deploy key (`serv deploy-key-ID`), not a user's key.
        #[serde(default)]
        deploy_key: bool,
        command: Option<Vec<u8>>,
        git_protocol: Option<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum KeysReply {
    /// Known: the id for the forced command and the key's canonical `TYPE BASE64`.
    Known {
        id: i64,
        openssh: String,
        /// A deploy key: the forced command is `serv deploy-key-ID`.
        #[serde(default)]
        deploy: bool,
    },
    Unknown,
    Refused(String),
}

/// Frame tags from `serve` to `serv`.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// The exit status, 4 bytes big-endian; the last frame.
pub const EXIT: u8 = 3;

/// Largest frame payload either side writes or accepts.
pub const MAX_FRAME: usize = 64 * 1024;
