//! Reads for the Gitea-shaped API (`api::git`): refs with their objects, whole commit and tag
//! objects, trees as git lists them, and a path's contents. Every loop over what a pusher
//! controls (refs, tree entries, `.gitmodules`) stops at a cap its caller passes and says so.
//! Objects are reached only through refs: a commit by an id the refs reach, a tag object a tag
//! ref names, a tree or blob by a path inside such a commit (see `reach`).

use gix::bstr::ByteSlice;

use super::*;

/// A person and a moment, as a commit or tag records them.
#[derive(Debug, Clone)]
pub struct Signature {
    pub name: String,
    pub email: String,
    /// Seconds since the epoch.
    pub seconds: i64,
    /// The recorded time zone's offset from UTC, in seconds.
    pub offset: i32,
}

/// A commit object in full (the API shows its whole message and both signatures).
#[derive(Debug, Clone)]
pub struct CommitDetail {
    pub id: String,
    pub tree: String,
    pub message: String,
    pub author: Signature,
    pub committer: Signature,
    pub parents: Vec<String>,
}

/// A ref and the object it names (`kind`: commit, tag, tree or blob), with the commit it peels to.
#[derive(Debug, Clone)]
pub struct RefTarget {
    /// The full name, `refs/heads/main`.
    pub name: String,
    pub id: String,
    pub kind: &'static str,
    pub commit: Option<String>,
}

/// An annotated tag object.
#[derive(Debug, Clone)]
pub struct TagDetail {
    pub id: String,
    pub name: String,
    pub message: String,
    pub tagger: Option<Signature>,
    pub target: String,
    pub target_kind: &'static str,
}

/// One entry of a tree as `git ls-tree -l` shows it.
#[derive(Debug, Clone)]
pub struct GitEntryView {
    pub path: String,
    /// Octal, six digits: `100644`, `040000`.
    pub mode: String,
    /// blob, tree or commit.
    pub kind: &'static str,
    pub id: String,
    /// A blob's size; 0 for trees and submodules.
    pub size: u64,
}

/// A tree's entries in git's order, the walk cut at the caller's cap.
#[derive(Debug, Clone)]
pub struct TreeListing {
    pub id: String,
    pub entries: Vec<GitEntryView>,
    pub cut: bool,
}

/// A path as Gitea's contents API shows it: `kind` is file, dir, symlink or submodule.
#[derive(Debug, Clone)]
pub struct ContentEntry {
    pub name: String,
    pub path: String,
    pub kind: &'static str,
    pub id: String,
    pub size: u64,
    /// A file's bytes, when asked for and at most the caller's limit.
    pub content: Option<Vec<u8>>,
    /// A symlink's target (its blob, at most `MAX_LINK_TARGET` bytes).
    pub target: Option<String>,
    /// A submodule's URL from `.gitmodules` at the same commit.
    pub submodule_url: Option<String>,
}

/// What a path names: one entry, or a folder's entries (cut at the caller's cap).
#[derive(Debug, Clone)]
pub enum Contents {
    Entry(ContentEntry),
    Dir {
        entries: Vec<ContentEntry>,
        cut: bool,
    },
}

/// Bytes of a symlink's target read (Gitea reads 1024).
pub const MAX_LINK_TARGET: u64 = 1024;
/// `.gitmodules` larger than this is not read: no submodule URL is given.
const MAX_GITMODULES: u64 = 64 * 1024;

fn kind_name(kind: gix::object::Kind) -> &'static str {
    match kind {
        gix::object::Kind::Commit => "commit",
        gix::object::Kind::Tag => "tag",
        gix::object::Kind::Tree => "tree",
        gix::object::Kind::Blob => "blob",
    }
}

fn signature(sig: gix::actor::SignatureRef<'_>) -> Signature {
    let time = sig.time().unwrap_or_default();
    Signature {
        name: sig.name.to_str_lossy().trim().to_owned(),
        email: sig.email.to_str_lossy().trim().to_owned(),
        seconds: time.seconds,
        offset: time.offset,
    }
}

