use std::collections::HashMap;
use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::ops::Range;

use bytes::Bytes;
use futures::stream::{BoxStream, Fuse};
use futures::{FutureExt, Stream, StreamExt, TryStreamExt};
use globset::{Glob, GlobSet, GlobSetBuilder};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{info, warn};

use crate::block::{BLOCK_SIZE, BlockHasher};
use crate::fill::{Batch, FillState, Started};
use crate::index::Index;
use crate::key::EntryId;
use crate::layout::Layout;
use crate::memory::MemoryTier;
use crate::meta::{EntryRecord, RECORD_FORMAT, now_ms};
use crate::reader::{ReadError, Source, read};
use crate::{CacheConfig, CacheError, CacheKey, Entry, Fill, ObjectMeta};

/// Largest object kept in the memory tier.
pub const MEMORY_OBJECT_MAX: u64 = 256 << 10;
const _: () = assert!(MEMORY_OBJECT_MAX <= BLOCK_SIZE, "a memory-tier object is read as one block");

/// The disk cache: index, files and fills in progress.
pub struct CacheStore {
    layout: Layout,
    /// Whole small objects already read and checked.
    memory: Arc<MemoryTier>,
    index: Index,
    fills: Mutex<HashMap<EntryId, Arc<Fill>>>,
    fill_slots: Arc<Semaphore>,
    requests: moka::sync::Cache<EntryId, u32>,
    include: Option<GlobSet>,
    exclude: GlobSet,
    min_hits: u32,
    max_object_size: u64,
    nonce: AtomicU64,
}

/// The answer to [`CacheStore::begin`].
pub enum Lookup {
    /// A complete entry.
    Hit(Arc<Entry>),
    /// Another request is filling this object: stream from its fill.
    Join(Arc<Fill>),
    /// Nobody has it: fetch it from the upstream and hand the answer to the lease.
    Lead(FillLease),
    /// Not to be cached (excluded, not requested often enough, or no fill slot free).
    Bypass,
}

/// The answer to [`CacheStore::read_entry`].
pub enum EntryRead {
    /// The bytes, already checked, from the memory tier: no stream to poll.
    Memory(Bytes),
    /// Checked blocks, read from disk as they are polled.
    Blocks(BoxStream<'static, Result<Bytes, ReadError>>),
}

/// The right, and duty, to fill one object: [`FillLease::start`] with the upstream's
/// answer, or drop it so that the readers waiting on the fill fetch for themselves.
pub struct FillLease {
    store: Arc<CacheStore>,
    id: EntryId,
    fill: Arc<Fill>,
    permit: Option<OwnedSemaphorePermit>,
}

impl CacheStore {
    /// Opens the cache of `config`, re-indexing what an earlier run left complete;
    /// `None` when no `dir` is configured.
    pub fn open(config: &CacheConfig) -> Result<Option<Arc<Self>>, CacheError> {
        let Some(dir) = &config.dir else { return Ok(None) };
        let dir_error = |source| CacheError::Dir { path: dir.clone(), source };
        std::fs::create_dir_all(dir).map_err(dir_error)?;
        let capacity = config.max_size.bytes(filesystem_size(dir).map_err(dir_error)?);
        let layout = Layout::new(dir.clone());
        let memory_capacity = config.memory_size.bytes(capacity);
        let store = Self {
            memory: Arc::new(MemoryTier::new(memory_capacity)),
            index: Index::new(capacity),
            fills: Mutex::new(HashMap::new()),
            fill_slots: Arc::new(Semaphore::new(config.max_fills.max(1))),
            requests: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            include: (!config.include.is_empty()).then(|| globs(&config.include)).transpose()?,
            exclude: globs(&config.exclude)?,
            min_hits: config.min_hits.max(1),
            max_object_size: config.max_object_size.bytes(capacity),
            nonce: AtomicU64::new(now_ms()),
            layout,
        };
        let entries = store.layout.scan().map_err(dir_error)?;
        let found = entries.len();
        for entry in entries {
            store.index.insert(entry.key().id(), Arc::new(entry));
        }
        store.index.settle();
        let (bytes, objects) = store.index.totals();
        info!(dir = %dir.display(), capacity, found, objects, bytes, "cache opened");
        Ok(Some(Arc::new(store)))
    }

