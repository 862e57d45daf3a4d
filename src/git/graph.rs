//! The history walks' view of commits: parents, root tree, commit time and generation from the
//! commit-graph (gix reads it) with each commit's changed-path filter (`changed_paths` reads
//! those), so a walk over 80,000 commits decodes no commit object and reads no tree for the
//! commits that did not touch what it looks for. Commits newer than the commit-graph (pushed
//! since the last upkeep) are decoded from the object database instead (`commits`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use gix::ObjectId;
use gix::commitgraph as cg;

use super::GitError;
use super::changed_paths::{self, FileFilters, Filter};

/// A commit as the walks need it.
pub(super) struct Node<'g> {
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    /// Committer time: git's log order.
    pub time: i64,
    /// Topological level from the commit-graph; None for commits it does not have yet.
    pub generation: Option<u32>,
    /// The changed-path filter against the first parent, when the commit-graph has one.
    pub filter: Option<Filter<'g>>,
}

/// One repository's commit-graph with its filters, as read at `stamp`.
pub struct CommitGraph {
    graph: cg::Graph,
    /// Per file of the chain (oldest first): where its commits start in graph positions, and
    /// its filters.
    files: Vec<(u32, Option<FileFilters>)>,
    stamp: Stamp,
    bytes: usize,
}

/// The commit-graph file (or chain file) as last seen, to notice that upkeep rewrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    /// The current commit-graph of the repository whose object folder is `objects`, if any.
    /// git reads `info/commit-graph` first, then a split chain; so does gix, and so does this.
    pub fn of(objects: &Path) -> Option<Stamp> {
        let single = objects.join("info/commit-graph");
        let chain = objects.join("info/commit-graphs/commit-graph-chain");
        [single, chain].into_iter().find_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            Some(Stamp {
                len: meta.len(),
                modified: meta.modified().ok(),
                path,
            })
        })
    }
}

impl CommitGraph {
    /// Reads the commit-graph named by `stamp`; filters are kept only while their total stays
    /// within `max_filter_bytes` (beyond it walks still use the graph, without skipping).
    pub(super) fn open(stamp: Stamp, max_filter_bytes: usize) -> Result<Self, GitError> {
        let paths: Vec<PathBuf> = if stamp.path.ends_with("commit-graph-chain") {
            let dir = stamp.path.parent().expect("the chain file is in a folder");
            std::fs::read_to_string(&stamp.path)?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(256) // git's own limit on chain length
                .map(|hash| dir.join(format!("graph-{}.graph", hash.trim())))
                .collect()
        } else {
            vec![stamp.path.clone()]
        };
        let mut files = Vec::with_capacity(paths.len());
        let mut graphs = Vec::with_capacity(paths.len());
        let mut start = 0u32;
        let mut budget = max_filter_bytes;
        let mut bytes = 0;
        for path in &paths {
            let graph_file = cg::File::at(path).map_err(GitError::gix)?;
            let handle = std::fs::File::open(path)?;
            let summary = changed_paths::read_file(&handle, budget)?;
            // gix mapped the file by its path and the filters were read through another open:
            // if upkeep replaced it in between, the two disagree and the walk waits for the next look.
            if summary.checksum.as_slice() != graph_file.checksum().as_bytes()
                || summary.num_commits != graph_file.num_commits()
            {
                return Err(GitError::Gix(format!(
                    "{} changed while it was read",
                    path.display()
                )));
            }
            let filters = summary.filters;
            if let Some(f) = &filters {
                budget = budget.saturating_sub(f.bytes());
                bytes += f.bytes();
            }
            files.push((start, filters));
            start = start.saturating_add(graph_file.num_commits());
            graphs.push(graph_file);
        }
        let graph = cg::Graph::new(graphs).map_err(GitError::gix)?;
        Ok(Self {
            graph,
            files,
            stamp,
            bytes,
        })
    }

    pub(super) fn stamp(&self) -> &Stamp {
        &self.stamp
    }

    /// Memory held for the filters (the graph itself is mapped by gix).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Commits the graph holds.
    pub(super) fn len(&self) -> u32 {
        self.graph.num_commits()
    }

    /// The commit's position in the graph, if the graph has it.
    pub(super) fn position(&self, id: &gix::oid) -> Option<u32> {
        self.graph.lookup(id).map(|p| p.0)
    }

    /// Adds the positions of the parents of the commit at `pos` to `out`: a walk over the
    /// graph by positions decodes no commit and looks no id up.
    pub(super) fn parent_positions(&self, pos: u32, out: &mut Vec<u32>) -> Result<(), GitError> {
        for p in self.graph.commit_at(cg::Position(pos)).iter_parents() {
            out.push(p.map_err(GitError::gix)?.0);
        }
        Ok(())
    }

    pub(super) fn node(&self, id: &gix::oid) -> Option<Result<Node<'_>, GitError>> {
        let pos = self.graph.lookup(id)?;
        let commit = self.graph.commit_at(pos);
        let mut parents = Vec::with_capacity(1);
        for p in commit.iter_parents() {
            match p {
                Ok(p) => parents.push(self.graph.id_at(p).to_owned()),
                Err(e) => return Some(Err(GitError::gix(e))),
            }
        }
        let file = self.files.partition_point(|(start, _)| *start <= pos.0) - 1;
        let (start, filters) = &self.files[file];
        Some(Ok(Node {
            tree: commit.root_tree_id().to_owned(),
            parents,
            time: commit.committer_timestamp() as i64,
            generation: Some(commit.generation()),
            filter: filters.as_ref().and_then(|f| f.filter(pos.0 - start)),
        }))
    }
}
