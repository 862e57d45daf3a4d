//! Reading repositories for pages, with a grant of any level (every grant includes reading);
//! the reads run on the blocking pool with a cached gix handle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use super::authorize::repo_from_row;
use super::{Error, Forge, Result};
use super::{Grant, Level};
use crate::git::GitError;
use crate::git::archive_size::{ArchiveLimits, ArchiveRefusal, ArchiveSize};
use crate::git::read::{CommitId, Reader};
use crate::git::runner::{ArchiveFormat, GitChild};
use crate::model::{Actor, Repo};

/// Streamed raw files at once (archives take upload slots instead); more wait up to `DOWNLOAD_WAIT`.
pub const MAX_DOWNLOADS: usize = 32;
const DOWNLOAD_WAIT: Duration = Duration::from_secs(10);

impl Forge {
    /// Runs `f` on the repository's reader on the blocking pool (see `ReadCache::read`: `f`
    /// may run twice).
    pub async fn read_repo<L: Level, T, F>(self: &Arc<Self>, grant: &Grant<L>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Reader) -> std::result::Result<T, GitError> + Send + 'static,
    {
        self.read_repo_row(grant.repo(), f).await
    }

    /// `git archive` of a resolved commit (see `archive_row`).
    pub async fn archive<L: Level>(
        self: &Arc<Self>,
        grant: &Grant<L>,
        format: ArchiveFormat,
        prefix: &str,
        commit: &CommitId,
    ) -> Result<(GitChild, OwnedSemaphorePermit)> {
        self.archive_row(grant.repo(), format, prefix, commit).await
    }

    /// A blob streamed by `git cat-file` (see `stream_blob_row`).
    pub async fn stream_blob<L: Level>(
        &self,
        grant: &Grant<L>,
        blob: &str,
    ) -> Result<(GitChild, OwnedSemaphorePermit)> {
        self.stream_blob_row(grant.repo(), blob).await
    }

    /// The same without a grant, for the domain's own reads (dashboards, pushes, checks).
    pub(in crate::domain) async fn read_repo_row<T, F>(
        self: &Arc<Self>,
        repo: &Repo,
        f: F,
    ) -> Result<T>
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

    /// Starts `git archive` of a resolved commit once its tree is counted within
    /// `ArchiveLimits` (an archive past them is refused with the reason, before git starts);
    /// the caller streams its stdout and holds the slot until it ends.
    async fn archive_row(
        self: &Arc<Self>,
        repo: &Repo,
        format: ArchiveFormat,
        prefix: &str,
        commit: &CommitId,
    ) -> Result<(GitChild, OwnedSemaphorePermit)> {
        let dir = self.repo_dir(repo)?;
        let slot = self.archive_slot().await?;
        if let Err(refusal) = self.check_archive(repo, &commit.0).await? {
            return Err(Error::InvalidInput(refusal.to_string()));
        }
        let child = self
            .runner
            .spawn_archive(&dir, format, prefix, &commit.0)
            .map_err(|e| Error::Internal(e.into()))?;
        Ok((child, slot))
    }

    /// Starts `git cat-file` for a blob (an id from the reader): a large file streamed, never
    /// held whole in memory.
    async fn stream_blob_row(
        &self,
        repo: &Repo,
        blob: &str,
    ) -> Result<(GitChild, OwnedSemaphorePermit)> {
        let dir = self.repo_dir(repo)?;
        let slot = self.download_slot().await?;
        let child = self
            .runner
            .spawn_cat_blob(&dir, blob)
            .map_err(|e| Error::Internal(e.into()))?;
        Ok((child, slot))
    }

    /// Counts the archive of `treeish` (a commit id, branch, tag or `HEAD`) against
    /// `ArchiveLimits::DEFAULT`; a refusal is logged and returned for the client.
    pub async fn check_archive(
        self: &Arc<Self>,
        repo: &Repo,
        treeish: &str,
    ) -> Result<std::result::Result<ArchiveSize, ArchiveRefusal>> {
        let name = treeish.to_owned();
        let counted = self
            .read_repo_row(repo, move |r| r.archive_size(&name, ArchiveLimits::DEFAULT))
            .await?;
        if let Err(refusal) = &counted {
            tracing::info!(repo = %repo.name, %refusal, "archive refused");
        }
        Ok(counted)
    }

    /// An archive compresses a whole tree, as CPU-heavy as a clone's pack: it takes one of the
    /// upload-pack slots (every transport's), waiting up to `DOWNLOAD_WAIT` for one.
    pub async fn archive_slot(&self) -> Result<OwnedSemaphorePermit> {
        let wait = Arc::clone(&self.upload_slots).acquire_owned();
        match tokio::time::timeout(DOWNLOAD_WAIT, wait).await {
            Ok(permit) => Ok(permit.expect("never closed")),
            Err(_) => Err(Error::Throttled(Duration::from_secs(10))),
        }
    }

    /// One of `MAX_DOWNLOADS` slots, waiting up to `DOWNLOAD_WAIT` for one to free up.
    async fn download_slot(&self) -> Result<OwnedSemaphorePermit> {
        let wait = Arc::clone(&self.download_slots).acquire_owned();
        match tokio::time::timeout(DOWNLOAD_WAIT, wait).await {
            Ok(permit) => Ok(permit.expect("never closed")),
            Err(_) => Err(Error::Throttled(Duration::from_secs(10))),
        }
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
