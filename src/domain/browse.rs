//! Reading repositories for pages: access is checked by the caller with `authorize`; the reads
//! run on the blocking pool with a cached gix handle.

use std::sync::Arc;

use super::authorize::repo_from_row;
use super::{Error, Forge, Result};
use crate::git::GitError;
use crate::git::read::{CommitId, Reader};
use crate::git::runner::{ArchiveFormat, GitChild};
use crate::model::{Actor, Repo};

impl Forge {
    /// Runs `f` on the repository's reader on the blocking pool (see `ReadCache::read`: `f`
    /// may run twice).
    pub async fn read_repo<T, F>(self: &Arc<Self>, repo: &Repo, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Reader) -> std::result::Result<T, GitError> + Send + 'static,
    {
        let dir = self.repo_dir(repo)?;
        let reads = Arc::clone(&self.reads);
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| reads.read(&dir, f)))
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("read task failed: {e}")))?
            .map_err(Error::from)
    }

    /// Starts `git archive` of a resolved commit; the caller streams its stdout.
    pub fn archive(
        &self,
        repo: &Repo,
        format: ArchiveFormat,
        prefix: &str,
        commit: &CommitId,
    ) -> Result<GitChild> {
        let dir = self.repo_dir(repo)?;
        self.runner
            .spawn_archive(&dir, format, prefix, &commit.0)
            .map_err(|e| Error::Internal(e.into()))
    }

    /// Repositories listed on the front page and user pages: what `actor` may read (public
    /// ones for anonymous visitors), most recently pushed first; optionally one owner's only.
    pub async fn listed_repos(
        &self,
        actor: Option<&Actor>,
        owner: Option<&str>,
    ) -> Result<Vec<Repo>> {
        let repos: Vec<Repo> = match actor {
            Some(a) => self
                .visible_repos(a)
                .await?
                .into_iter()
                .map(|(r, _)| r)
                .collect(),
            None => self
                .db
                .public_repos()
                .await?
                .into_iter()
                .map(repo_from_row)
                .collect(),
        };
        Ok(repos
            .into_iter()
            .filter(|r| owner.is_none_or(|o| r.owner.eq_ignore_ascii_case(o)))
            .collect())
    }
}
