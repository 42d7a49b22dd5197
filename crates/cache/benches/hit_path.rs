//! Micro-benchmarks of what a cache hit costs, through the cache crate's public API:
//! the index lookup (`CacheStore::get` / `begin`, key hashing included), the range
//! resolution of a GET (`s3s::dto::Range`), the CRC32C of a 1 MiB block, and a whole
//! cached read as the gateway makes it (`CacheStore::read_entry`: objects up to 256 KiB
//! from the memory tier, larger ones from disk), plus the disk read the memory tier saves
//! (`read` of an entry: file open and pread on the blocking pool, checksum).
//!
//! For scale, `baseline/*` times what the cached read is made of without the cache: a
//! `spawn_blocking` round trip, and the open + pread syscalls made inline.
//!
//! `cargo bench -p cachegate-cache --bench hit_path` (add `-- --quick` for a short run).
#![allow(missing_docs)]

use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cachegate_cache::{
    CacheConfig, CacheKey, CacheStore, Consistency, EntryRead, Lookup, ObjectMeta, SizeLimit, Source, read,
};
use crc_fast::CrcAlgorithm;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::TryStreamExt;

/// Entries in the index while looking up (a realistic working set, not one hot key).
const ENTRIES: usize = 1000;

fn key(name: &str) -> CacheKey {
    CacheKey {
        upstream: "http://127.0.0.1:7480".into(),
        bucket: "nc-bench".into(),
        key: format!("urn:oid:{name}"),
        version_id: None,
    }
}

