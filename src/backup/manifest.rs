//! `manifest.json`, the first entry of a backup: what it holds and the schema it was taken
//! at, so a restore can refuse a newer one before reading the rest.

use anyhow::{bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::git::bundle::{RefEntry, is_safe_ref_name};
use crate::model::{RepoName, Username, is_object_id};

/// Bumped when the layout changes in a way an older labforge cannot read.
pub const FORMAT: u32 = 1;
/// Every entry lives under this folder, so `tar x` of a backup makes one folder.
pub const ROOT: &str = "labforge-backup";
pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";
pub const DATABASE: &str = "database.pgdump";
pub const HOST_KEY: &str = "ssh_host_ed25519_key";
pub const HOST_KEY_PUB: &str = "ssh_host_ed25519_key.pub";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub labforge_version: String,
    /// RFC 3339, UTC: the instant refs and database describe.
    pub created_at: String,
    /// The newest applied migration; `migrations` lists them all.
    pub schema_version: i64,
    pub migrations: Vec<i64>,
    /// Tables whose rows are left out (web sessions: everyone signs in again).
    pub excluded_data: Vec<String>,
    pub host_key: bool,
    pub repositories: Vec<RepoEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoEntry {
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    /// Where HEAD pointed (`refs/heads/main`).
    pub head: Option<String>,
    pub refs: Vec<ManifestRef>,
    /// SHA-256 of the ref list as `ID NAME\n` lines: checked against the bundle's header.
    pub refs_sha256: String,
    /// Whether a bundle holds its objects (a repository without refs has none).
    pub bundle: bool,
    pub description: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRef {
    pub name: String,
    pub id: String,
}

impl RepoEntry {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn bundle_path(&self) -> String {
        format!("repos/{}/{}.bundle", self.owner, self.name)
    }

    pub fn description_path(&self) -> String {
        format!("repos/{}/{}.description", self.owner, self.name)
    }

    pub fn ref_entries(&self) -> Vec<RefEntry> {
        self.refs
            .iter()
            .map(|r| RefEntry {
                name: r.name.clone(),
                id: r.id.clone(),
            })
            .collect()
    }
}

pub fn refs_sha256(refs: &[RefEntry]) -> String {
    let mut hash = Sha256::new();
    for r in refs {
        hash.update(format!("{} {}\n", r.id, r.name));
    }
    crate::domain::hex(&hash.finalize())
}

impl Manifest {
    /// The files besides the manifest and sums that the archive must hold, in writing order.
    pub fn expected_files(&self) -> Vec<String> {
        let mut files = vec![DATABASE.to_owned()];
        if self.host_key {
            files.push(HOST_KEY.to_owned());
            files.push(HOST_KEY_PUB.to_owned());
        }
        for r in &self.repositories {
            if r.bundle {
                files.push(r.bundle_path());
            }
            if r.description {
                files.push(r.description_path());
            }
        }
        files
    }

    /// A manifest read from a backup is outside data: every name that becomes a path or a
    /// git argument is parsed again.
    pub fn check(&self) -> anyhow::Result<()> {
        ensure!(
            self.format == FORMAT,
            "backup format {} is not one this labforge reads (it reads {FORMAT})",
            self.format
        );
        let mut seen = std::collections::HashSet::new();
        for r in &self.repositories {
            let (Ok(owner), Ok(name)) = (Username::parse(&r.owner), RepoName::parse(&r.name))
            else {
                bail!("the manifest names an invalid repository {}", r.full_name());
            };
            ensure!(
                seen.insert(format!("{}/{}", owner.as_str(), name.as_str()).to_lowercase()),
                "the manifest lists {} twice",
                r.full_name()
            );
            for x in &r.refs {
                ensure!(
                    is_object_id(&x.id) && is_safe_ref_name(&x.name),
                    "{}: invalid ref {} {}",
                    r.full_name(),
                    x.id,
                    x.name
                );
            }
            ensure!(
                r.bundle != r.refs.is_empty(),
                "{}: a bundle goes with refs",
                r.full_name()
            );
            ensure!(
                refs_sha256(&r.ref_entries()) == r.refs_sha256,
                "{}: the ref list does not match its checksum",
                r.full_name()
            );
            if let Some(head) = &r.head {
                ensure!(
                    is_safe_ref_name(head),
                    "{}: invalid HEAD {head}",
                    r.full_name()
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(owner: &str, refs: Vec<ManifestRef>) -> Manifest {
        let entries: Vec<RefEntry> = refs
            .iter()
            .map(|r| RefEntry {
                name: r.name.clone(),
                id: r.id.clone(),
            })
            .collect();
        Manifest {
            format: FORMAT,
            labforge_version: "0".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            schema_version: 1,
            migrations: vec![1],
            excluded_data: vec![],
            host_key: false,
            repositories: vec![RepoEntry {
                owner: owner.into(),
                name: "dns".into(),
                default_branch: "main".into(),
                head: Some("refs/heads/main".into()),
                refs_sha256: refs_sha256(&entries),
                bundle: !refs.is_empty(),
                refs,
                description: false,
            }],
        }
    }

    #[test]
    fn names_from_a_manifest_are_parsed_again() {
        let main = ManifestRef {
            name: "refs/heads/main".into(),
            id: "a".repeat(40),
        };
        let good = manifest("alice", vec![main.clone()]);
        good.check().unwrap();
        assert_eq!(
            good.expected_files(),
            vec!["database.pgdump", "repos/alice/dns.bundle"]
        );
        assert!(manifest("..", vec![main.clone()]).check().is_err());
        assert!(manifest("a/b", vec![main.clone()]).check().is_err());
        let evil = ManifestRef {
            name: "refs/heads/x\ndelete refs/heads/main".into(),
            id: "a".repeat(40),
        };
        assert!(manifest("alice", vec![evil]).check().is_err());
        let mut edited = good.clone();
        edited.repositories[0].refs[0].id = "b".repeat(40);
        let err = edited.check().unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
    }
}
