//! The answer blame keeps on disk.

use super::*;

const MAGIC: &[u8] = b"labforge blame 1\n";

/// `MAGIC`, the path and a NUL, the number of commits and their ids, the number of lines and
/// each line's commit index (u32, little-endian).
pub(super) fn encode(answer: &BlameAnswer, path: &str) -> Vec<u8> {
    let mut data = kept_header(MAGIC, path);
    data.extend_from_slice(&(answer.commits.len() as u32).to_le_bytes());
    for c in &answer.commits {
        data.extend_from_slice(c.as_bytes());
    }
    data.extend_from_slice(&(answer.origin.len() as u32).to_le_bytes());
    for o in &answer.origin {
        data.extend_from_slice(&o.to_le_bytes());
    }
    data
}

pub(super) fn decode(data: &[u8], path: &str) -> Option<BlameAnswer> {
    let mut rest = kept_body(data, MAGIC, path)?;
    let u32_at = |rest: &mut &[u8]| -> Option<u32> {
        let (n, tail) = rest.split_first_chunk::<4>()?;
        *rest = tail;
        Some(u32::from_le_bytes(*n))
    };
    let count = u32_at(&mut rest)? as usize;
    let mut commits = Vec::with_capacity(count.min(rest.len() / 20));
    for _ in 0..count {
        let (id, tail) = rest.split_at_checked(20)?;
        commits.push(ObjectId::try_from(id).ok()?);
        rest = tail;
    }
    let lines = u32_at(&mut rest)? as usize;
    let mut origin = Vec::with_capacity(lines.min(rest.len() / 4));
    for _ in 0..lines {
        let o = u32_at(&mut rest)?;
        if o as usize >= commits.len() {
            return None;
        }
        origin.push(o);
    }
    rest.is_empty().then_some(BlameAnswer { commits, origin })
}
