use std::io::Write;

use crate::digest::Digest;

/// One gzip member, ready to append to the archive.
#[derive(Debug)]
pub struct CompressedMember {
    /// The gzip member.
    pub gz: Vec<u8>,
    /// Length of the tar stream chunk it holds.
    pub usize: u64,
    /// SHA-256 of `gz`.
    pub sha256: Digest,
}

/// Compresses one tar stream chunk into a gzip member at `level` (0–9). The gzip header
/// carries no name and no time, so equal input gives equal bytes.
pub fn compress_member(chunk: &[u8], level: u32) -> CompressedMember {
    let mut encoder =
        flate2::GzBuilder::new().write(Vec::with_capacity(chunk.len() / 2 + 64), flate2::Compression::new(level));
    encoder.write_all(chunk).expect("writing to memory");
    let gz = encoder.finish().expect("writing to memory");
    CompressedMember { sha256: Digest::of(&gz), usize: chunk.len() as u64, gz }
}
