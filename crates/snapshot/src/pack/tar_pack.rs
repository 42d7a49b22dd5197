use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::index::{Entry, EntryKind};
use crate::pack::member_splitter::MemberSplitter;
use crate::pack::source_walk::{SourceEntry, SourceKind};

/// Tar block size.
const BLOCK: u64 = 512;

/// Writes the tar stream of `entries` (read from under `root`) into chunks of at most
/// `member_target` bytes handed to `emit`, and returns the index entries, whose offsets
/// describe that stream (their `member` is set once all members are known). Headers are GNU tar headers (long names as GNU
/// `L`/`K` records), which GNU tar, bsdtar and busybox tar all extract.
pub fn pack_tar(
    root: &Path,
    entries: &[SourceEntry],
    member_target: usize,
    emit: impl FnMut(Vec<u8>) -> io::Result<()>,
) -> Result<Vec<Entry>> {
    let mut builder = tar::Builder::new(MemberSplitter::new(member_target, emit));
    let mut index = Vec::with_capacity(entries.len());
    let stream_error = |e: io::Error| SnapshotError::io("write the tar stream for", root, e);
    for source in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(source.mode);
        header.set_mtime(source.mtime);
        header.set_uid(u64::from(source.uid));
        header.set_gid(u64::from(source.gid));
        header.set_size(source.size);
        let target = match &source.kind {
            SourceKind::Symlink(target) | SourceKind::Hardlink(target) => Some(target.as_str()),
            SourceKind::File | SourceKind::Dir => None,
        };
        let estimate = BLOCK + long_name_len(&source.path) + target.map_or(0, long_name_len) + padded(source.size);
        builder.get_mut().start_entry(estimate).map_err(stream_error)?;
        let mut entry = Entry {
            path: source.path.clone(),
            kind: EntryKind::Dir,
            mode: source.mode,
            mtime: source.mtime,
            size: 0,
            sha256: None,
            offset: None,
            member: None,
            target: target.map(str::to_owned),
        };
        match &source.kind {
            SourceKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                builder.append_data(&mut header, &source.path, io::empty()).map_err(stream_error)?;
            }
            SourceKind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                entry.kind = EntryKind::Symlink;
                builder.append_link(&mut header, &source.path, target).map_err(stream_error)?;
            }
            SourceKind::Hardlink(target) => {
                header.set_entry_type(tar::EntryType::Link);
                entry.kind = EntryKind::Hardlink;
                entry.mode = 0;
                entry.mtime = 0;
                builder.append_link(&mut header, &source.path, target).map_err(stream_error)?;
            }
            SourceKind::File => {
                header.set_entry_type(tar::EntryType::Regular);
                let full = root.join(&source.path);
                let file = File::options()
                    .read(true)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(&full)
                    .map_err(|e| SnapshotError::io("open", &full, e))?;
                let mut reader = HashingReader { inner: file.take(source.size), hasher: Sha256::new(), len: 0 };
                builder.append_data(&mut header, &source.path, &mut reader).map_err(stream_error)?;
                let short = reader.len != source.size;
                let grown =
                    reader.inner.into_inner().read(&mut [0]).map_err(|e| SnapshotError::io("read", &full, e))?;
                if short || grown > 0 {
                    return Err(SnapshotError::io(
                        "publish",
                        &full,
                        io::Error::other("the file changed while it was read; publish again from a quiet source"),
                    ));
                }
                let offset = builder.get_ref().position() - padded(source.size);
                entry.kind = EntryKind::File;
                entry.size = source.size;
                entry.sha256 = Some(Digest::from_hasher(reader.hasher));
                entry.offset = Some(offset);
            }
        }
        index.push(entry);
    }
    let splitter = builder.into_inner().map_err(stream_error)?;
    splitter.finish().map_err(stream_error)?;
    Ok(index)
}

/// Extra bytes a GNU long-name record takes for a name that does not fit the header.
fn long_name_len(name: &str) -> u64 {
    if name.len() < 100 { 0 } else { BLOCK + padded(name.len() as u64 + 1) }
}

fn padded(len: u64) -> u64 {
    len.div_ceil(BLOCK) * BLOCK
}

/// Hashes and counts what passes through.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::excludes::Excludes;
    use crate::pack::source_walk::walk_source;

    #[test]
    fn offsets_point_at_contents_and_tar_readers_agree() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}/{}.php", "d".repeat(90), "f".repeat(120));
        std::fs::create_dir_all(dir.path().join("d".repeat(90))).unwrap();
        std::fs::write(dir.path().join(&long), b"<?php // long").unwrap();
        std::fs::write(dir.path().join("big"), vec![7u8; 10_000]).unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        std::os::unix::fs::symlink("big", dir.path().join("link")).unwrap();
        let walked = walk_source(dir.path(), &Excludes::new::<&str>(&[]).unwrap()).unwrap();

        let mut chunks = Vec::new();
        let entries = pack_tar(dir.path(), &walked, 4096, |c| {
            chunks.push(c);
            Ok(())
        })
        .unwrap();
        assert!(chunks.iter().all(|c| c.len() <= 4096));
        let stream = chunks.concat();
        for entry in entries.iter().filter(|e| e.kind == EntryKind::File) {
            let content = std::fs::read(dir.path().join(&entry.path)).unwrap();
            assert_eq!(&stream[entry.data_range().start as usize..entry.data_range().end as usize], &content[..]);
            assert_eq!(entry.sha256, Some(Digest::of(&content)));
        }
        let mut archive = tar::Archive::new(&stream[..]);
        let read: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_str().unwrap().trim_end_matches('/').to_owned())
            .collect();
        let listed: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(read, listed);
        assert!(listed.contains(&long.as_str()));
    }
}
