//! Recorded check runs, for their pages: `/OWNER/REPO/checks` and `/OWNER/REPO/checks/N` (the
//! target URL of a check's commit status). Running them is `push::checks`.

use super::{Error, Forge, Grant, Level, Result};

pub use crate::storage::{CheckLogRow as CheckLogLine, CheckRunRow as CheckRun};

impl Forge {
    /// Run `id` of the grant's repository; another repository's run is NotFound.
    pub async fn check_run<L: Level>(&self, grant: &Grant<L>, id: i64) -> Result<CheckRun> {
        self.db
            .check_run(grant.repo().id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// `run`'s output; a run of another repository than the grant's is NotFound.
    pub async fn check_log<L: Level>(
        &self,
        grant: &Grant<L>,
        run: &CheckRun,
    ) -> Result<Vec<CheckLogLine>> {
        if run.repo_id != grant.repo().id {
            return Err(Error::NotFound);
        }
        Ok(self.db.check_log(run.id).await?)
    }

    /// The newest 100 runs of the grant's repository.
    pub async fn check_runs<L: Level>(&self, grant: &Grant<L>) -> Result<Vec<CheckRun>> {
        Ok(self.db.check_runs(grant.repo().id, 100).await?)
    }
}
