use std::cell::RefCell;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

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

thread_local! {
    /// Each compressing thread keeps one deflate state and resets it per member: a new
    /// one per member would allocate and zero its window and hash tables every time.
    static DEFLATE: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
}

/// Compresses one tar stream chunk into a gzip member at `level` (0–9). The gzip header
/// carries no name and no time (as `flate2::GzBuilder::new()` writes it), so equal input
/// gives equal bytes.
pub fn compress_member(chunk: &[u8], level: u32) -> CompressedMember {
    compress_member_into(chunk, level, Vec::new())
}

/// [`compress_member`] writing into `gz`'s memory (its contents are dropped): a buffer
/// handed back by whoever consumed an earlier member, so that pages are not faulted in
/// (and zeroed by the kernel) afresh for every member.
pub fn compress_member_into(chunk: &[u8], level: u32, mut gz: Vec<u8>) -> CompressedMember {
    // room for the worst case, so that deflate finishes in one call: how much output room
    // each call had would otherwise decide where stored blocks end (level 0)
    gz.clear();
    gz.reserve(HEADER_LEN + deflate_bound(chunk.len()) + TRAILER_LEN);
    gz.extend_from_slice(&gzip_header(level));
    DEFLATE.with_borrow_mut(|slot| {
        let deflate = match slot {
            Some((kept, deflate)) if *kept == level => {
                deflate.reset();
                deflate
            }
            _ => &mut slot.insert((level, Compress::new(Compression::new(level), false))).1,
        };
        let status = deflate.compress_vec(chunk, &mut gz, FlushCompress::Finish).expect("deflating in memory");
        assert_eq!(status, Status::StreamEnd, "deflate_bound leaves room for any input");
    });
    let mut crc = Crc::new();
    crc.update(chunk);
    gz.extend_from_slice(&crc.sum().to_le_bytes());
    gz.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
    CompressedMember { sha256: Digest::of(&gz), usize: chunk.len() as u64, gz }
}

const HEADER_LEN: usize = 10;
const TRAILER_LEN: usize = 8;

/// zlib's `compressBound` for a raw deflate stream: the most deflate can write for `len` bytes.
fn deflate_bound(len: usize) -> usize {
    len + (len >> 12) + (len >> 14) + (len >> 25) + 13
}

/// RFC 1952 header without name or time; the extra-flags byte says "fastest" or "best"
/// at the extreme levels, and the OS byte is "unknown", as flate2 writes them.
fn gzip_header(level: u32) -> [u8; HEADER_LEN] {
    let extra_flags = match level {
        9.. => 2,
        0 | 1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extra_flags, 255]
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn gz_builder(chunk: &[u8], level: u32) -> Vec<u8> {
        let mut encoder = flate2::GzBuilder::new().write(Vec::new(), Compression::new(level));
        encoder.write_all(chunk).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn members_inflate_back_carry_flate2s_header_and_repeat_exactly() {
        let text: Vec<u8> = (0..300_000u32).flat_map(|i| format!("<?php echo {};\n", i % 977).into_bytes()).collect();
        let noise: Vec<u8> = (0..70_000u64).map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8).collect();
        for level in [0, 1, 5, 9] {
            for chunk in [&text[..], &noise[..], &[][..], &text[..10]] {
                let member = compress_member(chunk, level);
                let what = format!("level {level}, {} bytes", chunk.len());
                assert_eq!(member.gz[..10], gz_builder(chunk, level)[..10], "{what}");
                let mut inflated = Vec::new();
                flate2::read::GzDecoder::new(&member.gz[..]).read_to_end(&mut inflated).unwrap();
                assert!(inflated == chunk, "{what}: inflates to other bytes");
                assert_eq!(member.usize, chunk.len() as u64);
                assert_eq!(member.sha256, Digest::of(&member.gz));
                let again = compress_member_into(chunk, level, member.gz);
                assert_eq!(again.sha256, member.sha256, "{what}: a reused state and buffer give other bytes");
            }
        }
    }
}
