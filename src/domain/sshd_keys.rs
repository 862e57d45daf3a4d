//! Keys for the host's OpenSSH (`labforge keys` as sshd's `AuthorizedKeysCommand`, `labforge serv
//! key-ID` as the forced command it prints): the same keys and the same identity rule as the
//! built-in server, looked up by the key sshd verified and then by the id it names.

use super::{Forge, PublicKey, Result};
use crate::model::Actor;

/// A key sshd may accept: the id its forced command will name, and the key's canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshdKey {
    pub id: i64,
    pub openssh: String,
    /// A deploy key (`serv deploy-key-ID`), not a user's key (`serv key-ID`).
    pub deploy: bool,
}

impl Forge {
    /// The key `KIND BASE64` (sshd's `%t %k`) if labforge knows it and its user is enabled.
    /// sshd asks before the client proves it holds the key, and the forced command is only run
    /// after it has: the answer is no identity by itself.
    pub async fn sshd_key(&self, kind: &str, base64: &str) -> Result<Option<SshdKey>> {
        let Ok(key) = PublicKey::parse(&format!("{kind} {base64}")) else {
            return Ok(None);
        };
        let fingerprint = key.fingerprint();
        let Some(row) = self.db.key_by_fingerprint(&fingerprint).await? else {
            return Ok(self.db.deploy_key_by_fingerprint(&fingerprint).await?.map(
                |(id, openssh)| SshdKey {
                    id,
                    openssh,
                    deploy: true,
                },
            ));
        };
        if !self.user_is_active(row.user_id).await? {
            return Ok(None);
        }
        Ok(Some(SshdKey {
            id: row.id,
            openssh: key.to_openssh(),
            deploy: false,
        }))
    }

    /// The user behind key `id` (named by the forced command sshd ran after the client signed
    /// with that key) and the key's fingerprint; None if the key was removed or its user
    /// disabled since.
    pub async fn authenticate_key_id(&self, id: i64) -> Result<Option<(Actor, String)>> {
        let Some(row) = self.db.key_by_id(id).await? else {
            return Ok(None);
        };
        Ok(self
            .authenticate_key(&row.fingerprint)
            .await?
            .map(|actor| (actor, row.fingerprint)))
    }
}
