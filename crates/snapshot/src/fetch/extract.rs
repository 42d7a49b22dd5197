//! Downloading the members that hold the files to write, inflating them in parallel and
//! writing each file's slices at their offsets; every file is verified before it gets its
//! final mode, owner and time.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};

use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::fetch::dest_dir::{DestDir, PRIVATE, set_file_metadata};
use crate::fetch::file_hash::PieceHasher;
use crate::fetch::progress::Progress;
use crate::index::{Entry, Index};
use crate::store::SnapshotStore;

/// Largest archive range one GET asks for: consecutive members are read together up to it.
const MAX_GET_BYTES: u64 = 4 << 20;
/// Smallest range worth a GET of its own when cutting a large transfer for parallelism.
const MIN_GET_BYTES: u64 = 1 << 20;
/// Tar bytes one worker inflates and writes in a row: the pieces of a file that spans
/// consecutive members then mostly arrive in order, and are hashed from memory.
const RUN_TAR_BYTES: u64 = 2 << 20;

thread_local! {
    /// The inflated member, reused by each worker thread.
    static INFLATED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

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
    /// All of its contents lie in one member: hashed from memory before it is created
    /// (with its final mode when the umask allows).
    whole: bool,
    writing: Mutex<Writing>,
}

/// What a file being written has so far.
struct Writing {
    /// Open from its first piece to its last.
    file: Option<File>,
    /// Bytes not written yet.
    left: u64,
    /// The digest of the pieces written (of a file in several members).
    hash: PieceHasher,
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
                writing: Mutex::new(Writing { file: None, left: entry.size, hash: PieceHasher::default() }),
            });
        }
        needed.sort_unstable();
        needed.dedup();
        let total: u64 = needed.iter().map(|&m| self.index.members[m].size).sum();
        let concurrency = concurrency.max(1);
        // enough GETs to keep every connection busy, few enough to keep requests cheap
        let get_bytes = (total / (concurrency as u64 * 2)).clamp(MIN_GET_BYTES, MAX_GET_BYTES);
        let groups = self.group(&needed, get_bytes);
        let stats = Transfer { members: needed.len() as u64, bytes: total, requests: groups.len() as u64 };
        self.progress.expect(stats.bytes, write.len() as u64);
        let slots = Arc::new(slots);
        futures::stream::iter(groups)
            .map(|group| {
                let (this, slots) = (Arc::clone(&self), Arc::clone(&slots));
                async move { this.fetch_group(store, key, group, &slots).await }
            })
            .buffer_unordered(concurrency)
            .try_collect::<()>()
            .await?;
        if let Some(slot) = slots.iter().find(|s| s.writing.lock().unwrap_or_else(|e| e.into_inner()).left != 0) {
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
        let mut working = Vec::new();
        for run in self.runs(group) {
            let (this, slots, bytes) = (Arc::clone(&self), Arc::clone(slots), bytes.clone());
            let (done, result) = tokio::sync::oneshot::channel();
            rayon::spawn(move || {
                let written = run.into_iter().try_for_each(|m| {
                    let range = this.index.members[m].archive_range();
                    let gz = &bytes[(range.start - start) as usize..(range.end - start) as usize];
                    this.write_member(m, gz, &slots)
                });
                let _ = done.send(written);
            });
            working.push(result);
        }
        for result in working {
            result.await.map_err(|_| SnapshotError::Internal("a member worker stopped".into()))??;
        }
        Ok(())
    }

    /// Cuts `group` into runs of consecutive members of about [`RUN_TAR_BYTES`], one
    /// worker's job each.
    fn runs(&self, group: Range<usize>) -> Vec<Range<usize>> {
        let mut runs = Vec::new();
        let (mut start, mut tar) = (group.start, 0);
        for m in group.clone() {
            tar += self.index.members[m].usize;
            if tar >= RUN_TAR_BYTES {
                runs.push(start..m + 1);
                (start, tar) = (m + 1, 0);
            }
        }
        if start < group.end {
            runs.push(start..group.end);
        }
        runs
    }

    /// Verifies and inflates member `m`, and writes its slices of the files in `slots`.
    fn write_member(&self, m: usize, gz: &[u8], slots: &[Slot]) -> Result<()> {
        let member = &self.index.members[m];
        member.sha256.check(gz, || format!("member {m} of the archive"))?;
        INFLATED.with_borrow_mut(|data| {
            let len = member.usize as usize;
            // the buffer keeps its largest length: no member's bytes are zeroed before use
            if data.len() < len {
                data.resize(len, 0);
            }
            let data = &mut data[..len];
            inflate(gz, data).map_err(|e| SnapshotError::invalid("archive", format!("member {m} {e}")))?;
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
        let mode = entry.permissions();
        let preset = slot.whole && self.dest.creates_with(mode);
        if slot.whole {
            expected_digest(entry).expect(Digest::of(piece), || format!("file '{}'", entry.path))?;
        }
        let mut writing = slot.writing.lock().unwrap_or_else(|e| e.into_inner());
        let Writing { file, left, hash } = &mut *writing;
        if file.is_none() {
            let created = self.dest.create_file(path, if preset { mode } else { PRIVATE });
            *file = Some(created.map_err(|e| failed("create", e))?);
        }
        let open = file.as_ref().expect("created above");
        open.write_all_at(piece, offset).map_err(|e| failed("write", e))?;
        if !slot.whole {
            hash.add(open, offset, piece).map_err(|e| failed("read back", e))?;
        }
        *left -= piece.len() as u64;
        if *left > 0 {
            return Ok(());
        }
        let (open, hash) = (file.take().expect("still open"), std::mem::take(hash));
        drop(writing);
        if !slot.whole {
            let actual = hash.finish(entry.size).map_err(|e| failed("read back", e))?;
            expected_digest(entry).expect(actual, || format!("file '{}'", entry.path))?;
        }
        set_file_metadata(&open, (!preset).then_some(mode), entry.mtime, self.owner)
            .map_err(|e| failed("set owner, mode and time of", e))?;
        self.progress.file_done(entry.size);
        Ok(())
    }

    fn write_empty(&self, entry: &Entry) -> Result<()> {
        let path = Path::new(&entry.path);
        let failed = |action, e| SnapshotError::io(action, self.dest.path().join(path), e);
        expected_digest(entry).expect(Digest::of(b""), || format!("file '{}'", entry.path))?;
        let mode = entry.permissions();
        let preset = self.dest.creates_with(mode);
        let file = self.dest.create_file(path, if preset { mode } else { PRIVATE }).map_err(|e| failed("create", e))?;
        set_file_metadata(&file, (!preset).then_some(mode), entry.mtime, self.owner)
            .map_err(|e| failed("set owner, mode and time of", e))?;
        self.progress.file_done(0);
        Ok(())
    }
}

fn expected_digest(entry: &Entry) -> Digest {
    entry.sha256.expect("validated: every file has a digest")
}

/// Inflates gzip member `gz` into exactly `out`; the error completes "member N …".
fn inflate(gz: &[u8], out: &mut [u8]) -> std::result::Result<(), String> {
    let mut decoder = flate2::bufread::GzDecoder::new(gz);
    match decoder.read_exact(out) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(format!("inflates to fewer than the {} bytes the index says", out.len()));
        }
        Err(e) => return Err(format!("does not inflate: {e}")),
    }
    // reading on checks the member's trailer, and that it holds nothing more
    match decoder.read(&mut [0; 1]) {
        Ok(0) => Ok(()),
        Ok(_) => Err(format!("inflates to more than the {} bytes the index says", out.len())),
        Err(e) => Err(format!("does not inflate: {e}")),
    }
}