    /// The complete entry of `key`, if any.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        self.entry(key.id())
    }

    /// The complete entry with this id, if any.
    pub fn entry(&self, id: EntryId) -> Option<Arc<Entry>> {
        self.index.get(&id)
    }

    /// Finds `key` in the cache, joins its fill, or makes the caller the one to fill it.
    pub fn begin(self: &Arc<Self>, key: &CacheKey) -> Lookup {
        let id = key.id();
        if let Some(entry) = self.index.get(&id) {
            return Lookup::Hit(entry);
        }
        if !self.admits_key(&key.key) {
            return Lookup::Bypass;
        }
        let mut fills = self.fills.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(fill) = fills.get(&id) {
            return Lookup::Join(Arc::clone(fill));
        }
        if !self.requested_enough(id) {
            return Lookup::Bypass;
        }
        let Ok(permit) = Arc::clone(&self.fill_slots).try_acquire_owned() else {
            return Lookup::Bypass;
        };
        let fill = Arc::new(Fill::new(key.clone()));
        fills.insert(id, Arc::clone(&fill));
        metrics::gauge!("cachegate_cache_fills_in_flight").increment(1.0);
        Lookup::Lead(FillLease { store: Arc::clone(self), id, fill, permit: Some(permit) })
    }

    /// Forgets `key`: its entry is deleted and a fill in progress is never stored.
    /// Called before a write is forwarded and again after the upstream answered it.
    pub fn invalidate(&self, key: &CacheKey) {
        let id = key.id();
        if let Some(fill) = self.fills.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id) {
            fill.discard();
        }
        self.index.remove(&id);
    }

    /// Drops every entry and fill of `bucket` on `upstream` (DeleteBucket).
    pub fn invalidate_bucket(&self, upstream: &str, bucket: &str) {
        let (upstream, bucket) = (upstream.to_owned(), bucket.to_owned());
        let matches = move |key: &CacheKey| key.upstream == upstream && key.bucket == bucket;
        self.fills.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|_, fill| {
            let keep = !matches(&fill.key);
            if !keep {
                fill.discard();
            }
            keep
        });
        let doomed = matches.clone();
        self.index.remove_if(move |entry| doomed(entry.key()));
    }

    /// The bytes of `range` of a complete entry. Objects up to [`MEMORY_OBJECT_MAX`] are
    /// read whole once, checked, and then served from memory.
    pub fn read_entry(&self, entry: &Arc<Entry>, range: Range<u64>) -> EntryRead {
        let size = entry.object().size;
        if size > MEMORY_OBJECT_MAX {
            return EntryRead::Blocks(read(Source::Entry(Arc::clone(entry)), range).boxed());
        }
        let span = usize::try_from(range.start).unwrap_or(usize::MAX)..usize::try_from(range.end).unwrap_or(usize::MAX);
        if let Some(bytes) = self.memory.get(entry) {
            return EntryRead::Memory(bytes.slice(span));
        }
        let (memory, entry) = (Arc::clone(&self.memory), Arc::clone(entry));
        EntryRead::Blocks(
            futures::stream::once(async move {
                // no bigger than a block: `read` yields the whole object, checked, as one chunk
                let mut blocks = std::pin::pin!(read(Source::Entry(Arc::clone(&entry)), 0..size));
                let whole = blocks.try_next().await?.unwrap_or_default();
                memory.insert(&entry, whole.clone());
                Ok(whole.slice(span))
            })
            .boxed(),
        )
    }

    /// Deletes an entry found corrupt.
    pub fn purge(&self, entry: &Entry) {
        self.memory.remove(entry);
        metrics::counter!("cachegate_cache_integrity_failures_total").increment(1);
        warn!(bucket = %entry.key().bucket, key = %entry.key().key, "cache entry failed its checksum: purged");
        self.index.remove(&entry.key().id());
    }

    /// Whether an object of `size` bytes may be cached.
    pub fn admits_size(&self, size: u64) -> bool {
        size <= self.max_object_size
    }

    fn admits_key(&self, key: &str) -> bool {
        self.include.as_ref().is_none_or(|set| set.is_match(key)) && !self.exclude.is_match(key)
    }

    fn requested_enough(&self, id: EntryId) -> bool {
        if self.min_hits <= 1 {
            return true;
        }
        let seen = self.requests.get(&id).unwrap_or(0) + 1;
        self.requests.insert(id, seen);
        seen >= self.min_hits
    }

    fn release(&self, id: EntryId, fill: &Arc<Fill>) {
        let mut fills = self.fills.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if fills.get(&id).is_some_and(|f| Arc::ptr_eq(f, fill)) {
            fills.remove(&id);
        }
        metrics::gauge!("cachegate_cache_fills_in_flight").decrement(1.0);
    }
}

