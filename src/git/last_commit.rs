//! The tree page's "last commit per entry", the page peers are slow on (they run `git log -1`
//! once per entry). Here it is one walk for the whole folder (`path_walk`), giving each entry
//! what `git log -1 -- FOLDER/ENTRY` gives, skipping the commits whose changed-path filter says
//! they did not touch the folder.
//!
//! The walk runs once per (commit, folder), on its own thread: a page never waits a fixed time
//! for it. The request that starts it waits until it ends or `FIRST_WAIT` passes (most folders
//! take milliseconds); any request meanwhile shows what the walk has found so far, with a
//! notice. The answer is kept in memory and on disk, by commit id, so neither a later request
//! nor a restart walks again; and a walk that reaches a commit with a kept answer takes the
//! remaining entries from it, so after a push only the new commits are walked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gix::ObjectId;

use super::GitError;
use super::commits::Commits;
use super::history_cache::{
    FolderAnswer, FolderProgress, Kept, KeptKey, Key, Value, kept_body, kept_header,
};
use super::jobs::Job;
use super::path_walk::PathWalk;
use super::reader::{CommitId, CommitInfo, Reader};
use crate::model::TreePath;

/// How long the request that starts a walk waits for it (it returns as soon as the walk ends).
const FIRST_WAIT: Duration = Duration::from_millis(100);
/// A walk gives up after this long (a history far beyond any seen; the page says so).
const BACKGROUND_BUDGET: Duration = Duration::from_secs(120);
/// Folder walks running at once (each is a thread).
pub(super) const MAX_FOLDER_WALKS: usize = 2;

/// Each entry of a folder with the commit that last changed it, when known.
pub type LastCommits = Vec<(String, Option<Arc<CommitInfo>>)>;

impl Reader {
    /// The answers for `names` in the folder at `path` of `start`; the flag is false when some
    /// are still being looked for in the background.
    pub fn last_commits(
        &self,
        start: &CommitId,
        path: &TreePath,
        names: &[String],
    ) -> Result<(LastCommits, bool), GitError> {
        let start = start.oid()?;
        if let Some(answer) = self.folder_answer(start, path) {
            return Ok((self.arrange(names, |n| find(&answer, n))?, true));
        }
        let Some((job, started)) = self.folder_walk(start, path, names) else {
            return Ok((names.iter().map(|n| (n.clone(), None)).collect(), false));
        };
        if started {
            job.wait(FIRST_WAIT);
        }
        if let Some(answer) = self.folder_answer(start, path) {
            return Ok((self.arrange(names, |n| find(&answer, n))?, true));
        }
        let found: FolderProgress = job.read(|p, _| p.clone());
        Ok((self.arrange(names, |n| found.get(n).copied())?, false))
    }

    /// Computes (and keeps, on disk too) the last commits of the root folder at `branch`, so the
    /// first visit after a push, or after a restart, is served from the cache.
    pub fn warm(&self, branch: &str) -> Result<(), GitError> {
        let Some(head) = self.branch_head(branch)? else {
            return Ok(());
        };
        let start = head.id.oid()?;
        let root = TreePath::default();
        if self.folder_answer(start, &root).is_some() {
            return Ok(());
        }
        let tree = self
            .repository()
            .find_commit(start)
            .map_err(GitError::gix)?
            .tree_id()
            .map_err(GitError::gix)?
            .detach();
        let names = super::path_walk::Listing::read(self.repository(), tree)?.names();
        if let Some((job, _)) = self.folder_walk(start, &root, &names) {
            job.wait(BACKGROUND_BUDGET);
        }
        Ok(())
    }

    /// The complete answer for (commit, folder), from memory or disk.
    fn folder_answer(&self, commit: ObjectId, path: &TreePath) -> Option<Arc<FolderAnswer>> {
        let history = &self.cache.history();
        let key = Key::Folder(commit, path.as_str().to_owned());
        if let Some(Value::Folder(a)) = history.get(&key) {
            return Some(a);
        }
        let name = KeptKey::new(Kept::Folder, commit, path.as_str());
        let data = history.kept.read(self.repo_dir(), &name)?;
        let answer = Arc::new(decode(&data, path.as_str())?);
        history.put(key, Value::Folder(Arc::clone(&answer)));
        Some(answer)
    }

    /// The walk for (start, folder): the running one, or a new one (true) if a slot is free.
    fn folder_walk(
        &self,
        start: ObjectId,
        path: &TreePath,
        names: &[String],
    ) -> Option<(Arc<Job<FolderProgress>>, bool)> {
        let key = (start, path.as_str().to_owned());
        let mut started = false;
        let dir = self.repo_dir().to_path_buf();
        let cache = Arc::clone(&self.cache);
        let (path, names) = (path.clone(), names.to_vec());
        let job = self.cache.folder_walks().join_or_start(
            key,
            || {
                started = true;
                FolderProgress::new()
            },
            move |job| {
                let Some(reader) = Reader::for_walk(&dir, cache) else {
                    return;
                };
                if let Err(e) = reader.walk_folder(start, &path, &names, job) {
                    tracing::warn!(error = %e, folder = path.as_str(), "finding last commits failed");
                }
            },
        )?;
        Some((job, started))
    }

