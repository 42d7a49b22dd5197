use std::io::{self, Write};

/// Cuts the tar stream into chunks of at most `target` bytes, each to become one gzip
/// member. An entry that fits in a member is never cut: [`MemberSplitter::start_entry`]
/// closes the chunk first when the entry would not fit. Larger files are cut at `target`.
pub struct MemberSplitter<F> {
    target: usize,
    current: Vec<u8>,
    position: u64,
    emit: F,
}

impl<F: FnMut(Vec<u8>) -> io::Result<()>> MemberSplitter<F> {
    /// A splitter handing each finished chunk to `emit`.
    pub fn new(target: usize, emit: F) -> Self {
        Self { target, current: Vec::with_capacity(target), position: 0, emit }
    }

    /// Announces an entry of about `len` bytes (headers and padded data); closes the
    /// current chunk first if the entry would not fit in it.
    pub fn start_entry(&mut self, len: u64) -> io::Result<()> {
        if !self.current.is_empty() && self.current.len() as u64 + len > self.target as u64 {
            self.flush_member()?;
        }
        Ok(())
    }

    /// Bytes of tar stream written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Emits the last chunk.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.current.is_empty() {
            self.flush_member()?;
        }
        Ok(())
    }

    fn flush_member(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.current, Vec::with_capacity(self.target));
        (self.emit)(chunk)
    }
}

impl<F: FnMut(Vec<u8>) -> io::Result<()>> Write for MemberSplitter<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.target - self.current.len();
        let taken = buf.len().min(room);
        self.current.extend_from_slice(&buf[..taken]);
        self.position += taken as u64;
        if self.current.len() == self.target {
            self.flush_member()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_entries_whole_and_cuts_large_ones() {
        let mut chunks = Vec::new();
        let mut splitter = MemberSplitter::new(10, |c| {
            chunks.push(c);
            Ok(())
        });
        splitter.start_entry(4).unwrap();
        splitter.write_all(b"aaaa").unwrap();
        splitter.start_entry(8).unwrap(); // does not fit beside "aaaa": new member
        splitter.write_all(b"bbbbbbbb").unwrap();
        splitter.start_entry(25).unwrap();
        splitter.write_all(&[b'c'; 25]).unwrap();
        assert_eq!(splitter.position(), 37);
        splitter.finish().unwrap();
        let lens: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(lens, [4, 8, 10, 10, 5]);
        assert_eq!(chunks.concat().len(), 37);
    }
}
