//! Changed-path Bloom filters: the BIDX and BDAT chunks `git commit-graph write --changed-paths`
//! adds to the commit-graph (upkeep writes them). gix 0.90 reads the commit-graph's commits,
//! parents and generation numbers but not these chunks, so they are read here.
//!
//! Each commit's filter holds every path its diff against its first parent touched, with each
//! leading folder (`a/b/c` adds `a/b/c`, `a/b` and `a`). "Not in the filter" is certain: the
//! commit did not change the path, and a history walk skips it without reading a tree. "Maybe"
//! is wrong about 1% of the time, and then the trees are compared as before.
//!
//! Format (git's Documentation/gitformat-commit-graph.txt, bloom.c): BIDX holds, per commit in
//! the file's id order, the end offset of its filter in BDAT; BDAT starts with a 12-byte header
//! (hash version, number of hashes, bits per entry) followed by the filters. A filter of length
//! 0 was not computed (maybe); one byte of 0xFF marks a commit with too many changes (maybe for
//! every path). Bit `n` is bit `n % 8` of byte `n / 8`; a path's bits are `(h0 + i·h1) mod
//! bits` for i below the number of hashes, h0 and h1 its murmur3 hashes with the two seeds below.
//! Version 1 filters were written with git's murmur3 that sign-extends the last 1–3 bytes of a
//! path (a `char` bug that only shows for bytes ≥ 0x80); version 2 fixed it
//! (`commitGraph.changedPathsVersion`). Both are read, each with its own hashing.

use std::io;
use std::os::unix::fs::FileExt;

const SEED0: u32 = 0x293a_e76f;
const SEED1: u32 = 0x7e64_6e2c;
const HEADER_LEN: usize = 8;
const TOC_ENTRY_LEN: usize = 12;
const BDAT_HEADER_LEN: u64 = 12;
/// git writes 7 hashes; more than this is not a filter git wrote.
const MAX_HASHES: u32 = 32;

/// How a file's filters were hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Settings {
    /// 1: git's original murmur3 (sign-extending tail bytes); 2: the fixed one.
    pub version: u8,
    pub num_hashes: u32,
}

/// One commit-graph file's filters, in the file's commit order.
pub(super) struct FileFilters {
    pub settings: Settings,
    /// BIDX: end offset in `data` of each commit's filter.
    index: Vec<u32>,
    /// BDAT without its header.
    data: Vec<u8>,
}

/// What one commit-graph file says about itself, read through one open file (so a file that
/// upkeep replaces meanwhile cannot mix two versions).
pub(super) struct FileSummary {
    pub num_commits: u32,
    /// The trailing checksum: matches gix's view of the same file.
    pub checksum: Vec<u8>,
    /// None when the file has no filters, or they do not fit in `max_bytes`.
    pub filters: Option<FileFilters>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("commit-graph: {what}"))
}

fn read_at(file: &std::fs::File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("four bytes, sliced by the caller"))
}

/// Reads a commit-graph file's table of contents, and its filters if they take at most
/// `max_bytes` in memory.
pub(super) fn read_file(file: &std::fs::File, max_bytes: usize) -> io::Result<FileSummary> {
    let len = file.metadata()?.len();
    let header = read_at(file, 0, HEADER_LEN)?;
    if &header[..4] != b"CGPH" || header[4] != 1 {
        return Err(bad("not a version 1 commit-graph file"));
    }
    let hash_len: u64 = match header[5] {
        1 => 20,
        2 => 32,
        _ => return Err(bad("unknown hash version")),
    };
    let chunks = usize::from(header[6]);
    let toc = read_at(file, HEADER_LEN as u64, (chunks + 1) * TOC_ENTRY_LEN)?;
    let entry = |i: usize| {
        let e = &toc[i * TOC_ENTRY_LEN..(i + 1) * TOC_ENTRY_LEN];
        let offset = u64::from_be_bytes(e[4..12].try_into().expect("eight bytes"));
        ([e[0], e[1], e[2], e[3]], offset)
    };
    // A chunk runs from its offset to the next entry's (the last entry is a terminator).
    let chunk = |id: &[u8; 4]| -> io::Result<Option<(u64, u64)>> {
        for i in 0..chunks {
            let (this, start) = entry(i);
            if &this == id {
                let (_, end) = entry(i + 1);
                if start > end || end > len {
                    return Err(bad("chunk outside the file"));
                }
                return Ok(Some((start, end - start)));
            }
        }
        Ok(None)
    };
    let (fanout_at, fanout_len) = chunk(b"OIDF")?.ok_or_else(|| bad("no OIDF chunk"))?;
    if fanout_len != 256 * 4 {
        return Err(bad("OIDF chunk of the wrong size"));
    }
    let num_commits = be32(&read_at(file, fanout_at + 255 * 4, 4)?);
    if len < hash_len {
        return Err(bad("no checksum"));
    }
    let checksum = read_at(file, len - hash_len, hash_len as usize)?;
    let filters = match (chunk(b"BIDX")?, chunk(b"BDAT")?) {
        (Some((index_at, index_len)), Some((data_at, data_len)))
            if index_len == u64::from(num_commits) * 4
                && data_len >= BDAT_HEADER_LEN
                && index_len + data_len <= max_bytes as u64 =>
        {
            let head = read_at(file, data_at, BDAT_HEADER_LEN as usize)?;
            let settings = Settings {
                version: match be32(&head[0..4]) {
                    1 => 1,
                    2 => 2,
                    _ => 0,
                },
                num_hashes: be32(&head[4..8]),
            };
            if settings.version == 0 || settings.num_hashes == 0 || settings.num_hashes > MAX_HASHES
            {
                None // a filter kind git does not write: walk without them
            } else {
                let raw = read_at(file, index_at, index_len as usize)?;
                let index = raw.chunks_exact(4).map(be32).collect();
                let data = read_at(
                    file,
                    data_at + BDAT_HEADER_LEN,
                    (data_len - BDAT_HEADER_LEN) as usize,
                )?;
                Some(FileFilters {
                    settings,
                    index,
                    data,
                })
            }
        }
        _ => None,
    };
    Ok(FileSummary {
        num_commits,
        checksum,
        filters,
    })
}

