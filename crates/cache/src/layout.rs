use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::block::BLOCK_SIZE;
use crate::key::EntryId;
use crate::meta::{Entry, EntryRecord, RECORD_FORMAT};

/// Extension of a complete entry's file; a fill writes it as `.entry.tmp` first.
const EXTENSION: &str = "entry";

/// Length of the little-endian `u64` that ends an entry file: the length of the record
/// before it.
const RECORD_LEN_SIZE: u64 = 8;

/// A record larger than this is not a record (user metadata is limited to 2 KiB).
const RECORD_MAX: u64 = 1 << 20;

/// Where entries live: `DIR/<2 hex>/<id>-<nonce>.entry`, one file per entry holding the
/// object's bytes, then its record, then the record's length; written as `.entry.tmp` first.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the temporary file of a fresh entry of `id` and returns the path the entry
    /// will have once committed; the nonce keeps a replacement apart from the entry it
    /// replaces, whose file is deleted when the index drops it.
    pub(crate) fn create(&self, id: EntryId, nonce: u64) -> io::Result<(PathBuf, File)> {
        let name = id.to_string();
        let fan_out = self.dir.join(&name[..2]);
        let path = fan_out.join(format!("{name}-{nonce:016x}.{EXTENSION}"));
        let open = || fs::OpenOptions::new().create_new(true).read(true).write(true).open(tmp(&path));
        // the fan-out directory exists but for the first entry in it: make it only then
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&fan_out)?;
                open()?
            }
            opened => opened?,
        };
        Ok((path, file))
    }

    /// What follows the object's bytes in its file: the record, then its length.
    pub(crate) fn trailer(record: &EntryRecord) -> io::Result<Vec<u8>> {
        let mut trailer = serde_json::to_vec(record).map_err(io::Error::other)?;
        let len = trailer.len() as u64;
        trailer.extend_from_slice(&len.to_le_bytes());
        Ok(trailer)
    }

    /// Gives the temporary file of `path`, holding the object and its trailer, its final
    /// name: only a whole entry ever has it.
    pub(crate) fn commit(path: &Path) -> io::Result<()> {
        fs::rename(tmp(path), path)
    }

    /// Deletes the file of a complete entry.
    pub(crate) fn remove(path: &Path) {
        remove_file(path);
    }

    /// Deletes every file an entry may have, complete or not (a fill that failed or was
    /// discarded, a commit that failed, a file that cannot be read).
    pub(crate) fn remove_unfinished(path: &Path) {
        remove_file(path);
        remove_file(&tmp(path));
    }

    /// Finds the complete entries left by an earlier run and deletes everything else
    /// (temporary files, files without a whole record, files of an older layout).
    pub(crate) fn scan(&self) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for fan_out in fs::read_dir(&self.dir)? {
            let fan_out = fan_out?.path();
            if !fan_out.is_dir() {
                continue;
            }
            for file in fs::read_dir(&fan_out)? {
                let path = file?.path();
                let entry = path.extension().is_some_and(|e| e == EXTENSION).then(|| load(&path)).flatten();
                match entry {
                    Some(entry) => entries.push(entry),
                    None => {
                        debug!(path = %path.display(), "removing leftover cache file");
                        remove_file(&path);
                    }
                }
            }
        }
        Ok(entries)
    }
}

/// Deletes a cache file; one already gone is not an error.
fn remove_file(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => warn!(path = %path.display(), error = %e, "cannot delete cache file"),
    }
}

/// The temporary name of an entry file while it is written.
fn tmp(path: &Path) -> PathBuf {
    path.with_extension(format!("{EXTENSION}.tmp"))
}

/// The complete entry in the file at `path`, or `None` when its trailer is not usable or
/// the bytes before it are not the recorded size.
fn load(path: &Path) -> Option<Entry> {
    let file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let mut len = [0; RECORD_LEN_SIZE as usize];
    file.read_exact_at(&mut len, file_len.checked_sub(RECORD_LEN_SIZE)?).ok()?;
    let record_len = u64::from_le_bytes(len);
    if record_len > RECORD_MAX {
        return None;
    }
    let record_start = file_len.checked_sub(RECORD_LEN_SIZE + record_len)?;
    let mut record = vec![0; usize::try_from(record_len).ok()?];
    file.read_exact_at(&mut record, record_start).ok()?;
    let record: EntryRecord = serde_json::from_slice(&record).ok()?;
    let readable =
        record.format == RECORD_FORMAT && record.block_size == BLOCK_SIZE && record.object.size == record_start;
    readable.then(|| Entry::new(record, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::meta::now_ms;
    use crate::{CacheKey, ObjectMeta};

    fn key() -> CacheKey {
        CacheKey { upstream: "u".into(), bucket: "b".into(), key: "k".into(), version_id: None }
    }

    fn record(size: u64) -> EntryRecord {
        EntryRecord {
            format: RECORD_FORMAT,
            key: key(),
            object: ObjectMeta { size, etag: "\"e\"".into(), ..ObjectMeta::default() },
            stored_at_ms: now_ms(),
            block_size: BLOCK_SIZE,
            block_crcs: vec![7],
        }
    }

    /// Writes `bytes` as a committed entry file and returns its path.
    fn committed(layout: &Layout, nonce: u64, bytes: &[u8]) -> PathBuf {
        let (path, mut file) = layout.create(key().id(), nonce).unwrap();
        file.write_all(bytes).unwrap();
        Layout::commit(&path).unwrap();
        path
    }

    #[test]
    fn a_committed_entry_is_found_again_with_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_owned());
        let path = committed(&layout, 1, &[b"hello".as_slice(), &Layout::trailer(&record(5)).unwrap()].concat());
        let found = layout.scan().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path(), path);
        assert_eq!(found[0].object().size, 5);
    }

    #[test]
    fn scan_deletes_what_is_not_a_whole_entry() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_owned());
        let whole = [b"hello".as_slice(), &Layout::trailer(&record(5)).unwrap()].concat();
        // data missing its last byte, a trailer cut short, a length beyond the file
        committed(&layout, 1, &whole[1..]);
        committed(&layout, 2, &whole[..whole.len() - 1]);
        committed(&layout, 3, &u64::MAX.to_le_bytes());
        // a fill in progress and the two files of the older layout
        let (_, mut partial) = layout.create(key().id(), 4).unwrap();
        partial.write_all(b"hel").unwrap();
        let fan_out = committed(&layout, 5, &whole).parent().unwrap().to_owned();
        fs::write(fan_out.join("x.data"), b"hello").unwrap();
        fs::write(fan_out.join("x.meta"), b"{}").unwrap();
        assert_eq!(layout.scan().unwrap().len(), 1);
        assert_eq!(fs::read_dir(&fan_out).unwrap().count(), 1, "only the whole entry is left");
    }
}
