//! Repositories in backups: the refs recorded at the backup's instant, a git bundle (v2) of
//! exactly those refs, and a repository made again from one.
//!
//! The bundle's header is written here and its pack by `git pack-objects --revs` of the recorded
//! ids: `git bundle create` can only name refs by their current value, and a push after the
//! instant must not change what the backup holds. Objects are immutable and upkeep keeps
//! unreachable ones two weeks (cruft packs), so the recorded ids stay readable meanwhile.

use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, bail, ensure};

use super::{GitError, GitRunner, RepoDir, RepoStore};
use crate::model::is_object_id;

const SIGNATURE: &str = "# v2 git bundle";
/// Bounds reading a bundle's header (a mirror with every tag of a big project fits).
const MAX_HEADER_REFS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEntry {
    pub name: String,
    pub id: String,
}

/// A repository's refs at one instant: every direct ref, and HEAD's target.
#[derive(Debug, Clone, Default)]
pub struct RecordedRefs {
    pub head: Option<String>,
    pub refs: Vec<RefEntry>,
}

/// A ref name as `update-ref --stdin` will read it: under `refs/`, valid for git, and nothing
/// that could end the line (a manifest is outside data once it has been on a backup disk).
pub fn is_safe_ref_name(name: &str) -> bool {
    name.starts_with("refs/")
        && !name.contains(|c: char| c.is_whitespace() || c.is_control())
        && gix::refs::FullName::try_from(name).is_ok()
}

impl RepoDir {
    /// Every direct ref and where HEAD points, as they are now. Blocking (gix).
    pub fn record_refs(&self) -> Result<RecordedRefs, GitError> {
        let repo =
            gix::open_opts(self.path(), gix::open::Options::isolated()).map_err(GitError::gix)?;
        let head = repo
            .head_name()
            .map_err(GitError::gix)?
            .map(|n| n.as_bstr().to_string());
        let platform = repo.references().map_err(GitError::gix)?;
        let mut refs = Vec::new();
        for reference in platform.all().map_err(GitError::gix)? {
            let reference = reference.map_err(GitError::gix)?;
            if let Some(id) = reference.target().try_id() {
                refs.push(RefEntry {
                    name: reference.name().as_bstr().to_string(),
                    id: id.to_hex().to_string(),
                });
            }
        }
        refs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RecordedRefs { head, refs })
    }

    /// The repository's `description` file (gitweb and cgit show it), at most 64 KiB.
    pub fn description(&self) -> Option<Vec<u8>> {
        let mut text = std::fs::read(self.path().join("description")).ok()?;
        text.truncate(64 * 1024);
        Some(text)
    }
}

impl GitRunner {
    /// Writes a bundle of exactly `refs` from `dir` to `dest` (created new, mode 0600);
    /// returns the file's SHA-256.
    pub async fn write_bundle(
        &self,
        dir: &RepoDir,
        refs: &[RefEntry],
        dest: &Path,
    ) -> anyhow::Result<String> {
        ensure!(!refs.is_empty(), "a bundle needs at least one ref");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .with_context(|| format!("creating {}", dest.display()))?;
        let mut header = format!("{SIGNATURE}\n");
        let mut tips = String::new();
        for r in refs {
            ensure!(
                is_object_id(&r.id) && is_safe_ref_name(&r.name),
                "unexpected ref {} {}",
                r.id,
                r.name
            );
            header.push_str(&format!("{} {}\n", r.id, r.name));
            tips.push_str(&r.id);
            tips.push('\n');
        }
        header.push('\n');
        file.write_all(header.as_bytes())?;
        let pack_args = [
            "pack-objects",
            "--stdout",
            "--revs",
            "--delta-base-offset",
            "-q",
        ];
        self.run_into_hashed_file(
            dir.path(),
            &pack_args,
            tips.into_bytes(),
            header.as_bytes(),
            file,
        )
        .await
    }

    /// `git bundle verify` of `bundle`, inside `scratch` (an empty bare repository that
    /// `init_scratch` made: a complete bundle needs nothing from it).
    pub async fn verify_bundle(&self, scratch: &Path, bundle: &Path) -> anyhow::Result<()> {
        let bundle = bundle.to_str().context("bundle path is not UTF-8")?;
        self.run_piped(
            scratch,
            &["bundle", "verify", "-q", bundle],
            Vec::new(),
            None,
        )
        .await?;
        Ok(())
    }
}

/// An empty bare repository for `verify_bundle`.
pub fn init_scratch(path: &Path) -> Result<(), GitError> {
    gix::init_bare(path).map_err(GitError::gix)?;
    Ok(())
}