impl FileFilters {
    /// The filter of the commit at `local` (its position in this file), or None when it has
    /// none or the index is damaged (git ignores such offsets too).
    pub fn filter(&self, local: u32) -> Option<Filter<'_>> {
        let local = local as usize;
        let end = *self.index.get(local)? as usize;
        let start = match local {
            0 => 0,
            n => *self.index.get(n - 1)? as usize,
        };
        let bytes = self.data.get(start..end)?;
        Some(Filter::new(bytes, self.settings))
    }

    pub fn bytes(&self) -> usize {
        self.index.len() * 4 + self.data.len()
    }
}

/// One commit's filter.
#[derive(Clone, Copy)]
pub(super) struct Filter<'a> {
    bytes: &'a [u8],
    settings: Settings,
    /// Its length in bits (0: not computed, every path maybe), and Lemire's constant for taking
    /// a 32-bit number modulo it with two multiplications (a walk tests millions of bits).
    bits: u32,
    magic: u64,
}

impl<'a> Filter<'a> {
    fn new(bytes: &'a [u8], settings: Settings) -> Self {
        // Filters are at most a few KiB (512 paths × 10 bits); a longer one is not git's.
        let bits = u32::try_from(bytes.len() * 8).unwrap_or(0);
        let magic = match bits {
            0 => 0,
            n => (u64::MAX / u64::from(n)).wrapping_add(1),
        };
        Self {
            bytes,
            settings,
            bits,
            magic,
        }
    }

    /// `hash % self.bits`.
    fn bit(&self, hash: u32) -> u32 {
        let low = self.magic.wrapping_mul(u64::from(hash));
        ((u128::from(low) * u128::from(self.bits)) >> 64) as u32
    }

    /// False only when the commit certainly did not change the path (nor, for a folder,
    /// anything in it).
    pub fn maybe_changed(&self, path: &PathKeys) -> bool {
        path.keys.iter().all(|k| self.maybe_has(*k))
    }

    /// False when the path alone (not its leading folders) is certainly not in the filter.
    pub fn maybe_has(&self, key: PathHash) -> bool {
        if self.bits == 0 {
            return true; // not computed
        }
        let (h0, h1) = match self.settings.version {
            1 => key.v1,
            _ => key.v2,
        };
        (0..self.settings.num_hashes).all(|i| {
            let bit = self.bit(h0.wrapping_add(i.wrapping_mul(h1)));
            self.bytes[(bit / 8) as usize] & (1 << (bit % 8)) != 0
        })
    }
}

/// One path's two murmur3 hashes, as version 1 and version 2 filters compute them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PathHash {
    v1: (u32, u32),
    v2: (u32, u32),
}

impl PathHash {
    fn new(path: &[u8]) -> Self {
        Self {
            v1: (murmur3(SEED0, path, true), murmur3(SEED1, path, true)),
            v2: (murmur3(SEED0, path, false), murmur3(SEED1, path, false)),
        }
    }
}

/// A path's hashes with those of each leading folder (git adds every leading folder of a
/// changed path to the filter, so all must be there for a maybe).
#[derive(Debug, Clone)]
pub(super) struct PathKeys {
    keys: Vec<PathHash>,
}

impl PathKeys {
    /// `path` without leading or trailing slashes; the root (empty path) is in every
    /// non-empty change, so it has no keys and every filter answers maybe.
    pub fn new(path: &[u8]) -> Self {
        let mut keys = Vec::new();
        let mut end = path.len();
        while end > 0 {
            let p = &path[..end];
            keys.push(PathHash::new(p));
            end = p.iter().rposition(|b| *b == b'/').unwrap_or(0);
        }
        Self { keys }
    }

