//! OpenSSH public key lines (`ssh-ed25519 AAAA… comment`), checked and fingerprinted the way
//! `ssh-keygen -lf` does (SHA256 of the key blob, unpadded base64).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

const ALGORITHMS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: String,
    pub blob: Vec<u8>,
}

impl PublicKey {
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut fields = line.split_whitespace();
        let algorithm = fields.next().ok_or("the key is empty")?;
        if !ALGORITHMS.contains(&algorithm) {
            return Err(format!(
                "'{}' is not a supported key type (use ed25519, ecdsa or rsa)",
                algorithm.chars().take(40).collect::<String>()
            ));
        }
        let encoded = fields.next().ok_or("the key has no data after its type")?;
        let blob = STANDARD
            .decode(encoded)
            .map_err(|_| "the key data is not valid base64")?;
        // The blob starts with its own type as an SSH string; a mismatch means a mangled key.
        let inner = blob
            .get(..4)
            .map(|len| u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize)
            .and_then(|len| blob.get(4..4 + len))
            .ok_or("the key data is truncated")?;
        if inner != algorithm.as_bytes() {
            return Err("the key data does not match its type".into());
        }
        Ok(Self {
            algorithm: algorithm.to_owned(),
            blob,
        })
    }

    pub fn fingerprint(&self) -> String {
        format!(
            "SHA256:{}",
            STANDARD_NO_PAD.encode(Sha256::digest(&self.blob))
        )
    }

    /// The canonical line, without the comment (comments are the user's title instead).
    pub fn to_openssh(&self) -> String {
        format!("{} {}", self.algorithm, STANDARD.encode(&self.blob))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with `ssh-keygen -t ed25519`; fingerprint from `ssh-keygen -lf`.
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAGzC5KUB16oCYBiinwbyRhEcZYlQ5ec1ecYLcopPXN9 test@lab";
    const FINGERPRINT: &str = "SHA256:9fF9ieAqxiDEdI8kkRF5Roy1hMadNw/j9fbrNu7uVkM";

    #[test]
    fn parses_and_fingerprints() {
        let key = PublicKey::parse(ED25519).unwrap();
        assert_eq!(key.algorithm, "ssh-ed25519");
        assert_eq!(key.fingerprint(), FINGERPRINT);
        assert_eq!(PublicKey::parse(&key.to_openssh()).unwrap(), key);
    }

    #[test]
    fn refuses_garbage() {
        assert!(PublicKey::parse("").is_err());
        assert!(PublicKey::parse("ssh-dss AAAA").is_err());
        assert!(PublicKey::parse("ssh-ed25519 !!!").is_err());
        assert!(PublicKey::parse("ssh-ed25519").is_err());
        // Valid base64, but an rsa blob labelled ed25519.
        assert!(PublicKey::parse("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB").is_err());
    }
}
