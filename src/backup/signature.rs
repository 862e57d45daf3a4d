//! Signed backups. `SHA256SUMS` shows a backup was not damaged by accident, but anyone who can
//! write a backup file can write matching sums, and `restore` runs what the database dump says.
//! `backup --sign KEY` appends `SHA256SUMS.sig`: an SSH signature over `SHA256SUMS` in the
//! SSHSIG format of `ssh-keygen -Y sign -n labforge-backup` (so it can also be checked by hand
//! with `ssh-keygen -Y check-novalidate`), and `restore --verify-key KEY.pub` refuses a backup
//! that is unsigned or signed by another key before it changes anything.
//!
//! The signing is done in-process with the `ssh-key` crate that russh already builds (so no new
//! dependency, no `ssh-keygen` subprocess and no passphrase prompt on a cron job's terminal).

use std::path::Path;

use anyhow::{Context, bail};
use russh::keys::ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The archive entry after `SHA256SUMS`.
pub const SIGNATURE: &str = "SHA256SUMS.sig";
/// The SSHSIG namespace: a signature made for anything else (a git commit, a file) is refused.
pub const NAMESPACE: &str = "labforge-backup";
/// Key files are a few kilobytes; this bounds what a wrong path makes us read.
const MAX_KEY_FILE: u64 = 1 << 20;

fn read_key_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .with_context(|| format!("opening the key file {}", path.display()))?
        .take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    if text.len() as u64 > MAX_KEY_FILE {
        bail!(
            "{} is larger than {MAX_KEY_FILE} bytes: not a key file",
            path.display()
        );
    }
    Ok(text)
}

/// The operator's private key (`backup --sign KEYFILE`): an OpenSSH private key file without a
/// passphrase (ed25519 recommended), readable only by the operator.
pub struct SigningKey(PrivateKey);

impl SigningKey {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = read_key_file(path)?;
        let key = PrivateKey::from_openssh(text.trim()).with_context(|| {
            format!(
                "{} is not an OpenSSH private key (make one with ssh-keygen -t ed25519 -f FILE)",
                path.display()
            )
        })?;
        if key.is_encrypted() {
            bail!(
                "{} has a passphrase; --sign needs a key file without one (keep it readable only \
                 by you)",
                path.display()
            );
        }
        Ok(Self(key))
    }

    /// The armored signature (`-----BEGIN SSH SIGNATURE-----`) over `sums`.
    pub fn sign(&self, sums: &[u8]) -> anyhow::Result<Vec<u8>> {
        let signature = self
            .0
            .sign(NAMESPACE, HashAlg::Sha512, sums)
            .context("signing SHA256SUMS")?;
        Ok(signature
            .to_pem(LineEnding::LF)
            .context("encoding the signature")?
            .into_bytes())
    }

    pub fn fingerprint(&self) -> String {
        self.0.fingerprint(HashAlg::Sha256).to_string()
    }
}

/// The keys `--verify-key FILE` trusts: each line of FILE an OpenSSH public key (`ssh-ed25519
/// AAAA… comment`, as in `KEY.pub` or `authorized_keys` without options); `#` lines are skipped.
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
    file: String,
}

impl TrustedKeys {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = read_key_file(path)?;
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = PublicKey::from_openssh(line).with_context(|| {
                format!(
                    "{} line {}: not an OpenSSH public key (KEY.pub)",
                    path.display(),
                    i + 1
                )
            })?;
            keys.push(key);
        }
        if keys.is_empty() {
            bail!("{} holds no public key", path.display());
        }
        Ok(Self {
            keys,
            file: path.display().to_string(),
        })
    }

    /// The fingerprint of the trusted key that signed `sums`, or why the backup is refused.
    pub fn check(&self, sums: &[u8], signature: Option<&[u8]>) -> anyhow::Result<String> {
        let Some(signature) = signature else {
            bail!(
                "the backup is not signed (it has no {SIGNATURE}); --verify-key {} refuses it",
                self.file
            );
        };
        let signature = std::str::from_utf8(signature)
            .ok()
            .and_then(|text| SshSig::from_pem(text.trim()).ok())
            .with_context(|| format!("the backup's {SIGNATURE} is not an SSH signature"))?;
        for key in &self.keys {
            if key.verify(NAMESPACE, sums, &signature).is_ok() {
                return Ok(key.fingerprint(HashAlg::Sha256).to_string());
            }
        }
        bail!(
            "the backup's signature is not a valid one by a key in {} (it names the key {}); it \
             is refused",
            self.file,
            signature.public_key().fingerprint(HashAlg::Sha256)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(dir: &Path, name: &str) -> (SigningKey, TrustedKeys) {
        let key = dir.join(name);
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        (
            SigningKey::read(&key).unwrap(),
            TrustedKeys::read(&key.with_extension("pub")).unwrap(),
        )
    }

    #[test]
    fn only_the_right_key_over_the_same_sums_passes() {
        let dir = tempfile::tempdir().unwrap();
        let (mine, my_pub) = keypair(dir.path(), "mine");
        let (theirs, _) = keypair(dir.path(), "theirs");
        let sums = b"abc  manifest.json\n";
        let signed = mine.sign(sums).unwrap();
        assert_eq!(
            my_pub.check(sums, Some(&signed)).unwrap(),
            mine.fingerprint()
        );
        let err = my_pub
            .check(b"abd  manifest.json\n", Some(&signed))
            .unwrap_err();
        assert!(err.to_string().contains("not a valid one"), "{err}");
        let err = my_pub
            .check(sums, Some(&theirs.sign(sums).unwrap()))
            .unwrap_err();
        assert!(err.to_string().contains(&theirs.fingerprint()), "{err}");
        let err = my_pub.check(sums, None).unwrap_err();
        assert!(err.to_string().contains("not signed"), "{err}");
        assert!(my_pub.check(sums, Some(b"garbage")).is_err());
    }

    #[test]
    fn key_files_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (_, trusted) = keypair(dir.path(), "mine");
        let line = std::fs::read_to_string(dir.path().join("mine.pub")).unwrap();
        let many = line.repeat((MAX_KEY_FILE as usize / line.len()) + 1);
        std::fs::write(dir.path().join("many.pub"), &many).unwrap();
        let err = TrustedKeys::read(&dir.path().join("many.pub"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("larger than"), "{err}");
        let fits = line.repeat(MAX_KEY_FILE as usize / line.len());
        std::fs::write(dir.path().join("fits.pub"), &fits).unwrap();
        let read = TrustedKeys::read(&dir.path().join("fits.pub")).unwrap();
        assert_eq!(read.keys.len(), MAX_KEY_FILE as usize / line.len());
        assert_eq!(trusted.keys.len(), 1);
    }

    /// The signature is ssh-keygen's own format: OpenSSH checks it by hand.
    #[test]
    fn ssh_keygen_accepts_the_signature() {
        let dir = tempfile::tempdir().unwrap();
        let (mine, _) = keypair(dir.path(), "mine");
        let sums = b"abc  manifest.json\n";
        std::fs::write(dir.path().join("sig"), mine.sign(sums).unwrap()).unwrap();
        let mut child = std::process::Command::new("ssh-keygen")
            .args(["-Y", "check-novalidate", "-n", NAMESPACE, "-s"])
            .arg(dir.path().join("sig"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(sums).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