impl Reader {
    /// Refs under `prefix` (`refs/`, `refs/heads/`, or one full name), in name order, at most
    /// `cap`; the second value says more followed. Symbolic refs are left out.
    pub fn list_refs(&self, prefix: &str, cap: usize) -> Result<(Vec<RefTarget>, bool), GitError> {
        let platform = self.repo.references().map_err(GitError::gix)?;
        let mut out = Vec::new();
        let Ok(iter) = platform.prefixed(prefix) else {
            return Ok((out, false));
        };
        for reference in iter {
            // A ref packed away between listing and reading is missed (see `refs`).
            let Ok(mut reference) = reference else {
                continue;
            };
            let Some(id) = reference.target().try_id().map(|id| id.to_owned()) else {
                continue;
            };
            if out.len() == cap {
                return Ok((out, true));
            }
            let kind = self
                .repo
                .find_header(id)
                .map(|h| kind_name(h.kind()))
                .unwrap_or("commit");
            let commit = match kind {
                "commit" => Some(id.to_hex().to_string()),
                _ => reference
                    .peel_to_commit()
                    .ok()
                    .map(|c| c.id.to_hex().to_string()),
            };
            out.push(RefTarget {
                name: reference.name().as_bstr().to_str_lossy().into_owned(),
                id: id.to_hex().to_string(),
                kind,
                commit,
            });
        }
        Ok((out, false))
    }

    /// A commit the refs reach, named by a full or abbreviated id, in full.
    pub fn commit_detail(&self, id: &str) -> Result<Option<CommitDetail>, GitError> {
        let Some(oid) = self.commit_oid(&CommitId(id.to_owned()))? else {
            return Ok(None);
        };
        if !self.reaches(oid)? {
            return Ok(None);
        }
        let commit = self.repo.find_commit(oid).map_err(GitError::gix)?;
        Ok(Some(CommitDetail {
            id: oid.to_hex().to_string(),
            tree: commit
                .tree_id()
                .map_err(GitError::gix)?
                .to_hex()
                .to_string(),
            message: commit
                .message_raw()
                .map_err(GitError::gix)?
                .to_str_lossy()
                .into_owned(),
            author: signature(commit.author().map_err(GitError::gix)?),
            committer: signature(commit.committer().map_err(GitError::gix)?),
            parents: commit
                .parent_ids()
                .map(|p| p.to_hex().to_string())
                .collect(),
        }))
    }

    /// The annotated tag object `id` (40 hex digits), if one of the first `cap` tag refs names it.
    pub fn annotated_tag(&self, id: &str, cap: usize) -> Result<Option<TagDetail>, GitError> {
        let Ok(oid) = gix::ObjectId::from_hex(id.as_bytes()) else {
            return Ok(None);
        };
        let (tags, _) = self.list_refs("refs/tags/", cap)?;
        if !tags.iter().any(|t| t.id == id && t.kind == "tag") {
            return Ok(None);
        }
        self.tag_object(&oid.to_hex().to_string())
    }

    /// Tags as Gitea lists them: newest first by the date git sorts `-*creatordate` on (an
    /// annotated tag's tagger, else the commit's committer), ties in name order; the first
    /// `cap` tag refs are dated, each by reading its object.
    pub fn tags_by_date(&self, cap: usize) -> Result<(Vec<RefTarget>, bool), GitError> {
        self.refs_by_date("refs/tags/", cap)
    }

    /// Branches as Gitea lists them (`commit_time DESC, name ASC`), of the first `cap`.
    pub fn branches_by_date(&self, cap: usize) -> Result<(Vec<RefTarget>, bool), GitError> {
        self.refs_by_date("refs/heads/", cap)
    }

    fn refs_by_date(&self, prefix: &str, cap: usize) -> Result<(Vec<RefTarget>, bool), GitError> {
        let (tags, more) = self.list_refs(prefix, cap)?;
        let mut dated = Vec::with_capacity(tags.len());
        for tag in tags {
            let id = gix::ObjectId::from_hex(tag.id.as_bytes()).map_err(GitError::gix)?;
            let object = self.repo.find_object(id).map_err(GitError::gix)?;
            let seconds = match object.kind {
                gix::object::Kind::Tag => object
                    .try_into_tag()
                    .ok()
                    .and_then(|t| t.tagger().ok().flatten().map(|s| s.seconds())),
                gix::object::Kind::Commit => object
                    .try_into_commit()
                    .ok()
                    .and_then(|c| c.committer().ok().map(|s| s.seconds())),
                _ => None,
            };
            dated.push((seconds.unwrap_or(0), tag));
        }
        // Stable: equal dates keep the listing's name order.
        dated.sort_by_key(|d| std::cmp::Reverse(d.0));
        Ok((dated.into_iter().map(|(_, t)| t).collect(), more))
    }

