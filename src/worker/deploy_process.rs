//! A deploy's working folder: the commit's files, kept between runs. The command itself runs
//! through `crate::job` (its own process group, a cleared environment, output line by line).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::git::{GitRunner, RepoDir};

pub use crate::job::{Ending, Spec, run};

/// Makes `folder/tree` hold exactly `commit`'s files and returns it: the run's working folder.
/// The folder is kept between runs of one deploy (which never overlap), so only what changed
/// is written (see `GitRunner::sync_work_tree`); on any trouble (a run killed while git wrote,
/// a folder a script broke) it starts over from an empty folder. `quarantine`: a gate run's
/// push, whose objects are not in the repository yet.
pub async fn prepare_folder(
    runner: &GitRunner,
    repo: &RepoDir,
    commit: &str,
    folder: &Path,
    quarantine: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let tree = folder.join("tree");
    let index = folder.join("index");
    // Left by a run killed while git wrote the index; nothing else writes here now.
    let _ = tokio::fs::remove_file(folder.join("index.lock")).await;
    if tokio::fs::metadata(&tree).await.is_ok_and(|m| m.is_dir()) {
        match runner
            .sync_work_tree(repo, commit, &tree, &index, quarantine)
            .await
        {
            Ok(()) => return Ok(tree),
            Err(e) => tracing::warn!(
                error = %format!("{e:#}"),
                folder = %folder.display(),
                "updating a deploy's folder failed; writing it afresh"
            ),
        }
    }
    if let Err(e) = tokio::fs::remove_dir_all(folder).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(e).with_context(|| format!("clearing {}", folder.display()));
    }
    tokio::fs::create_dir_all(&tree)
        .await
        .with_context(|| format!("creating {}", tree.display()))?;
    runner
        .sync_work_tree(repo, commit, &tree, &index, quarantine)
        .await
        .context("writing the commit's files")?;
    Ok(tree)
}