/// The refs a bundle's header names. Refuses anything but a complete v2 bundle (no
/// prerequisites, no capabilities): the kind `write_bundle` makes.
pub fn read_bundle_header(path: &Path) -> anyhow::Result<Vec<RefEntry>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut lines = std::io::BufReader::new(file).split(b'\n');
    let first = lines.next().transpose()?.unwrap_or_default();
    ensure!(first == SIGNATURE.as_bytes(), "not a git bundle (v2)");
    let mut refs = Vec::new();
    for line in lines {
        let line = line?;
        if line.is_empty() {
            return Ok(refs);
        }
        ensure!(
            refs.len() < MAX_HEADER_REFS,
            "more than {MAX_HEADER_REFS} refs"
        );
        let line = String::from_utf8(line).context("a header line is not UTF-8")?;
        let Some((id, name)) = line.split_once(' ') else {
            bail!("unexpected header line {line:?}");
        };
        ensure!(
            is_object_id(id) && is_safe_ref_name(name),
            "unexpected header line {line:?}"
        );
        refs.push(RefEntry {
            name: name.to_owned(),
            id: id.to_owned(),
        });
    }
    bail!("the bundle's header does not end")
}

/// What a restored repository gets back.
pub struct RestoredRepo<'a> {
    pub default_branch: &'a str,
    pub head: Option<&'a str>,
    pub refs: &'a [RefEntry],
    /// None for a repository without refs (nothing to unbundle).
    pub bundle: Option<&'a Path>,
    pub description: Option<Vec<u8>>,
}

impl RepoStore {
    /// Makes the repository at `dir` again: created as a new one is (hook shims included), the
    /// bundle's objects unpacked, then exactly the recorded refs set in one transaction.
    pub async fn restore(
        &self,
        runner: &GitRunner,
        dir: &RepoDir,
        repo: RestoredRepo<'_>,
    ) -> anyhow::Result<()> {
        let store = self.clone();
        let (target, branch) = (dir.clone(), repo.default_branch.to_owned());
        tokio::task::spawn_blocking(move || store.create(&target, &branch)).await??;
        if let Some(bundle) = repo.bundle {
            let bundle = bundle.to_str().context("bundle path is not UTF-8")?;
            runner
                .run_piped(
                    dir.path(),
                    &["bundle", "unbundle", bundle],
                    Vec::new(),
                    None,
                )
                .await?;
            let mut edits = String::new();
            for r in repo.refs {
                ensure!(
                    is_object_id(&r.id) && is_safe_ref_name(&r.name),
                    "unexpected ref {} {}",
                    r.id,
                    r.name
                );
                edits.push_str(&format!("create {} {}\n", r.name, r.id));
            }
            runner
                .run_piped(
                    dir.path(),
                    &["update-ref", "--stdin"],
                    edits.into_bytes(),
                    None,
                )
                .await?;
        }
        if let Some(branch) = repo.head.and_then(|h| h.strip_prefix("refs/heads/"))
            && branch != repo.default_branch
        {
            self.set_head(dir, branch)?;
        }
        if let Some(text) = repo.description {
            std::fs::write(dir.path().join("description"), text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_names_that_could_break_a_line_are_refused() {
        assert!(is_safe_ref_name("refs/heads/main"));
        assert!(is_safe_ref_name("refs/tags/v1.0"));
        assert!(!is_safe_ref_name("HEAD"));
        assert!(!is_safe_ref_name("refs/heads/a b"));
        assert!(!is_safe_ref_name("refs/heads/a\ncreate refs/heads/x 00"));
        assert!(!is_safe_ref_name("refs/heads/a..b"));
    }

    #[test]
    fn headers_other_than_complete_v2_bundles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        let id = "a".repeat(40);
        std::fs::write(&path, format!("{SIGNATURE}\n{id} refs/heads/main\n\nPACK")).unwrap();
        assert_eq!(
            read_bundle_header(&path).unwrap(),
            vec![RefEntry {
                name: "refs/heads/main".into(),
                id: id.clone()
            }]
        );
        std::fs::write(&path, format!("{SIGNATURE}\n-{id} prerequisite\n\n")).unwrap();
        assert!(read_bundle_header(&path).is_err());
        std::fs::write(&path, "# v3 git bundle\n\n").unwrap();
        assert!(read_bundle_header(&path).is_err());
        std::fs::write(&path, format!("{SIGNATURE}\n{id} refs/heads/main\n")).unwrap();
        assert!(read_bundle_header(&path).is_err(), "truncated header");
    }
}
