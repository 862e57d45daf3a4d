//! Recorded check runs, for their pages: `/OWNER/REPO/checks` and `/OWNER/REPO/checks/N` (the
//! target URL of a check's commit status). Running them is `push::checks`.

use super::{Error, Forge, Result};
use crate::model::Repo;

pub use crate::storage::{CheckLogRow as CheckLogLine, CheckRunRow as CheckRun};

impl Forge {
    /// Run `id` of `repo`; another repository's run is NotFound.
    pub async fn check_run(&self, repo: &Repo, id: i64) -> Result<CheckRun> {
        self.db.check_run(repo.id, id).await?.ok_or(Error::NotFound)
    }

    pub async fn check_log(&self, run: &CheckRun) -> Result<Vec<CheckLogLine>> {
        Ok(self.db.check_log(run.id).await?)
    }

    /// The newest 100 runs of `repo`.
    pub async fn check_runs(&self, repo: &Repo) -> Result<Vec<CheckRun>> {
        Ok(self.db.check_runs(repo.id, 100).await?)
    }
}