impl FillLease {
    /// Starts writing `body` (the whole object described by `object`) into the cache in
    /// the background, and returns the fill to read it from; `None` when the cache
    /// cannot take it (too large, disk error): the caller serves the body itself.
    pub fn start<S, E>(mut self, object: ObjectMeta, body: S) -> Result<Arc<Fill>, S>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        if !self.store.admits_size(object.size) {
            return Err(body);
        }
        let nonce = self.store.nonce.fetch_add(1, Ordering::Relaxed);
        let (path, file) = match self.store.layout.create(self.id, nonce) {
            Ok(created) => created,
            Err(e) => {
                metrics::counter!("cachegate_cache_errors_total", "kind" => "write").increment(1);
                warn!(dir = %self.store.layout.dir().display(), error = %e, "cache cannot write: serving uncached");
                return Err(body);
            }
        };
        let file = Arc::new(file);
        self.fill.start(object, Arc::clone(&file));
        let fill = Arc::clone(&self.fill);
        let permit = self.permit.take();
        tokio::spawn(async move {
            let state = self.write(&path, &file, body).await;
            self.fill.finish(state);
            drop(permit);
        });
        Ok(fill)
    }

    /// Copies `body` into the file and commits the entry at `path`; the final state of the
    /// fill. The chunks that arrived while a batch was written go to the file in the next
    /// trip to the blocking pool; the last batch goes with the record, in one write, and
    /// the commit shares that trip.
    async fn write<S, E>(&self, path: &Path, file: &Arc<File>, body: S) -> FillState
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let Some(started) = self.fill.started() else { return FillState::Failed };
        let size = started.object.size;
        let mut body = body.fuse();
        let mut hasher = BlockHasher::new();
        let mut written = 0u64;
        let mut committed = None;
        loop {
            let chunks = match next_batch(&mut body).await {
                Ok(chunks) => chunks,
                Err(e) => return self.fail(path, &format!("upstream body failed: {e}")),
            };
            // the end of the body; an empty object still goes once round, to be committed
            if chunks.is_empty() && written != size {
                break;
            }
            let len: u64 = chunks.iter().map(|c| c.len() as u64).sum();
            chunks.iter().for_each(|chunk| hasher.update(chunk));
            let last = written + len == size;
            // the last batch carries the record and commits the entry at its path
            let commit = (last && !self.fill.is_discarded()).then(|| {
                let crcs = std::mem::replace(&mut hasher, BlockHasher::new()).finish();
                (self.record(started, crcs), path.to_owned())
            });
            let file = Arc::clone(file);
            let wrote = tokio::task::spawn_blocking(move || {
                let trailer = commit.as_ref().map(|(record, _)| Layout::trailer(record)).transpose()?;
                write_batch(&file, &chunks, trailer.as_deref().unwrap_or_default())?;
                let committed = commit.map(|(record, path)| Layout::commit(&path).map(|()| record));
                Ok::<_, std::io::Error>((chunks, committed))
            })
            .await;
            let (chunks, commit) = match wrote.map_err(std::io::Error::other).and_then(|r| r) {
                Ok(wrote) => wrote,
                Err(e) => {
                    metrics::counter!("cachegate_cache_errors_total", "kind" => "write").increment(1);
                    return self.fail(path, &format!("cache write failed: {e}"));
                }
            };
            self.fill.advance(Batch { start: written, chunks });
            written += len;
            if last {
                committed = commit;
                break;
            }
        }
        if written != size {
            return self.fail(path, &format!("upstream body ended at {written} of {size} bytes"));
        }
        // discarded before its last batch: never committed
        let Some(committed) = committed else {
            Layout::remove_unfinished(path);
            return FillState::Complete;
        };
        match committed {
            Ok(record) if !self.fill.is_discarded() => {
                self.store.index.insert(self.id, Arc::new(Entry::new(record, path.to_owned())));
            }
            Ok(_) => Layout::remove(path),
            Err(e) => {
                metrics::counter!("cachegate_cache_errors_total", "kind" => "write").increment(1);
                warn!(error = %e, "cache entry not stored");
                Layout::remove_unfinished(path);
            }
        }
        FillState::Complete
    }

    /// The record of the object this lease fills, with the CRCs of its blocks.
    fn record(&self, started: &Started, block_crcs: Vec<u32>) -> EntryRecord {
        EntryRecord {
            format: RECORD_FORMAT,
            key: self.fill.key.clone(),
            object: started.object.clone(),
            stored_at_ms: now_ms(),
            block_size: BLOCK_SIZE,
            block_crcs,
        }
    }

    fn fail(&self, path: &Path, reason: &str) -> FillState {
        warn!(bucket = %self.fill.key.bucket, key = %self.fill.key.key, reason, "cache fill dropped");
        Layout::remove_unfinished(path);
        FillState::Failed
    }
}