    fn walk_folder(
        &self,
        start: ObjectId,
        path: &TreePath,
        names: &[String],
        job: &Job<FolderProgress>,
    ) -> Result<(), GitError> {
        if self.folder_answer(start, path).is_some() {
            return Ok(()); // kept by a walk that ended just before this one started
        }
        let deadline = Instant::now() + BACKGROUND_BUDGET;
        let commits = Commits::new(self);
        let mut walk = PathWalk::new(&commits, start, path, names, true)?;
        // Every complete answer is kept on disk too: the commits that have one are known now.
        let kept: std::collections::HashSet<ObjectId> = self
            .cache
            .history()
            .kept
            .commits(self.repo_dir(), Kept::Folder, path.as_str())
            .into_iter()
            .collect();
        let known = |c: ObjectId| {
            kept.contains(&c)
                .then(|| self.folder_answer(c, path))
                .flatten()
        };
        let mut answer = FolderAnswer::new();
        loop {
            if Instant::now() > deadline {
                tracing::warn!(
                    folder = path.as_str(),
                    "finding last commits ran out of time"
                );
                return Ok(());
            }
            let Some(found) = walk.next(Some(&known))? else {
                break;
            };
            if found.entries.is_empty() {
                continue;
            }
            job.update(|p| {
                for e in &found.entries {
                    p.insert(names[*e as usize].clone(), found.commit);
                }
            });
            for e in found.entries {
                answer.push((names[e as usize].clone(), found.commit));
            }
        }
        answer.sort();
        let name = KeptKey::new(Kept::Folder, start, path.as_str());
        self.cache
            .history()
            .kept
            .keep(self.repo_dir(), &name, &encode(&answer, path.as_str()));
        self.cache.history().put(
            Key::Folder(start, path.as_str().to_owned()),
            Value::Folder(Arc::new(answer)),
        );
        Ok(())
    }

    fn arrange(
        &self,
        names: &[String],
        commit_of: impl Fn(&str) -> Option<ObjectId>,
    ) -> Result<LastCommits, GitError> {
        names
            .iter()
            .map(|n| {
                let info = match commit_of(n) {
                    Some(c) => Some(self.shared_summary(c)?),
                    None => None,
                };
                Ok((n.clone(), info))
            })
            .collect()
    }

    /// A commit's details, from the memory cache when it was shown recently.
    pub(super) fn commit_summary(&self, id: ObjectId) -> Result<CommitInfo, GitError> {
        self.shared_summary(id).map(|info| (*info).clone())
    }

    /// `commit_summary`, shared with the cache rather than copied.
    fn shared_summary(&self, id: ObjectId) -> Result<Arc<CommitInfo>, GitError> {
        let key = Key::Info(id);
        if let Some(Value::Info(info)) = self.cache.history().get(&key) {
            return Ok(info);
        }
        let info = Arc::new(self.commit_info(id)?);
        self.cache
            .history()
            .put(key, Value::Info(Arc::clone(&info)));
        Ok(info)
    }
}

fn find(answer: &FolderAnswer, name: &str) -> Option<ObjectId> {
    answer
        .binary_search_by(|(n, _)| n.as_str().cmp(name))
        .ok()
        .map(|i| answer[i].1)
}

const MAGIC: &[u8] = b"labforge last commits 1\n";

/// `MAGIC`, the folder's path and a NUL, then `name NUL commit-id(20 bytes)` per entry.
fn encode(answer: &FolderAnswer, path: &str) -> Vec<u8> {
    let mut data = kept_header(MAGIC, path);
    for (name, id) in answer {
        data.extend_from_slice(name.as_bytes());
        data.push(0);
        data.extend_from_slice(id.as_bytes());
    }
    data
}

/// None when the data is not an answer for `path` (damaged, or a hash collision of paths).
fn decode(data: &[u8], path: &str) -> Option<FolderAnswer> {
    let mut rest = kept_body(data, MAGIC, path)?;
    let mut answer = FolderAnswer::new();
    while !rest.is_empty() {
        let end = memchr::memchr(0, rest)?;
        let name = std::str::from_utf8(&rest[..end]).ok()?.to_owned();
        let id = rest.get(end + 1..end + 21)?;
        answer.push((name, ObjectId::try_from(id).ok()?));
        rest = &rest[end + 21..];
    }
    answer.is_sorted().then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_answers_read_back_and_refuse_another_path() {
        let id = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        let answer: FolderAnswer = vec![("Makefile".into(), id), ("docs".into(), id)];
        let data = encode(&answer, "src/a");
        assert_eq!(decode(&data, "src/a"), Some(answer));
        assert_eq!(decode(&data, "src/b"), None);
        assert_eq!(decode(&data[..data.len() - 3], "src/a"), None);
    }
}
