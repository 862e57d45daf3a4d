//! The trees a walk reads: each folder's listing by tree id, kept for the next commit and read
//! ahead in batches.

use super::*;

/// Trees kept by a walk (a root folder of 400 entries takes ~25 KB).
const TREES_KEPT: usize = 256;

/// Trees read recently, by id: in a linear stretch of history a commit's parent tree is the
/// next commit's own, and trees read ahead wait here for their turn.
#[derive(Default)]
pub(in crate::git) struct Trees {
    listings: HashMap<ObjectId, Arc<Listing>>,
    order: VecDeque<ObjectId>,
}

impl Trees {
    pub fn has(&self, tree: ObjectId) -> bool {
        self.listings.contains_key(&tree)
    }

    /// Reads the folder at `parts` in each of `roots`. A pack stores successive versions of a
    /// tree as chains of deltas, and gix keeps only the object it decoded last, not the bases it
    /// went through: reading the versions with the fewest deltas first makes each later read
    /// one delta on top of one just read, whichever way the chains run (git fast-import deltas
    /// a version against the one before; `git repack -f` rather against the one after).
    pub fn read_ahead(
        &mut self,
        commits: &Commits<'_>,
        roots: &[ObjectId],
        parts: &[Vec<u8>],
    ) -> Result<(), GitError> {
        // The handle is taken afresh per root: a batch reads hundreds of trees (each at the
        // end of a delta chain) and would otherwise keep the walk on one handle, its pack
        // pages mapped, however often the memory watch retires handles meanwhile.
        let mut missing = Vec::with_capacity(roots.len());
        for root in roots {
            if !self.has(*root) {
                let repo = commits.repo();
                let depth = repo.find_header(*root).map_err(GitError::gix)?.num_deltas();
                missing.push((depth.unwrap_or(0), *root));
            }
        }
        missing.sort_by_key(|(depth, _)| *depth);
        for (_, root) in missing {
            let repo = commits.repo();
            self.folder(&repo, root, parts)?;
        }
        Ok(())
    }

    pub fn listing(
        &mut self,
        repo: &gix::Repository,
        tree: ObjectId,
    ) -> Result<Arc<Listing>, GitError> {
        if let Some(l) = self.listings.get(&tree) {
            return Ok(Arc::clone(l));
        }
        let l = Arc::new(Listing::read(repo, tree)?);
        if self.order.len() >= TREES_KEPT
            && let Some(oldest) = self.order.pop_front()
        {
            self.listings.remove(&oldest);
        }
        self.order.push_back(tree);
        self.listings.insert(tree, Arc::clone(&l));
        Ok(l)
    }

    /// The folder at `parts` under the tree `root` (None: no such folder).
    pub fn folder(
        &mut self,
        repo: &gix::Repository,
        root: ObjectId,
        parts: &[Vec<u8>],
    ) -> Result<Option<Arc<Listing>>, GitError> {
        let mut tree = root;
        for part in parts {
            match self.listing(repo, tree)?.get(part) {
                Some((id, mode)) if mode & 0o170000 == 0o040000 => tree = id,
                _ => return Ok(None),
            }
        }
        self.listing(repo, tree).map(Some)
    }
}

/// A path's components, as `Trees::folder` and `Listing::get` take them.
pub(in crate::git) fn components(path: &TreePath) -> Vec<Vec<u8>> {
    if path.is_root() {
        return Vec::new();
    }
    path.as_str()
        .split('/')
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// A tree's entries, sorted by name for binary search, over the tree's own bytes.
pub(in crate::git) struct Listing {
    data: Vec<u8>,
    /// (name start, name length, mode, id start) per entry, sorted by name.
    entries: Vec<(u32, u32, u16, u32)>,
    hash_len: usize,
}

impl Listing {
    pub fn read(repo: &gix::Repository, tree: ObjectId) -> Result<Self, GitError> {
        let mut t = repo.find_tree(tree).map_err(GitError::gix)?;
        let data = std::mem::take(&mut t.data);
        let mut entries = Vec::new();
        let base = data.as_ptr() as usize;
        let hash_len = repo.object_hash().len_in_bytes();
        for e in gix::objs::TreeRefIter::from_bytes(&data, repo.object_hash()) {
            let e = e.map_err(GitError::gix)?;
            let name_start = e.filename.as_ptr() as usize - base;
            let id_start = e.oid.as_bytes().as_ptr() as usize - base;
            entries.push((
                name_start as u32,
                e.filename.len() as u32,
                e.mode.value(),
                id_start as u32,
            ));
        }
        // git sorts a folder's entries as if folders ended in '/': the same as plain byte
        // order unless a folder's name is a prefix of another name.
        let name = |e: &(u32, u32, u16, u32)| &data[e.0 as usize..(e.0 + e.1) as usize];
        if !entries.is_sorted_by(|a, b| name(a) <= name(b)) {
            entries.sort_by(|a, b| name(a).cmp(name(b)));
        }
        Ok(Self {
            data,
            entries,
            hash_len,
        })
    }

    fn name(&self, e: &(u32, u32, u16, u32)) -> &[u8] {
        &self.data[e.0 as usize..(e.0 + e.1) as usize]
    }

    /// Entry names in tree order (lossy where a name is not UTF-8).
    pub fn names(&self) -> Vec<String> {
        let mut order: Vec<&(u32, u32, u16, u32)> = self.entries.iter().collect();
        order.sort_by_key(|e| e.0);
        order
            .into_iter()
            .map(|e| String::from_utf8_lossy(self.name(e)).into_owned())
            .collect()
    }

    /// Every entry as (name, id, mode), in name order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], ObjectId, u16)> + '_ {
        self.entries.iter().map(|e| {
            let id = ObjectId::from_bytes_or_panic(
                &self.data[e.3 as usize..e.3 as usize + self.hash_len],
            );
            (self.name(e), id, e.2)
        })
    }

    pub fn get(&self, name: &[u8]) -> Version {
        let i = self
            .entries
            .binary_search_by(|e| self.name(e).cmp(name))
            .ok()?;
        let e = &self.entries[i];
        let id =
            ObjectId::from_bytes_or_panic(&self.data[e.3 as usize..e.3 as usize + self.hash_len]);
        Some((id, e.2))
    }
}