impl Drop for FillLease {
    fn drop(&mut self) {
        if self.fill.started().is_none() {
            self.fill.finish(FillState::Failed);
        }
        self.store.release(self.id, &self.fill);
    }
}

/// Most bytes a fill takes into one batch.
const WRITE_BATCH: usize = 1 << 20;

/// The next chunks of `body`: the first one awaited, then those already there, up to
/// [`WRITE_BATCH`] bytes; none at the end of the body.
async fn next_batch<S, E>(body: &mut Fuse<S>) -> Result<Vec<Bytes>, E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let Some(first) = body.next().await.transpose()? else { return Ok(Vec::new()) };
    let mut len = first.len();
    let mut chunks = vec![first];
    while len < WRITE_BATCH {
        match body.next().now_or_never() {
            Some(Some(chunk)) => {
                let chunk = chunk?;
                len += chunk.len();
                chunks.push(chunk);
            }
            Some(None) | None => break,
        }
    }
    Ok(chunks)
}

/// Appends `chunks`, then `trailer`, to `file` with as few system calls as the kernel allows.
fn write_batch(mut file: &File, chunks: &[Bytes], trailer: &[u8]) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> =
        chunks.iter().map(|c| IoSlice::new(c)).chain([IoSlice::new(trailer)]).filter(|s| !s.is_empty()).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn globs(patterns: &[String]) -> Result<GlobSet, CacheError> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern)
            .map_err(|e| CacheError::Pattern { pattern: pattern.clone(), reason: e.kind().to_string() })?;
        set.add(glob);
    }
    set.build().map_err(|e| CacheError::Pattern { pattern: patterns.join(", "), reason: e.to_string() })
}

