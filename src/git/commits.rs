//! The commits of one walk, read from the commit-graph when it has them, else from the objects
//! through the handle requests share.

use std::cell::{Ref, RefCell};

use gix::ObjectId;

use super::GitError;
use super::graph::{CommitGraph, Node};
use super::handles::Opened;
use super::reader::Reader;
use std::sync::Arc;

/// Commits for one walk: from the commit-graph when it has them, else from the objects.
pub(super) struct Commits<'r> {
    reader: &'r Reader,
    graph: Option<Arc<CommitGraph>>,
    /// The repository the walk reads objects through: the handle requests share, taken again
    /// once it is old (`handles::LIFETIME`) or retired (`handles::retire_open_handles`). gix
    /// maps packs whole and keeps every page read through a handle mapped while it lives, and
    /// each open handle maps the pack index anew (31 MB for 1.1 million objects, soon all
    /// resident under a walk): walks holding handles of their own kept three or four copies
    /// of it resident. Sharing keeps one, and lets it go when the requests' handle goes.
    repo: RefCell<(gix::Repository, Opened)>,
}

impl<'r> Commits<'r> {
    pub fn new(reader: &'r Reader) -> Self {
        let held = reader
            .cache
            .shared_handle(reader.repo_dir())
            .unwrap_or_else(|_| (reader.repository().clone(), Opened::now()));
        Self {
            reader,
            graph: reader.commit_graph(),
            repo: RefCell::new(held),
        }
    }

    /// The repository to read objects through now. Hold it briefly: a handle is replaced only
    /// while nobody holds it.
    pub fn repo(&self) -> Ref<'_, gix::Repository> {
        if let Ok(mut held) = self.repo.try_borrow_mut()
            && held.1.is_old(super::handles::LIFETIME)
        {
            // On failure the walk goes on with the handle it has.
            if let Ok(now) = self.reader.cache.shared_handle(self.reader.repo_dir()) {
                *held = now;
            }
        }
        Ref::map(self.repo.borrow(), |(repo, _)| repo)
    }

    pub fn node(&self, id: ObjectId) -> Result<Node<'_>, GitError> {
        if let Some(found) = self.graph.as_ref().and_then(|g| g.node(&id)) {
            return found;
        }
        let repo = self.repo();
        let commit = repo.find_commit(id).map_err(GitError::gix)?;
        let decoded = commit.decode().map_err(GitError::gix)?;
        Ok(Node {
            tree: decoded.tree(),
            parents: decoded.parents().collect(),
            time: decoded.committer().map_err(GitError::gix)?.seconds(),
            generation: None,
            filter: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::git;
    use super::*;

    /// A walk reads through the handle requests share, takes it again once its own copy is
    /// old, and moves to a new one at once when handles are retired; reads go on throughout.
    #[test]
    fn a_walk_reads_through_the_requests_handle_and_lets_it_go_when_old() {
        let tmp = tempfile::tempdir().unwrap();
        git(tmp.path(), &["init", "-q", "-b", "main"]);
        git(tmp.path(), &["commit", "-q", "--allow-empty", "-m", "one"]);
        let head = ObjectId::from_hex(git(tmp.path(), &["rev-parse", "HEAD"]).as_bytes()).unwrap();
        let cache = Arc::new(super::super::read::ReadCache::default());
        let dir = super::super::RepoDir(tmp.path().join(".git"));
        let reader = cache.open(&dir).unwrap();
        let commits = Commits::new(&reader);
        let store = |r: &gix::Repository| std::ptr::from_ref(r.objects.store_ref()) as usize;
        let requests = || store(cache.open(&dir).unwrap().repository());
        let first = store(&commits.repo());
        assert_eq!(first, store(reader.repository()), "the requests' handle");
        assert_eq!(commits.repo().find_commit(head).unwrap().id, head);

        commits
            .repo
            .borrow_mut()
            .1
            .age_by(super::super::handles::LIFETIME);
        assert_eq!(
            store(&commits.repo()),
            requests(),
            "taken again from the requests'"
        );

        // Retired (memory is short): replaced at once, and by the requests' new one.
        super::super::handles::retire_open_handles();
        let now = store(&commits.repo());
        assert_ne!(now, first, "a retired handle is replaced");
        assert_eq!(now, requests());
        assert_eq!(commits.repo().find_commit(head).unwrap().id, head);
    }
}
