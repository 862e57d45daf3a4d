//! Rename detection for one path, as git does it where blame and `git log --follow` look for a
//! file's older name (diffcore-rename with `single_follow`): the path is new in the child, and
//! the files the child deleted are the candidates. An exact copy (same blob) wins, a same
//! basename breaking ties; otherwise the most similar deleted file at least 50% similar, with
//! git's measure (diffcore-delta: the bytes of line-sized chunks the two share, over the larger
//! size). Only needed where a path first appears, so it runs once or twice per blame.

use gix::ObjectId;

use super::GitError;
use super::commits::Commits;
use super::path_walk::Trees;

/// git's `MAX_SCORE` and the default `-M` threshold (50%).
const MAX_SCORE: u64 = 60_000;
const MIN_SCORE: u64 = 30_000;
/// At most this many tree entries are compared looking for deleted files, and this many
/// deleted files are candidates (git's own limit is 1,000 × 1,000 pairs; one destination here).
pub(super) const MAX_ENTRIES: usize = 200_000;
pub(super) const MAX_SOURCES: usize = 10_000;
/// Candidates larger than this are not compared by content (blame's own limit).
const MAX_COMPARED_BYTES: u64 = super::blame::MAX_BLAME_BYTES;

/// The file a path was renamed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Renamed {
    pub path: Vec<u8>,
    pub blob: ObjectId,
    /// A regular file (not a symlink).
    pub regular: bool,
}

/// A file `parent_tree` has that `child_tree` does not (a rename's possible source).
struct Deleted {
    path: Vec<u8>,
    blob: ObjectId,
    regular: bool,
}

/// The file of `parent_tree` that `path` of `child_tree` (blob `blob`, a regular file if
/// `regular`) was renamed from, if git would say so; None when the path is simply new.
pub(super) fn renamed_from(
    commits: &Commits<'_>,
    trees: &mut Trees,
    parent_tree: ObjectId,
    child_tree: ObjectId,
    path: &[u8],
    blob: ObjectId,
    regular: bool,
) -> Result<Option<Renamed>, GitError> {
    let mut sources = Vec::new();
    let mut budget = MAX_ENTRIES;
    let repo = commits.repo();
    deleted(
        &repo,
        trees,
        parent_tree,
        Some(child_tree),
        &mut Vec::new(),
        &mut sources,
        &mut budget,
    )?;
    let base = |p: &[u8]| p.rsplit(|b| *b == b'/').next().map(<[u8]>::to_vec);
    let own_base = base(path);
    // Exact: the same blob; a same basename first, else the first in tree order (git's pick).
    let exact = sources.iter().filter(|s| s.blob == blob);
    let exact = exact
        .clone()
        .find(|s| base(&s.path) == own_base)
        .or_else(|| sources.iter().find(|s| s.blob == blob));
    if let Some(s) = exact {
        return Ok(Some(Renamed {
            path: s.path.clone(),
            blob: s.blob,
            regular: s.regular,
        }));
    }
    // Symlinks are renamed only when unchanged (as in git); so are files too large to compare.
    if !regular || sources.len() > MAX_SOURCES {
        return Ok(None);
    }
    let Some(target) = super::reader::blob_bytes(&repo, blob, MAX_COMPARED_BYTES)? else {
        return Ok(None);
    };
    let target_spans = spans(&target);
    let mut best: Option<(u64, bool, &Deleted)> = None;
    for s in sources.iter().filter(|s| s.regular) {
        let Some(size) = repo.find_header(s.blob).ok().map(|h| h.size()) else {
            continue;
        };
        let (max, min) = (size.max(target.len() as u64), size.min(target.len() as u64));
        // git does not consider files whose sizes differ too much to reach the threshold.
        if max == 0 || max * (MAX_SCORE - MIN_SCORE) < (max - min) * MAX_SCORE {
            continue;
        }
        let Some(data) = super::reader::blob_bytes(&repo, s.blob, MAX_COMPARED_BYTES)? else {
            continue;
        };
        let score = copied(&spans(&data), &target_spans) * MAX_SCORE / max;
        let same_base = base(&s.path) == own_base;
        if score >= MIN_SCORE && best.is_none_or(|(b, bb, _)| (score, same_base) > (b, bb)) {
            best = Some((score, same_base, s));
        }
    }
    Ok(best.map(|(_, _, s)| Renamed {
        path: s.path.clone(),
        blob: s.blob,
        regular: true,
    }))
}

