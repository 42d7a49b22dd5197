//! SHA-256 of files in the destination: read back whole, or taken from memory as a file is
//! written in pieces, reading back only the pieces written ahead of the hashed part.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

/// Block size when reading a file back to hash it.
const HASH_BLOCK: usize = 256 << 10;

thread_local! {
    /// The read-back block, reused by each thread.
    static BLOCK: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// SHA-256 of the first `len` bytes of `file` (read with positioned reads).
pub(crate) fn hash_file(file: &File, len: u64) -> io::Result<Digest> {
    let mut hasher = Sha256::new();
    hash_range(&mut hasher, file, 0..len)?;
    Ok(Digest::from_hasher(hasher))
}

/// Feeds bytes `range` of `file` to `hasher`.
fn hash_range(hasher: &mut Sha256, file: &File, range: Range<u64>) -> io::Result<()> {
    BLOCK.with_borrow_mut(|block| {
        if block.len() < HASH_BLOCK {
            block.resize(HASH_BLOCK, 0);
        }
        let mut offset = range.start;
        while offset < range.end {
            let want = block.len().min((range.end - offset) as usize);
            let n = file.read_at(&mut block[..want], offset)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than expected"));
            }
            hasher.update(&block[..n]);
            offset += n as u64;
        }
        Ok(())
    })
}

/// The SHA-256 of a file written in disjoint pieces, in any order.
#[derive(Default)]
pub(crate) struct PieceHasher {
    hasher: Sha256,
    /// Length of the prefix hashed so far.
    hashed: u64,
    /// Pieces written beyond a gap: start → end.
    ahead: BTreeMap<u64, u64>,
}

impl PieceHasher {
    /// Takes `piece`, just written at `offset` of `file`: hashed at once when it continues
    /// the hashed prefix (then the pieces it joins up with are read back), else later.
    pub(crate) fn add(&mut self, file: &File, offset: u64, piece: &[u8]) -> io::Result<()> {
        if offset != self.hashed {
            self.ahead.insert(offset, offset + piece.len() as u64);
            return Ok(());
        }
        self.hasher.update(piece);
        self.hashed += piece.len() as u64;
        while let Some(end) = self.ahead.remove(&self.hashed) {
            hash_range(&mut self.hasher, file, self.hashed..end)?;
            self.hashed = end;
        }
        Ok(())
    }

    /// The digest of the file's `len` bytes, once every piece was added.
    pub(crate) fn finish(self, len: u64) -> io::Result<Digest> {
        if self.hashed != len || !self.ahead.is_empty() {
            return Err(io::Error::other(format!("pieces up to byte {} of {len} were hashed", self.hashed)));
        }
        Ok(Digest::from_hasher(self.hasher))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn pieces_in_any_order_hash_like_the_whole_file() {
        let content: Vec<u8> = (0..600_000u32).map(|n| (n % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&content).unwrap();
        let whole = Digest::of(&content);
        assert_eq!(hash_file(&file, content.len() as u64).unwrap(), whole);
        let cuts = [0, 1000, 300_000, 300_001, 600_000];
        let pieces: Vec<Range<usize>> = cuts.windows(2).map(|w| w[0]..w[1]).collect();
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2], [2, 0, 3, 1]] {
            let mut hasher = PieceHasher::default();
            for &n in &order {
                let piece = pieces[n].clone();
                hasher.add(&file, piece.start as u64, &content[piece]).unwrap();
            }
            assert_eq!(hasher.finish(content.len() as u64).unwrap(), whole, "order {order:?}");
        }
        let mut incomplete = PieceHasher::default();
        incomplete.add(&file, 0, &content[..1000]).unwrap();
        incomplete.add(&file, 300_000, &content[300_000..]).unwrap();
        assert!(incomplete.finish(content.len() as u64).is_err());
    }
}
