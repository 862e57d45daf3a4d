//! `commit_as_push`: read the base, check each change against it, build the commit in a
//! scratch folder, and push it into the repository through receive-pack as the editing user.
//!
//! Why receive-pack rather than running the pre-receive decision in-process and moving the ref
//! ourselves: receive-pack is what every push runs, so the edit gets the same ticket, the same
//! hooks in the same order (pre-receive: mirror refusal, branch rules, checks, the pending push
//! record; post-receive: deploys, webhooks, `fixes #N`, mirrors, the timeline), git's own
//! quarantine (the checked objects are the objects that land, and a refused edit leaves none),
//! `receive.fsckObjects`, and git's locked compare-and-swap of the ref against the old id we
//! send. A second path doing the same by hand would drift from the first; the merge of a pull
//! request will take this one.

use std::collections::HashMap;
use std::sync::Arc;

use super::{EditError, EditRequest, ExpectedTip, FileChange, Found, Planned, check_caps, plan};
use crate::domain::{Error, Forge, Grant, ServiceGrant, Streams, Write};
use crate::git::receive_wire::{converse, push_request};
use crate::git::runner::{IndexChange, Scratch, Signature, git_date};
use crate::model::{BranchName, CommitIdentity, EditPath, ZERO_ID};

/// A file the edit wrote.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub path: EditPath,
    pub blob: String,
    pub content: Vec<u8>,
}

/// An author or committer as the commit holds them.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub date: time::OffsetDateTime,
}

/// An edit that landed: its commit on `branch`, and what the hooks said on the way.
#[derive(Debug, Clone)]
pub struct PushOutcome {
    pub branch: BranchName,
    pub commit: String,
    pub tree: String,
    pub parent: Option<String>,
    pub message: String,
    pub author: Person,
    pub committer: Person,
    /// Written files in the order the changes named them.
    pub written: Vec<WrittenFile>,
    /// Paths the edit removed (deletes, and the old side of a rename).
    pub removed: Vec<EditPath>,
    /// Each change's path, in the order the request named them.
    pub named: Vec<EditPath>,
    /// The `remote:` lines a pusher would have seen (checks passing, deploys queued).
    pub said: Vec<String>,
}

/// What the base read gives: the branch's tip, whether the target branch exists, whether
/// the repository has no branch at all, and each change's entries.
type BaseState = (Option<String>, bool, bool, Vec<Found>);

impl Forge {
    /// Makes `req` a commit on its branch as a push by the grant's user (see the module).
    pub async fn commit_as_push(
        self: &Arc<Self>,
        grant: &Grant<Write>,
        req: EditRequest,
    ) -> Result<PushOutcome, EditError> {
        let actor = grant
            .actor()
            .ok_or_else(|| Error::Forbidden("an edit is made by a user".into()))?
            .clone();
        check_caps(&req)?;
        let target = req.new_branch.clone().unwrap_or_else(|| req.branch.clone());
        let new_branch = target != req.branch;
        let (tip, target_exists, empty, found) = self.edit_base(grant, &req, &target).await?;
        let Some(tip) = tip else {
            if !empty {
                return Err(EditError::BranchMissing(req.branch.to_string()));
            }
            // An empty repository: the edit makes its first commit (creates only, as Gitea).
            return self
                .build_and_push(grant, &actor, &req, target, None, found)
                .await;
        };
        if let ExpectedTip::At(expected) = &req.base
            && *expected != tip
        {
            return Err(EditError::Conflict { current: tip });
        }
        if new_branch && target_exists {
            return Err(EditError::BranchExists(target.to_string()));
        }
        self.build_and_push(grant, &actor, &req, target, Some(tip), found)
            .await
    }

    /// Reads the branch tips and each change's entries in one pass over the repository.
    async fn edit_base(
        self: &Arc<Self>,
        grant: &Grant<Write>,
        req: &EditRequest,
        target: &BranchName,
    ) -> Result<BaseState, EditError> {
        let branch = req.branch.as_str().to_owned();
        let other = (target != &req.branch).then(|| target.as_str().to_owned());
        let paths: Vec<(EditPath, Option<EditPath>)> = req
            .changes
            .iter()
            .map(|c| match c {
                FileChange::Update { path, from, .. } => (path.clone(), from.clone()),
                other => (other.path().clone(), None),
            })
            .collect();
        Ok(self
            .read_repo(grant, move |r| {
                let tip = r.branch_head(&branch)?.map(|c| c.id);
                let target_exists = match &other {
                    Some(name) => r.branch_head(name)?.is_some(),
                    None => tip.is_some(),
                };
                let empty = tip.is_none() && r.branches()?.is_empty();
                let mut found = Vec::with_capacity(paths.len());
                for (path, from) in &paths {
                    let (along, from_along) = match &tip {
                        Some(tip) => (
                            r.entries_along(tip, path)?,
                            match from {
                                Some(from) => r.entries_along(tip, from)?,
                                None => Vec::new(),
                            },
                        ),
                        None => (Vec::new(), Vec::new()),
                    };
                    found.push(Found { along, from_along });
                }
                Ok((tip.map(|t| t.0), target_exists, empty, found))
            })
            .await?)
    }

