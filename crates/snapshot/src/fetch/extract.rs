//! Downloading the members that hold the files to write, inflating them in parallel and
//! writing each file's slices at their offsets; every file is verified before it gets its
//! final mode, owner and time.

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::fetch::dest_dir::{DestDir, set_file_metadata};
use crate::fetch::progress::Progress;
use crate::index::{Entry, Index};
use crate::store::SnapshotStore;

/// Largest archive range one GET asks for: consecutive members are read together up to it.
const MAX_GET_BYTES: u64 = 4 << 20;
/// Smallest range worth a GET of its own when cutting a large transfer for parallelism.
const MIN_GET_BYTES: u64 = 1 << 20;

thread_local! {
    /// The inflated member, reused by each worker thread.
    static INFLATED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Block size when reading a file back to hash it.
const HASH_BLOCK: usize = 256 << 10;

/// What the member workers share.
pub(crate) struct Extraction {
    /// The snapshot's index.
    pub index: Arc<Index>,
    /// The destination.
    pub dest: Arc<DestDir>,
    /// Owner to give every file.
    pub owner: Option<(u32, u32)>,
    /// Counters.
    pub progress: Arc<Progress>,
}

/// A file being written.
struct Slot {
    entry: usize,
    range: Range<u64>,
    /// All of its contents lie in one member: hashed from memory before writing.
    whole: bool,
    file: Mutex<Option<File>>,
    remaining: AtomicU64,
}

/// What was downloaded from the archive.
#[derive(Debug, Default, Clone, Copy)]
pub struct Transfer {
    /// Members downloaded.
    pub members: u64,
    /// Archive bytes downloaded.
    pub bytes: u64,
    /// GET requests made.
    pub requests: u64,
}

impl Extraction {
    /// Writes the files `write` (index entry numbers, by offset) from the archive at `key`,
    /// at most `concurrency` GETs at a time.
    pub(crate) async fn write_files(
        self: Arc<Self>,
        store: &SnapshotStore,
        key: &str,
        write: &[usize],
        concurrency: usize,
    ) -> Result<Transfer> {
        let mut slots = Vec::with_capacity(write.len());
        let mut needed: Vec<usize> = Vec::new();
        for &n in write {
            let entry = &self.index.entries[n];
            if entry.size == 0 {
                self.write_empty(entry)?;
                continue;
            }
            let members = self.index.members_overlapping(entry.data_range());
            needed.extend(members.clone());
            slots.push(Slot {
                entry: n,
                range: entry.data_range(),
                whole: members.len() == 1,
                file: Mutex::new(None),
                remaining: AtomicU64::new(entry.size),
            });
        }
        needed.sort_unstable();
        needed.dedup();
        let total: u64 = needed.iter().map(|&m| self.index.members[m].size).sum();
        // enough GETs to keep every connection busy, few enough to keep requests cheap
        let get_bytes = (total / (concurrency.max(1) as u64 * 2)).clamp(MIN_GET_BYTES, MAX_GET_BYTES);
        let groups = self.group(&needed, get_bytes);
        let stats = Transfer { members: needed.len() as u64, bytes: total, requests: groups.len() as u64 };
        self.progress.expect(stats.bytes, write.len() as u64);
        let slots = Arc::new(slots);
        futures::stream::iter(groups)
            .map(|group| {
                let (this, slots) = (Arc::clone(&self), Arc::clone(&slots));
                async move { this.fetch_group(store, key, group, &slots).await }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<()>()
            .await?;
        if let Some(slot) = slots.iter().find(|s| s.remaining.load(Ordering::Acquire) != 0) {
            return Err(SnapshotError::invalid(
                "archive",
                format!("file '{}' was not complete after its members", self.index.entries[slot.entry].path),
            ));
        }
        Ok(stats)
    }

    /// Cuts the needed members into runs of consecutive members, each read with one GET.
    fn group(&self, needed: &[usize], get_bytes: u64) -> Vec<Range<usize>> {
        let mut groups: Vec<Range<usize>> = Vec::new();
        for &m in needed {
            let member = &self.index.members[m];
            match groups.last_mut() {
                Some(last)
                    if last.end == m
                        && member.offset + member.size - self.index.members[last.start].offset <= get_bytes =>
                {
                    last.end = m + 1;
                }
                _ => groups.push(m..m + 1),
            }
        }
        groups
    }

    async fn fetch_group(
        self: Arc<Self>,
        store: &SnapshotStore,
        key: &str,
        group: Range<usize>,
        slots: &Arc<Vec<Slot>>,
    ) -> Result<()> {
        let start = self.index.members[group.start].offset;
        let last = &self.index.members[group.end - 1];
        let bytes = store.get_range(key, start..last.offset + last.size).await?;
        self.progress.fetched(bytes.len() as u64);
        // inflating and writing run on rayon's pool, one thread per core: the CPU work is
        // bounded and its buffers stay on a few threads
        let mut inflating = Vec::with_capacity(group.len());
        for m in group {
            let range = self.index.members[m].archive_range();
            let gz: Bytes = bytes.slice((range.start - start) as usize..(range.end - start) as usize);
            let (this, slots) = (Arc::clone(&self), Arc::clone(slots));
            let (done, result) = tokio::sync::oneshot::channel();
            rayon::spawn(move || {
                let _ = done.send(this.write_member(m, &gz, &slots));
            });
            inflating.push(result);
        }
        for result in inflating {
            result.await.map_err(|_| SnapshotError::Internal("a member worker stopped".into()))??;
        }
        Ok(())
    }

    /// Verifies and inflates member `m`, and writes its slices of the files in `slots`.
    fn write_member(&self, m: usize, gz: &[u8], slots: &[Slot]) -> Result<()> {
        let member = &self.index.members[m];
        member.sha256.check(gz, || format!("member {m} of the archive"))?;
        INFLATED.with_borrow_mut(|data| {
            data.clear();
            flate2::read::GzDecoder::new(gz)
                .take(member.usize + 1)
                .read_to_end(data)
                .map_err(|e| SnapshotError::invalid("archive", format!("member {m} does not inflate: {e}")))?;
            if data.len() as u64 != member.usize {
                return Err(SnapshotError::invalid(
                    "archive",
                    format!("member {m} inflates to {} bytes, the index says {}", data.len(), member.usize),
                ));
            }
            self.write_slices(member.tar_range(), data, slots)
        })
    }

    /// Writes the slices of `data` (tar stream `tar`) that belong to files in `slots`.
    fn write_slices(&self, tar: Range<u64>, data: &[u8], slots: &[Slot]) -> Result<()> {
        let first = slots.partition_point(|s| s.range.end <= tar.start);
        for slot in slots[first..].iter().take_while(|s| s.range.start < tar.end) {
            let overlap = slot.range.start.max(tar.start)..slot.range.end.min(tar.end);
            let piece = &data[(overlap.start - tar.start) as usize..(overlap.end - tar.start) as usize];
            self.write_piece(slot, overlap.start - slot.range.start, piece)?;
        }
        Ok(())
    }

    fn write_piece(&self, slot: &Slot, offset: u64, piece: &[u8]) -> Result<()> {
        let entry = &self.index.entries[slot.entry];
        let path = Path::new(&entry.path);
        let failed = |action, e| SnapshotError::io(action, self.dest.path().join(path), e);
        if slot.whole {
            expected_digest(entry).expect(Digest::of(piece), || format!("file '{}'", entry.path))?;
        }
        let mut file = slot.file.lock().unwrap_or_else(|e| e.into_inner());
        if file.is_none() {
            *file = Some(self.dest.create_file(path).map_err(|e| failed("create", e))?);
        }
        let open = file.as_ref().expect("created above");
        open.write_all_at(piece, offset).map_err(|e| failed("write", e))?;
        let left = slot.remaining.fetch_sub(piece.len() as u64, Ordering::AcqRel) - piece.len() as u64;
        if left == 0 {
            let open = file.take().expect("still open");
            drop(file);
            if !slot.whole {
                let actual = hash_file(&open, entry.size).map_err(|e| failed("read back", e))?;
                expected_digest(entry).expect(actual, || format!("file '{}'", entry.path))?;
            }
            set_file_metadata(&open, entry.permissions(), entry.mtime, self.owner)
                .map_err(|e| failed("set owner, mode and time of", e))?;
            self.progress.file_done(entry.size);
        }
        Ok(())
    }

    fn write_empty(&self, entry: &Entry) -> Result<()> {
        let path = Path::new(&entry.path);
        let failed = |action, e| SnapshotError::io(action, self.dest.path().join(path), e);
        expected_digest(entry).expect(Digest::of(b""), || format!("file '{}'", entry.path))?;
        let file = self.dest.create_file(path).map_err(|e| failed("create", e))?;
        set_file_metadata(&file, entry.permissions(), entry.mtime, self.owner)
            .map_err(|e| failed("set owner, mode and time of", e))?;
        self.progress.file_done(0);
        Ok(())
    }
}

fn expected_digest(entry: &Entry) -> Digest {
    entry.sha256.expect("validated: every file has a digest")
}

/// SHA-256 of the first `len` bytes of `file` (read with positioned reads).
pub(crate) fn hash_file(file: &File, len: u64) -> std::io::Result<Digest> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; HASH_BLOCK.min(len as usize).max(1)];
    let mut offset = 0;
    while offset < len {
        let want = buffer.len().min((len - offset) as usize);
        let n = file.read_at(&mut buffer[..want], offset)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "file shorter than expected"));
        }
        hasher.update(&buffer[..n]);
        offset += n as u64;
    }
    Ok(Digest::from_hasher(hasher))
}