fn filesystem_size(dir: &Path) -> std::io::Result<u64> {
    let stats = rustix::fs::statvfs(dir)?;
    Ok(stats.f_blocks.saturating_mul(stats.f_frsize))
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;
    use crate::reader::{ReadError, Source, read};
    use crate::{Lookup, SizeLimit};

    fn config(dir: &Path) -> CacheConfig {
        CacheConfig { dir: Some(dir.to_owned()), max_size: SizeLimit::Bytes(64 << 20), ..CacheConfig::default() }
    }

    fn key(name: &str) -> CacheKey {
        CacheKey { upstream: "u".into(), bucket: "b".into(), key: name.into(), version_id: None }
    }

    fn object(size: usize) -> (ObjectMeta, Vec<u8>) {
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        (ObjectMeta { size: size as u64, etag: "\"e\"".into(), ..ObjectMeta::default() }, data)
    }

    fn body(data: &[u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static {
        let chunks: Vec<_> = data.chunks(100_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(chunks)
    }

    async fn collect(source: Source, range: std::ops::Range<u64>) -> Result<Vec<u8>, ReadError> {
        let chunks: Vec<Bytes> = read(source, range).try_collect().await?;
        Ok(chunks.concat())
    }

    async fn fill_and_wait(store: &Arc<CacheStore>, name: &str, size: usize) -> Vec<u8> {
        let (meta, data) = object(size);
        let Lookup::Lead(lease) = store.begin(&key(name)) else { panic!("expected to lead the fill") };
        let fill = lease.start(meta, body(&data)).ok().unwrap();
        assert_eq!(collect(Source::Fill(fill), 0..size as u64).await.unwrap(), data);
        for _ in 0..100 {
            if store.get(&key(name)).is_some() {
                return data;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("entry was not stored");
    }

    #[tokio::test]
    async fn fills_then_hits_every_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        let size = 2 * BLOCK_SIZE as usize + 123;
        let data = fill_and_wait(&store, "k", size).await;
        let Lookup::Hit(entry) = store.begin(&key("k")) else { panic!("expected a hit") };
        let end = size as u64;
        for range in [0..end, 5..6, BLOCK_SIZE - 1..BLOCK_SIZE + 1, end - 10..end] {
            let got = collect(Source::Entry(Arc::clone(&entry)), range.clone()).await.unwrap();
            assert_eq!(got, &data[range.start as usize..range.end as usize]);
        }
    }

    #[tokio::test]
    async fn an_empty_object_is_stored_and_hit() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        fill_and_wait(&store, "empty", 0).await;
        let Lookup::Hit(entry) = store.begin(&key("empty")) else { panic!("expected a hit") };
        assert_eq!(entry.object().size, 0);
        let trailer = Layout::trailer(&entry.record).unwrap();
        assert_eq!(std::fs::read(entry.path()).unwrap(), trailer, "no object bytes before the record");
    }

    #[tokio::test]
    async fn a_late_reader_of_a_fill_reads_the_file_then_the_last_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        let size = 3 * WRITE_BATCH + 5;
        let (meta, data) = object(size);
        let Lookup::Lead(lease) = store.begin(&key("late")) else { panic!("expected to lead the fill") };
        let fill = lease.start(meta, body(&data)).ok().unwrap();
        let mut state = fill.subscribe();
        state.wait_for(|s| *s == FillState::Complete).await.unwrap();
        assert!(fill.recent(0, 1).is_none(), "the first batch is only in the file by now");
        assert_eq!(collect(Source::Fill(fill), 0..size as u64).await.unwrap(), data);
    }

    #[tokio::test]
    async fn small_objects_are_served_from_memory_after_the_first_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        let data = fill_and_wait(&store, "small", 4096).await;
        let entry = store.get(&key("small")).unwrap();
        let EntryRead::Blocks(first) = store.read_entry(&entry, 10..20) else {
            panic!("the first read must come from disk")
        };
        let first: Vec<Bytes> = first.try_collect().await.unwrap();
        assert_eq!(first.concat(), &data[10..20]);
        std::fs::remove_file(entry.path()).unwrap();
        let EntryRead::Memory(again) = store.read_entry(&entry, 0..4096) else {
            panic!("the second read must come from the memory tier")
        };
        assert_eq!(again, data, "the second read must not touch the disk");
    }

    #[tokio::test]
    async fn the_memory_tier_keeps_what_fits_and_drops_what_it_evicts() {
        let dir = tempfile::tempdir().unwrap();
        let config = CacheConfig { memory_size: SizeLimit::Bytes(6000), ..config(dir.path()) };
        let store = CacheStore::open(&config).unwrap().unwrap();
        let mut entries = Vec::new();
        for name in ["first", "second"] {
            fill_and_wait(&store, name, 4096).await;
            let entry = store.get(&key(name)).unwrap();
            let EntryRead::Blocks(blocks) = store.read_entry(&entry, 0..4096) else {
                panic!("{name}: from disk first")
            };
            let _: Vec<Bytes> = blocks.try_collect().await.unwrap();
            store.memory.settle();
            entries.push(entry);
        }
        let in_memory: Vec<bool> = entries.iter().map(|e| e.bytes_in_memory().is_some()).collect();
        assert_eq!(in_memory.iter().filter(|kept| **kept).count(), 1, "room for one: {in_memory:?}");
        let kept = entries.iter().find(|e| e.bytes_in_memory().is_some()).unwrap();
        store.purge(kept);
        assert!(kept.bytes_in_memory().is_none(), "a purged entry's bytes are dropped");
    }

    #[tokio::test]
    async fn concurrent_requests_join_one_fill() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        let Lookup::Lead(lease) = store.begin(&key("k")) else { panic!() };
        let Lookup::Join(joined) = store.begin(&key("k")) else { panic!("second request must join") };
        let (meta, data) = object(300_000);
        lease.start(meta, body(&data)).ok().unwrap();
        assert_eq!(joined.ready().await.unwrap().size, 300_000);
        assert_eq!(collect(Source::Fill(joined), 0..300_000).await.unwrap(), data);
    }

    #[tokio::test]
    async fn corrupt_block_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        fill_and_wait(&store, "k", 1000).await;
        let entry = store.get(&key("k")).unwrap();
        let path = entry.path();
        let mut bytes = std::fs::read(path).unwrap();
        bytes[500] ^= 1;
        std::fs::write(path, bytes).unwrap();
        assert!(matches!(
            collect(Source::Entry(Arc::clone(&entry)), 0..1000).await,
            Err(ReadError::Corrupt { block: 0 })
        ));
        store.purge(&entry);
        assert!(store.get(&key("k")).is_none());
    }

    #[tokio::test]
    async fn entries_survive_a_restart_and_leftovers_do_not() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
            fill_and_wait(&store, "kept", 5000).await;
        }
        let stray = dir.path().join("ab");
        std::fs::create_dir_all(&stray).unwrap();
        std::fs::write(stray.join("x.entry.tmp"), b"partial").unwrap();
        std::fs::write(stray.join("y.entry"), b"no record").unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        assert!(store.get(&key("kept")).is_some());
        assert_eq!(std::fs::read_dir(&stray).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn invalidation_discards_a_fill_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        let Lookup::Lead(lease) = store.begin(&key("k")) else { panic!() };
        let (meta, data) = object(1000);
        let (sender, receiver) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
        let fill = lease.start(meta, receiver).ok().unwrap();
        sender.unbounded_send(Ok(Bytes::copy_from_slice(&data[..500]))).unwrap();
        store.invalidate(&key("k"));
        sender.unbounded_send(Ok(Bytes::copy_from_slice(&data[500..]))).unwrap();
        drop(sender);
        // a reader that was already on the fill still gets its bytes
        assert_eq!(collect(Source::Fill(fill), 0..1000).await.unwrap(), data);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(store.get(&key("k")).is_none(), "a discarded fill must not be stored");
        assert!(matches!(store.begin(&key("k")), Lookup::Lead(_)));
    }

    #[tokio::test]
    async fn failed_upstream_body_fails_the_readers() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&config(dir.path())).unwrap().unwrap();
        let Lookup::Lead(lease) = store.begin(&key("k")) else { panic!() };
        let (meta, _) = object(1000);
        let broken = futures::stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err(std::io::Error::other("reset"))]);
        let fill = lease.start(meta, broken).ok().unwrap();
        assert!(matches!(collect(Source::Fill(fill), 0..1000).await, Err(ReadError::FillFailed(_))));
        assert!(store.get(&key("k")).is_none());
    }

    #[tokio::test]
    async fn objects_over_the_size_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = CacheStore::open(&CacheConfig { max_object_size: SizeLimit::Bytes(10), ..config(dir.path()) })
            .unwrap()
            .unwrap();
        let Lookup::Lead(lease) = store.begin(&key("k")) else { panic!() };
        let (meta, data) = object(11);
        assert!(lease.start(meta, body(&data)).is_err());
        assert!(matches!(store.begin(&key("k")), Lookup::Lead(_)), "the refused lease must be released");
    }
}
