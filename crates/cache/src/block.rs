use crc_fast::{CrcAlgorithm, Digest};

/// Size of the blocks that carry a checksum each.
pub(crate) const BLOCK_SIZE: u64 = 1 << 20;

/// The CRC32C of one block.
pub(crate) fn block_crc(data: &[u8]) -> u32 {
    crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, data) as u32
}

/// Computes the CRC32C of every [`BLOCK_SIZE`] block of a stream of chunks.
pub(crate) struct BlockHasher {
    current: Digest,
    filled: u64,
    crcs: Vec<u32>,
}

impl BlockHasher {
    pub(crate) fn new() -> Self {
        Self { current: Digest::new(CrcAlgorithm::Crc32Iscsi), filled: 0, crcs: Vec::new() }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = usize::try_from(BLOCK_SIZE - self.filled).unwrap_or(usize::MAX);
            let (head, tail) = data.split_at(room.min(data.len()));
            self.current.update(head);
            self.filled += head.len() as u64;
            if self.filled == BLOCK_SIZE {
                self.crcs.push(self.current.finalize_reset() as u32);
                self.filled = 0;
            }
            data = tail;
        }
    }

    /// The checksums, the last (partial) block included.
    pub(crate) fn finish(mut self) -> Vec<u32> {
        if self.filled > 0 {
            self.crcs.push(self.current.finalize() as u32);
        }
        self.crcs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_blocks_across_chunk_boundaries() {
        let data: Vec<u8> = (0..(2 * BLOCK_SIZE + 10)).map(|i| (i % 251) as u8).collect();
        let mut hasher = BlockHasher::new();
        for chunk in data.chunks(300_000) {
            hasher.update(chunk);
        }
        let expected: Vec<u32> = data.chunks(BLOCK_SIZE as usize).map(block_crc).collect();
        assert_eq!(hasher.finish(), expected);
    }
}