fn data(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// Stores `key` with `body` through the public fill path and waits until it is indexed.
async fn store_entry(store: &Arc<CacheStore>, key: &CacheKey, body: &[u8]) {
    let Lookup::Lead(lease) = store.begin(key) else { panic!("expected to lead the fill of {key:?}") };
    let meta = ObjectMeta { size: body.len() as u64, etag: "\"bench\"".into(), ..ObjectMeta::default() };
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        body.chunks(256 << 10).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let Ok(fill) = lease.start(meta, futures::stream::iter(chunks)) else { panic!("the cache refused the fill") };
    let _: Vec<Bytes> = read(Source::Fill(fill), 0..body.len() as u64).try_collect().await.unwrap();
    for _ in 0..1000 {
        if store.get(key).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("entry {key:?} was not stored");
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    store: Arc<CacheStore>,
    small: Vec<CacheKey>,
    large: CacheKey,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // like the gateway: a multi-threaded runtime (spawn_blocking reads)
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = CacheConfig {
        dir: Some(dir.path().to_owned()),
        max_size: SizeLimit::Bytes(1 << 30),
        mode: Consistency::Immutable,
        ..CacheConfig::default()
    };
    let store = CacheStore::open(&config).unwrap().unwrap();
    let small: Vec<CacheKey> = (0..ENTRIES).map(|i| key(&format!("small-{i}"))).collect();
    let large = key("large");
    runtime.block_on(async {
        let body = data(4096);
        for k in &small {
            store_entry(&store, k, &body).await;
        }
        store_entry(&store, &large, &data(4 << 20)).await;
    });
    Setup { runtime, store, small, large, dir }
}

fn hit_path(c: &mut Criterion) {
    let setup = setup();

    let mut lookup = c.benchmark_group("lookup");
    lookup.bench_function("key_id_sha256", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ENTRIES;
            black_box(setup.small[i].id())
        })
    });
    lookup.bench_function("get_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ENTRIES;
            black_box(setup.store.get(&setup.small[i]))
        })
    });
    lookup.bench_function("begin_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ENTRIES;
            match setup.store.begin(&setup.small[i]) {
                Lookup::Hit(entry) => black_box(entry),
                _ => panic!("expected a hit"),
            }
        })
    });
    lookup.bench_function("get_miss", |b| {
        let absent = key("absent");
        b.iter(|| black_box(setup.store.get(black_box(&absent))))
    });
    lookup.finish();

    let mut range = c.benchmark_group("range");
    for header in ["bytes=0-", "bytes=100-4095", "bytes=-512"] {
        range.bench_function(format!("parse_check/{header}"), |b| {
            b.iter(|| {
                let parsed = s3s::dto::Range::parse(black_box(header)).unwrap();
                black_box(parsed.check(black_box(4096)).unwrap())
            })
        });
    }
    let parsed = s3s::dto::Range::parse("bytes=100-4095").unwrap();
    range.bench_function("check_only", |b| b.iter(|| black_box(black_box(&parsed).check(black_box(4096)).unwrap())));
    range.finish();

    let mut checksum = c.benchmark_group("checksum");
    let block = data(1 << 20);
    checksum.throughput(Throughput::Bytes(block.len() as u64));
    checksum.bench_function("crc32c_1MiB", |b| {
        b.iter(|| black_box(crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, black_box(&block))))
    });
    let page = data(4096);
    checksum.throughput(Throughput::Bytes(page.len() as u64));
    checksum.bench_function("crc32c_4KiB", |b| {
        b.iter(|| black_box(crc_fast::checksum(CrcAlgorithm::Crc32Iscsi, black_box(&page))))
    });
    checksum.finish();

    // a whole hit's data path as the gateway runs it, in a task on a runtime worker:
    // lookup, then `read_entry` (4 KiB: the memory tier, filled by the first read; 4 MiB:
    // open + pread on the blocking pool + CRC check)
    let mut hit = c.benchmark_group("read");
    hit.throughput(Throughput::Bytes(4096));
    hit.bench_function("read_entry_4KiB", |b| {
        b.iter_custom(|iters| timed_reads(&setup, &setup.small, 4096, Via::Store, iters))
    });
    // the same 4 KiB from disk every time (what a memory-tier miss costs)
    hit.bench_function("disk_read_4KiB", |b| {
        b.iter_custom(|iters| timed_reads(&setup, &setup.small, 4096, Via::Disk, iters))
    });
    hit.throughput(Throughput::Bytes(4 << 20));
    let large = std::slice::from_ref(&setup.large);
    hit.bench_function("read_entry_4MiB", |b| {
        b.iter_custom(|iters| timed_reads(&setup, large, 4 << 20, Via::Store, iters))
    });
    hit.finish();

    // what the 4 KiB read is made of, without the cache
    let mut baseline = c.benchmark_group("baseline");
    baseline.bench_function("spawn_blocking_noop", |b| {
        b.iter_custom(|iters| {
            on_worker(&setup.runtime, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::task::spawn_blocking(|| black_box(0u8)).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    let file = setup.dir.path().join("baseline-4k");
    std::fs::write(&file, data(4096)).unwrap();
    baseline.bench_function("open_pread_4KiB_inline", |b| {
        b.iter(|| {
            let opened = std::fs::File::open(&file).unwrap();
            let mut buf = vec![0u8; 4096];
            opened.read_exact_at(&mut buf, 0).unwrap();
            black_box(buf)
        })
    });
    baseline.finish();
}

/// How a timed read reaches the entry's bytes.
#[derive(Clone, Copy)]
enum Via {
    /// `CacheStore::read_entry`, as the gateway reads (memory tier for small objects).
    Store,
    /// The entry's file, every time.
    Disk,
}

/// Time of `iters` lookups and whole reads of `len` bytes, cycling through `keys`, in a task on a
/// runtime worker.
fn timed_reads(setup: &Setup, keys: &[CacheKey], len: u64, via: Via, iters: u64) -> Duration {
    let (store, keys) = (Arc::clone(&setup.store), keys.to_vec());
    on_worker(&setup.runtime, async move {
        let start = Instant::now();
        for i in 0..iters {
            let entry = store.get(&keys[i as usize % keys.len()]).unwrap();
            let chunks: Vec<Bytes> = match via {
                Via::Store => match store.read_entry(&entry, 0..len) {
                    EntryRead::Memory(bytes) => Ok(vec![bytes]),
                    EntryRead::Blocks(blocks) => blocks.try_collect().await,
                },
                Via::Disk => read(Source::Entry(entry), 0..len).try_collect().await,
            }
            .unwrap();
            black_box(chunks);
        }
        start.elapsed()
    })
}

/// Runs `task` on a worker thread of `runtime` (as the gateway's handlers run) and returns its answer.
fn on_worker<F>(runtime: &tokio::runtime::Runtime, task: F) -> Duration
where
    F: Future<Output = Duration> + Send + 'static,
{
    runtime.block_on(async move { tokio::spawn(task).await.unwrap() })
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = hit_path
}
criterion_main!(benches);