    /// The hashes of the path itself (None for the root).
    pub fn own(&self) -> Option<PathHash> {
        self.keys.first().copied()
    }
}

/// 32-bit murmur3 as git's bloom.c computes it; `signed_tail` reproduces version 1's
/// sign extension of the last 1–3 bytes.
fn murmur3(mut seed: u32, data: &[u8], signed_tail: bool) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut blocks = data.chunks_exact(4);
    for b in &mut blocks {
        let mut k = u32::from_le_bytes(b.try_into().expect("four bytes"));
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        seed ^= k;
        seed = seed
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let byte = |i: usize| -> u32 {
            if signed_tail {
                tail[i] as i8 as i32 as u32
            } else {
                u32::from(tail[i])
            }
        };
        let mut k1 = 0u32;
        for i in (0..tail.len()).rev() {
            k1 ^= byte(i) << (8 * i);
        }
        k1 = k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        seed ^= k1;
    }
    seed ^= data.len() as u32;
    seed ^= seed >> 16;
    seed = seed.wrapping_mul(0x85eb_ca6b);
    seed ^= seed >> 13;
    seed = seed.wrapping_mul(0xc2b2_ae35);
    seed ^= seed >> 16;
    seed
}

#[cfg(test)]
mod tests {
    use super::*;

    // git's t/t0095-bloom.sh vectors.
    #[test]
    fn murmur3_matches_git() {
        assert_eq!(murmur3(0, b"", false), 0);
        assert_eq!(murmur3(0, b"Hello world!", false), 0x627b_0c2c);
        assert_eq!(
            murmur3(0, b"The quick brown fox jumps over the lazy dog", false),
            0x2e4f_f723
        );
        assert_eq!(
            murmur3(0, b"\x99\xaa\xbb\xcc\xdd\xee\xff", false),
            0xa183_ccfd
        );
    }

    #[test]
    fn version_1_differs_only_for_high_tail_bytes() {
        assert_eq!(
            murmur3(SEED0, b"Makefile", true),
            murmur3(SEED0, b"Makefile", false)
        );
        assert_eq!(
            murmur3(SEED1, b"src/a.rs", true),
            murmur3(SEED1, b"src/a.rs", false)
        );
        assert_ne!(
            murmur3(SEED0, "caf\u{e9}".as_bytes(), true),
            murmur3(SEED0, "caf\u{e9}".as_bytes(), false)
        );
    }

    #[test]
    fn keys_cover_each_leading_folder() {
        let k = PathKeys::new(b"a/b/c");
        assert_eq!(k.keys.len(), 3);
        assert_eq!(k.keys[2], PathHash::new(b"a"));
        assert_eq!(k.own(), Some(PathHash::new(b"a/b/c")));
        assert!(PathKeys::new(b"").keys.is_empty());
    }

    #[test]
    fn a_filter_holds_what_was_added() {
        // Build a 2-path filter the way git's add_key_to_filter does and query it.
        let settings = Settings {
            version: 2,
            num_hashes: 7,
        };
        let mut bytes = vec![0u8; 3]; // 2 paths × 10 bits, rounded up to bytes
        for p in [&b"Makefile"[..], b"docs"] {
            let (h0, h1) = PathHash::new(p).v2;
            for i in 0..7u32 {
                let bit = u64::from(h0.wrapping_add(i.wrapping_mul(h1))) % 24;
                bytes[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        let f = Filter::new(&bytes, settings);
        assert!(f.maybe_changed(&PathKeys::new(b"Makefile")));
        assert!(f.maybe_changed(&PathKeys::new(b"docs")));
        let empty = Filter::new(&[0], settings);
        assert!(!empty.maybe_changed(&PathKeys::new(b"Makefile")));
        let not_computed = Filter::new(&[], settings);
        assert!(not_computed.maybe_changed(&PathKeys::new(b"x")));
        let too_many = Filter::new(&[0xff], settings);
        assert!(too_many.maybe_changed(&PathKeys::new(b"x")));
    }

    #[test]
    fn the_fast_modulo_is_the_modulo() {
        let settings = Settings {
            version: 2,
            num_hashes: 7,
        };
        for len in [1usize, 2, 3, 7, 13, 64, 641, 4096] {
            let data = vec![0u8; len];
            let f = Filter::new(&data, settings);
            for h in [
                0u32,
                1,
                7,
                8,
                255,
                65_537,
                0x7fff_ffff,
                0xdead_beef,
                u32::MAX,
            ] {
                assert_eq!(f.bit(h), h % (len as u32 * 8), "{h} mod {}", len * 8);
            }
        }
    }
}
