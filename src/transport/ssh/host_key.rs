//! The server's ed25519 host key: generated on first start into the data folder (mode 0600,
//! with a `.pub` beside it for known_hosts files) and reused after, so clients never see it change.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use russh::keys::PrivateKey;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;

pub const FILE_NAME: &str = "ssh_host_ed25519_key";

pub fn load_or_create(data_dir: &Path) -> anyhow::Result<PrivateKey> {
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return PrivateKey::from_openssh(text)
            .with_context(|| format!("parsing the host key {}", path.display()));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    let private = key
        .to_openssh(LineEnding::LF)
        .context("encoding the host key")?;
    std::fs::create_dir_all(data_dir)?;
    // Written to a temporary name and renamed, so a crash never leaves half a key.
    let tmp = data_dir.join(format!("{FILE_NAME}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(private.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    let public = key
        .public_key()
        .to_openssh()
        .context("encoding the host public key")?;
    std::fs::write(
        data_dir.join(format!("{FILE_NAME}.pub")),
        format!("{public}\n"),
    )?;
    tracing::info!(path = %path.display(), "generated a new SSH host key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        let public = std::fs::read_to_string(dir.path().join(format!("{FILE_NAME}.pub"))).unwrap();
        assert!(public.starts_with("ssh-ed25519 "));
    }
}