    async fn build_and_push(
        self: &Arc<Self>,
        grant: &Grant<Write>,
        actor: &crate::model::Actor,
        req: &EditRequest,
        target: BranchName,
        tip: Option<String>,
        found: Vec<Found>,
    ) -> Result<PushOutcome, EditError> {
        let pinned = matches!(req.base, ExpectedTip::At(_));
        let planned = plan(&req.changes, &found, pinned)?;
        let dir = self.repo_dir(grant.repo())?;
        let scratch = self.runner.scratch(&dir).map_err(Error::Internal)?;
        let contents: HashMap<&EditPath, &[u8]> = req
            .changes
            .iter()
            .filter_map(|c| c.content().map(|b| (c.path(), b)))
            .collect();
        let (mut index, mut written, mut removed) = (Vec::new(), Vec::new(), Vec::new());
        for step in planned {
            match step {
                Planned::Put { path, executable } => {
                    let content = contents
                        .get(&path)
                        .expect("every planned write comes from a change with contents")
                        .to_vec();
                    let blob = scratch
                        .write_blob(content.clone())
                        .await
                        .map_err(Error::Internal)?;
                    index.push(IndexChange::Put {
                        path: path.to_string(),
                        blob: blob.clone(),
                        executable,
                    });
                    written.push(super::send::WrittenFile {
                        path,
                        blob,
                        content,
                    });
                }
                Planned::Remove(path) => {
                    index.push(IndexChange::Remove {
                        path: path.to_string(),
                    });
                    removed.push(path);
                }
            }
        }
        let (author, committer) = people(actor, req);
        let mut message = req.message.trim().to_owned();
        if message.is_empty() {
            message = FileChange::default_message(&req.changes);
        }
        message.push('\n');
        if req.signoff {
            message.push_str(&format!(
                "\nSigned-off-by: {} <{}>\n",
                committer.name, committer.email
            ));
        }
        let sig = |p: &Person| Signature {
            name: p.name.clone(),
            email: p.email.clone(),
            date: git_date(p.date),
        };
        let tree = scratch
            .tree(tip.as_deref(), &index)
            .await
            .map_err(Error::Internal)?;
        let parents: Vec<&str> = tip.iter().map(String::as_str).collect();
        let commit = scratch
            .commit_tree(&tree, &parents, &message, &sig(&author), &sig(&committer))
            .await
            .map_err(Error::Internal)?;
        let old = if target != req.branch {
            ZERO_ID.to_owned()
        } else {
            tip.clone().unwrap_or_else(|| ZERO_ID.to_owned())
        };
        let said = self
            .push_built(grant, &scratch, &target, &old, &commit, tip.as_deref())
            .await?;
        Ok(PushOutcome {
            branch: target,
            commit,
            tree,
            parent: tip,
            message,
            author,
            committer,
            written,
            removed,
            named: req.changes.iter().map(|c| c.path().clone()).collect(),
            said,
        })
    }

    /// Pushes commit `new`, built in `scratch`, to `target` as the grant's user, expecting the
    /// branch at `old` (the zero id: the branch must not exist); `have` is a commit the
    /// repository has (the pack leaves out what it reaches). What the hooks said on success;
    /// a refusal, a lost race or a failure otherwise. The merge of a pull request pushes
    /// through here too.
    pub(in crate::domain) async fn push_built(
        self: &Arc<Self>,
        grant: &Grant<Write>,
        scratch: &Scratch,
        target: &BranchName,
        old: &str,
        new: &str,
        have: Option<&str>,
    ) -> Result<Vec<String>, EditError> {
        let pack = scratch.pack(new, have).await.map_err(Error::Internal)?;
        let refname = target.refname();
        let streams = Streams {
            stateless_rpc: true,
            advertise_refs: false,
            protocol: None,
        };
        let child = self.git_service(&ServiceGrant::Push(grant.clone()), streams)?;
        let report = converse(child, push_request(old, new, &refname, &pack))
            .await
            .map_err(Error::Internal)?;
        match report.outcome(&refname) {
            Some(Ok(())) => Ok(report.said),
            Some(Err(why)) if why.contains("hook declined") => {
                Err(EditError::Refused { said: report.said })
            }
            other => {
                let why = match other {
                    Some(Err(why)) => why.clone(),
                    _ => report
                        .fatal
                        .clone()
                        .or_else(|| report.unpack.clone().err())
                        .unwrap_or_else(|| "no report".into()),
                };
                let name = target.as_str().to_owned();
                let now = self
                    .read_repo(grant, move |r| Ok(r.branch_head(&name)?.map(|c| c.id.0)))
                    .await?
                    .unwrap_or_else(|| ZERO_ID.to_owned());
                if now != old {
                    return Err(EditError::Conflict { current: now });
                }
                Err(Error::Internal(anyhow::anyhow!(
                    "receive-pack did not take the edit of {refname}: {why}; it said: {}",
                    report.said.join(" / ")
                ))
                .into())
            }
        }
    }
}

/// The commit's author and committer: as given (one standing in for the other, as in Gitea),
/// else the editing user; dates as given, else now.
fn people(actor: &crate::model::Actor, req: &EditRequest) -> (Person, Person) {
    let user = CommitIdentity::parse(&actor.user.name, &actor.user.email).ok();
    let pick = |first: &Option<CommitIdentity>, second: &Option<CommitIdentity>| {
        first
            .clone()
            .or_else(|| second.clone())
            .or_else(|| user.clone())
    };
    let now = time::OffsetDateTime::now_utc();
    let person = |id: Option<CommitIdentity>, date: Option<time::OffsetDateTime>| Person {
        name: id
            .as_ref()
            .map_or_else(|| actor.user.name.clone(), |i| i.name().to_owned()),
        email: id.as_ref().map_or_else(
            || format!("{}@labforge.invalid", actor.user.name),
            |i| i.email().to_owned(),
        ),
        date: date.unwrap_or(now),
    };
    (
        person(pick(&req.author, &req.committer), req.author_date),
        person(pick(&req.committer, &req.author), req.committer_date),
    )
}