    /// The objects behind a ref `list_refs` gave, if it still names the same one: an annotated
    /// tag's object, and the commit it peels to.
    pub fn ref_objects(
        &self,
        target: &RefTarget,
    ) -> Result<(Option<TagDetail>, Option<CommitDetail>), GitError> {
        let now = self
            .repo
            .try_find_reference(target.name.as_str())
            .ok()
            .flatten()
            .and_then(|r| r.target().try_id().map(|id| id.to_hex().to_string()));
        if now.as_deref() != Some(target.id.as_str()) {
            return Ok((None, None));
        }
        let tag = match target.kind {
            "tag" => self.tag_object(&target.id)?,
            _ => None,
        };
        let commit = match &target.commit {
            Some(c) => self.commit_detail(c)?,
            None => None,
        };
        Ok((tag, commit))
    }

    fn tag_object(&self, id: &str) -> Result<Option<TagDetail>, GitError> {
        let Ok(oid) = gix::ObjectId::from_hex(id.as_bytes()) else {
            return Ok(None);
        };
        let tag = self.repo.find_tag(oid).map_err(GitError::gix)?;
        let decoded = tag.decode().map_err(GitError::gix)?;
        Ok(Some(TagDetail {
            id: id.to_owned(),
            name: decoded.name.to_str_lossy().into_owned(),
            message: decoded.message.to_str_lossy().into_owned(),
            tagger: decoded.tagger().ok().flatten().map(signature),
            target: decoded.target().to_hex().to_string(),
            target_kind: kind_name(decoded.target_kind),
        }))
    }

    /// The tree of the commit `rev` names (a branch, tag or reachable commit id), listed in git's
    /// order, depth first with folders before their entries when `recursive`; at most `cap`.
    pub fn git_tree(
        &self,
        rev: &str,
        recursive: bool,
        cap: usize,
    ) -> Result<Option<TreeListing>, GitError> {
        let Some(at) = self.resolve(rev)?.filter(|at| at.path.is_root()) else {
            return Ok(None);
        };
        let Some((true, root)) = self.lookup(at.commit.oid()?, &TreePath::default())? else {
            return Ok(None);
        };
        let mut entries = Vec::new();
        // The folders being listed, innermost last: their path prefix, entries, next position.
        // Each frame stands for a listed folder, so the stack holds at most `cap` of them.
        let mut stack = vec![(String::new(), self.tree_entries(root)?, 0usize)];
        let mut cut = false;
        while let Some((prefix, list, pos)) = stack.last_mut() {
            let Some((name, mode, id)) = list.get(*pos).cloned() else {
                stack.pop();
                continue;
            };
            *pos += 1;
            if entries.len() == cap {
                cut = true;
                break;
            }
            let path = format!("{prefix}{name}");
            let kind = if mode.is_tree() {
                "tree"
            } else if mode.is_commit() {
                "commit"
            } else {
                "blob"
            };
            let size = match kind {
                "blob" => self.repo.find_header(id).map_err(GitError::gix)?.size(),
                _ => 0,
            };
            entries.push(GitEntryView {
                path: path.clone(),
                mode: format!("{:06o}", mode.value()),
                kind,
                id: id.to_hex().to_string(),
                size,
            });
            // As `git ls-tree -r -t`: a folder, then its entries, then its next sibling.
            if recursive && mode.is_tree() {
                stack.push((format!("{path}/"), self.tree_entries(id)?, 0));
            }
        }
        Ok(Some(TreeListing {
            id: root.to_hex().to_string(),
            entries,
            cut,
        }))
    }

    /// What `path` names at `commit`: an entry (a file's bytes when at most `content_limit`),
    /// or a folder's first `cap` entries (without bytes).
    pub fn contents(
        &self,
        commit: &CommitId,
        path: &TreePath,
        content_limit: u64,
        cap: usize,
    ) -> Result<Option<Contents>, GitError> {
        let oid = commit.oid()?;
        if path.is_root() {
            let Some((_, root)) = self.lookup(oid, path)? else {
                return Ok(None);
            };
            return self.dir_contents(oid, "", root, cap).map(Some);
        }
        let tree = self
            .repo
            .find_commit(oid)
            .map_err(GitError::gix)?
            .tree()
            .map_err(GitError::gix)?;
        let Some(entry) = tree
            .lookup_entry_by_path(path.as_str())
            .map_err(GitError::gix)?
        else {
            return Ok(None);
        };
        if entry.mode().is_tree() {
            return self
                .dir_contents(oid, path.as_str(), entry.object_id(), cap)
                .map(Some);
        }
        let name = path.file_name().to_owned();
        self.content_entry(
            oid,
            name,
            path.as_str().to_owned(),
            entry.mode(),
            entry.object_id(),
            Some(content_limit),
        )
        .map(|e| Some(Contents::Entry(e)))
    }