/// Collects the files under `parent` that `child` (None: nothing there) does not have, in tree
/// order, with their paths below `prefix`.
fn deleted(
    repo: &gix::Repository,
    trees: &mut Trees,
    parent: ObjectId,
    child: Option<ObjectId>,
    prefix: &mut Vec<u8>,
    out: &mut Vec<Deleted>,
    budget: &mut usize,
) -> Result<(), GitError> {
    let old = trees.listing(repo, parent)?;
    let new = match child {
        Some(c) => Some(trees.listing(repo, c)?),
        None => None,
    };
    for (name, id, mode) in old.entries() {
        if *budget == 0 || out.len() > MAX_SOURCES {
            return Ok(());
        }
        *budget -= 1;
        let there = new.as_ref().and_then(|n| n.get(name));
        if there.is_some_and(|(i, m)| i == id && m == mode) {
            continue;
        }
        let is_tree = mode & 0o170000 == 0o040000;
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(name);
        if is_tree {
            let child = there.filter(|(_, m)| m & 0o170000 == 0o040000).map(|t| t.0);
            deleted(repo, trees, id, child, prefix, out, budget)?;
        } else if mode != 0o160000 && there.is_none_or(|(_, m)| m & 0o170000 == 0o040000) {
            out.push(Deleted {
                path: prefix.clone(),
                blob: id,
                regular: mode & 0o170000 == 0o100000,
            });
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// git's `hash_chars` (diffcore-delta.c): the content cut after each newline or 64 bytes, each
/// chunk hashed into 107,927 buckets, with the bytes per bucket; sorted by bucket. A CR before
/// a LF is skipped in text.
fn spans(data: &[u8]) -> Vec<(u32, u64)> {
    let text = !data[..data.len().min(8000)].contains(&0);
    let mut out: Vec<(u32, u64)> = Vec::new();
    let (mut a1, mut a2, mut n) = (0u32, 0u32, 0u64);
    let hash = |a1: u32, a2: u32| a1.wrapping_add(a2.wrapping_mul(0x61)) % 107_927;
    for (i, &c) in data.iter().enumerate() {
        if text && c == b'\r' && data.get(i + 1) == Some(&b'\n') {
            continue;
        }
        let old1 = a1;
        a1 = (a1 << 7) ^ (a2 >> 25);
        a2 = (a2 << 7) ^ (old1 >> 25);
        a1 = a1.wrapping_add(u32::from(c));
        n += 1;
        if n < 64 && c != b'\n' {
            continue;
        }
        out.push((hash(a1, a2), n));
        (a1, a2, n) = (0, 0, 0);
    }
    if n > 0 {
        out.push((hash(a1, a2), n));
    }
    out.sort_unstable();
    out.dedup_by(|later, first| {
        let same = later.0 == first.0;
        if same {
            first.1 += later.1;
        }
        same
    });
    out
}

/// git's `src_copied`: the bytes the source shares with the destination, bucket by bucket.
fn copied(source: &[(u32, u64)], target: &[(u32, u64)]) -> u64 {
    let mut t = target.iter().peekable();
    let mut sum = 0;
    for (h, n) in source {
        while t.next_if(|(th, _)| th < h).is_some() {}
        if let Some((_, m)) = t.next_if(|(th, _)| th == h) {
            sum += n.min(m);
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_counts_shared_chunks_like_git() {
        let a = b"one\ntwo\nthree\nfour\n";
        assert_eq!(copied(&spans(a), &spans(a)), a.len() as u64);
        let b = b"one\ntwo\nthree\nfive\n";
        assert_eq!(copied(&spans(a), &spans(b)), 14);
        // CRLF counts as LF in text; a long line is cut every 64 bytes.
        assert_eq!(spans(b"x\r\n"), spans(b"x\n"));
        let long = vec![b'a'; 130];
        assert_eq!(spans(&long).iter().map(|s| s.1).sum::<u64>(), 130);
        assert_eq!(
            spans(&long).len(),
            2,
            "two equal chunks of 64 share a bucket"
        );
    }

    /// Deleted files are collected within the entry budget; the rename is found when the
    /// budget reaches it, not past the cap.
    #[test]
    fn the_search_for_deleted_files_stops_at_its_budget() {
        use super::super::testing::git;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git(dir, &["init", "-q", "-b", "main"]);
        for i in 0..20 {
            std::fs::write(dir.join(format!("f{i:02}")), format!("file {i}\n")).unwrap();
        }
        std::fs::write(dir.join("zz-old"), "one\ntwo\nthree\nfour\n").unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "-q", "-m", "one"]);
        git(dir, &["rm", "-q", "f00", "f01", "f02"]);
        git(dir, &["mv", "zz-old", "new"]);
        std::fs::write(dir.join("new"), "one\ntwo\nthree\nfour!\n").unwrap();
        git(dir, &["commit", "-q", "-am", "two"]);
        let id = |r: &str| ObjectId::from_hex(git(dir, &["rev-parse", r]).as_bytes()).unwrap();
        let cache = std::sync::Arc::new(super::super::read::ReadCache::default());
        let reader = cache
            .open(&super::super::RepoDir(dir.join(".git")))
            .unwrap();
        let commits = Commits::new(&reader);
        let mut trees = Trees::default();
        let (old, new) = (id("HEAD~1^{tree}"), id("HEAD^{tree}"));
        let collect = |trees: &mut Trees, budget: usize| {
            let (mut out, mut left) = (Vec::new(), budget);
            let repo = commits.repo();
            deleted(
                &repo,
                trees,
                old,
                Some(new),
                &mut Vec::new(),
                &mut out,
                &mut left,
            )
            .unwrap();
            out.into_iter().map(|d| d.path).collect::<Vec<_>>()
        };
        assert_eq!(
            collect(&mut trees, 2),
            vec![b"f00".to_vec(), b"f01".to_vec()]
        );
        let all = collect(&mut trees, MAX_ENTRIES);
        assert_eq!(all.len(), 4, "three deleted, one renamed: {all:?}");
        let found =
            renamed_from(&commits, &mut trees, old, new, b"new", id("HEAD:new"), true).unwrap();
        assert_eq!(
            found.map(|r| r.path),
            Some(b"zz-old".to_vec()),
            "75% similar"
        );
    }
}