    fn tree_entries(
        &self,
        id: gix::ObjectId,
    ) -> Result<Vec<(String, gix::object::tree::EntryMode, gix::ObjectId)>, GitError> {
        let tree = self.repo.find_tree(id).map_err(GitError::gix)?;
        tree.iter()
            .map(|e| {
                let e = e.map_err(GitError::gix)?;
                Ok((
                    e.filename().to_str_lossy().into_owned(),
                    e.mode(),
                    e.object_id(),
                ))
            })
            .collect()
    }

    fn dir_contents(
        &self,
        commit: gix::ObjectId,
        folder: &str,
        tree_id: gix::ObjectId,
        cap: usize,
    ) -> Result<Contents, GitError> {
        let tree = self.repo.find_tree(tree_id).map_err(GitError::gix)?;
        let mut entries = Vec::new();
        for entry in tree.iter() {
            let entry = entry.map_err(GitError::gix)?;
            if entries.len() == cap {
                return Ok(Contents::Dir { entries, cut: true });
            }
            let name = entry.filename().to_str_lossy().into_owned();
            let path = if folder.is_empty() {
                name.clone()
            } else {
                format!("{folder}/{name}")
            };
            entries.push(self.content_entry(
                commit,
                name,
                path,
                entry.mode(),
                entry.object_id(),
                None,
            )?);
        }
        Ok(Contents::Dir {
            entries,
            cut: false,
        })
    }

    fn content_entry(
        &self,
        commit: gix::ObjectId,
        name: String,
        path: String,
        mode: gix::object::tree::EntryMode,
        id: gix::ObjectId,
        content_limit: Option<u64>,
    ) -> Result<ContentEntry, GitError> {
        let mut out = ContentEntry {
            name,
            path,
            kind: "file",
            id: id.to_hex().to_string(),
            size: 0,
            content: None,
            target: None,
            submodule_url: None,
        };
        if mode.is_tree() {
            out.kind = "dir";
        } else if mode.is_commit() {
            out.kind = "submodule";
            out.submodule_url = self.submodule_url(commit, &out.path)?;
        } else {
            out.size = self.repo.find_header(id).map_err(GitError::gix)?.size();
            if mode.is_link() {
                out.kind = "symlink";
                let data = self.blob_bytes(id, MAX_LINK_TARGET)?.unwrap_or_default();
                out.target = Some(String::from_utf8_lossy(&data).into_owned());
            } else if let Some(limit) = content_limit {
                out.content = self.blob_bytes(id, limit)?;
            }
        }
        Ok(out)
    }

    /// The `url` of the `.gitmodules` section whose `path` is `path`, at `commit`.
    fn submodule_url(&self, commit: gix::ObjectId, path: &str) -> Result<Option<String>, GitError> {
        let Some((false, id)) = self.lookup(
            commit,
            &TreePath::parse(".gitmodules").map_err(GitError::gix)?,
        )?
        else {
            return Ok(None);
        };
        let Some(data) = self.blob_bytes(id, MAX_GITMODULES)? else {
            return Ok(None);
        };
        Ok(gitmodules_url(&String::from_utf8_lossy(&data), path))
    }
}

/// The `url` of the section of `.gitmodules` text whose `path` is `path` (git-config syntax,
/// the subset `git submodule add` writes: `[submodule "name"]`, then `key = value` lines).
pub(super) fn gitmodules_url(text: &str, path: &str) -> Option<String> {
    let mut section: (Option<String>, Option<String>) = (None, None);
    let mut found = None;
    let mut close = |section: &mut (Option<String>, Option<String>)| {
        if let (Some(p), Some(u)) = std::mem::take(section)
            && p == path
            && found.is_none()
        {
            found = Some(u);
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            close(&mut section);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim() {
            "path" => section.0 = Some(value),
            "url" => section.1 = Some(value),
            _ => {}
        }
    }
    close(&mut section);
    found
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
