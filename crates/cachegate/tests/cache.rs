//! The disk cache against a real RGW: hits, ranges, consistency, coalescing, hang-ups,
//! restarts, corruption, upstream outages and unusable cache directories.

mod common;

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use common::{ALPHA, Gateway, Relay, cached_get, eventually, fresh_bucket, rgw, rgw_client, walk};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, data: &[u8]) {
    s3.put_object().bucket(bucket).key(key).body(ByteStream::from(data.to_vec())).send().await.unwrap();
}

/// Waits until a GET of `key` is a hit (the fill runs in the background).
async fn until_hit(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    for _ in 0..100 {
        let (bytes, status) = cached_get(s3, bucket, key, None).await;
        if status == "HIT" {
            return bytes;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{key} never became a cache hit");
}

#[tokio::test]
async fn hit_after_miss_and_every_range_from_cache() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::cached(&rgw().endpoint, dir.path(), "immutable");
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    let data = pattern(3 << 20, 1);
    put(&s3, &bucket, "obj", &data).await;

    let (first, status) = cached_get(&s3, &bucket, "obj", Some("bytes=0-")).await;
    assert_eq!((first.len(), status.as_str()), (data.len(), "MISS"));
    assert_eq!(until_hit(&s3, &bucket, "obj").await, data);
    let len = data.len();
    for (range, bytes) in [
        ("bytes=0-", &data[..]),
        ("bytes=1048570-", &data[1_048_570..]),
        ("bytes=100-2097200", &data[100..=2_097_200]),
        ("bytes=-10", &data[len - 10..]),
    ] {
        assert_eq!(cached_get(&s3, &bucket, "obj", Some(range)).await, (bytes.to_vec(), "HIT".to_owned()), "{range}");
    }
    let unsatisfiable = s3.get_object().bucket(&bucket).key("obj").range(format!("bytes={len}-")).send().await;
    assert_eq!(common::failure(unsatisfiable).0, 416);
    let head = s3.head_object().bucket(&bucket).key("obj").send().await.unwrap();
    assert_eq!(head.content_length(), Some(len as i64));
}

#[tokio::test]
async fn writes_through_the_gateway_are_never_answered_with_old_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::cached(&rgw().endpoint, dir.path(), "immutable");
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    put(&s3, &bucket, "f", b"version one").await;
    until_hit(&s3, &bucket, "f").await;
    put(&s3, &bucket, "f", b"version two").await;
    assert_eq!(cached_get(&s3, &bucket, "f", None).await.0, b"version two");
    s3.delete_object().bucket(&bucket).key("f").send().await.unwrap();
    assert_eq!(common::failure(s3.get_object().bucket(&bucket).key("f").send().await).0, 404);

    // overwrite while a slow reader still streams the old version's fill
    let old = pattern(48 << 20, 2);
    put(&s3, &bucket, "big", &old).await;
    let mut slow = s3.get_object().bucket(&bucket).key("big").send().await.unwrap();
    let _ = slow.body.try_next().await.unwrap();
    let new = pattern(1 << 20, 3);
    put(&s3, &bucket, "big", &new).await;
    assert_eq!(cached_get(&s3, &bucket, "big", None).await.0, new);
    drop(slow);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cached_get(&s3, &bucket, "big", None).await.0, new, "the old fill must not have been stored");
}

#[tokio::test]
async fn revalidate_sees_direct_overwrites_and_ttl_only_after_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let revalidating = Gateway::cached(&rgw().endpoint, &dir.path().join("r"), "revalidate");
    let ttl = Gateway::cached(&rgw().endpoint, &dir.path().join("t"), "ttl=2s");
    let bucket = fresh_bucket("alpha").await;
    let direct = rgw_client();
    put(&direct, &bucket, "k", b"old").await;
    let (r, t) = (revalidating.client(ALPHA), ttl.client(ALPHA));
    until_hit(&t, &bucket, "k").await;
    cached_get(&r, &bucket, "k", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cached_get(&r, &bucket, "k", None).await, (b"old".to_vec(), "REVALIDATED".to_owned()));

    put(&direct, &bucket, "k", b"new!").await;
    assert_eq!(cached_get(&r, &bucket, "k", None).await.0, b"new!");
    assert_eq!(cached_get(&t, &bucket, "k", None).await, (b"old".to_vec(), "HIT".to_owned()), "within the TTL");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(cached_get(&t, &bucket, "k", None).await.0, b"new!", "after the TTL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_gets_make_one_upstream_get() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::cached(&rgw().endpoint, dir.path(), "revalidate");
    let bucket = fresh_bucket("alpha").await;
    let data = pattern(64 << 20, 4);
    put(&rgw_client(), &bucket, "cold", &data).await;
    let series =
        format!("cachegate_upstream_requests_total{{upstream=\"{}\",operation=\"GetObject\"}}", rgw().endpoint);
    let before = gateway.metric(&series);
    let s3 = gateway.client(ALPHA);
    let readers = (0..32).map(|_| cached_get(&s3, &bucket, "cold", None));
    for (bytes, status) in futures::future::join_all(readers).await {
        assert!(bytes == data, "a reader got wrong bytes");
        assert_eq!(status, "MISS");
    }
    assert_eq!(gateway.metric(&series) - before, 1.0, "32 cold readers must share one upstream GET");
}

#[tokio::test]
async fn fill_completes_after_the_client_hangs_up_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = fresh_bucket("alpha").await;
    let data = pattern(16 << 20, 5);
    put(&rgw_client(), &bucket, "nc", &data).await;
    {
        let gateway = Gateway::cached(&rgw().endpoint, dir.path(), "immutable");
        let s3 = gateway.client(ALPHA);
        let mut partial = s3.get_object().bucket(&bucket).key("nc").range("bytes=0-").send().await.unwrap();
        let first = partial.body.try_next().await.unwrap().unwrap();
        assert!(first.len() >= 1024);
        drop(partial);
        assert_eq!(until_hit(&s3, &bucket, "nc").await, data);
    }
    let restarted = Gateway::cached(&rgw().endpoint, dir.path(), "immutable");
    assert_eq!(cached_get(&restarted.client(ALPHA), &bucket, "nc", None).await, (data, "HIT".to_owned()));
}

#[tokio::test]
async fn a_flipped_byte_on_disk_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::cached(&rgw().endpoint, dir.path(), "immutable");
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    let data = pattern(2 << 20, 6);
    put(&s3, &bucket, "c", &data).await;
    until_hit(&s3, &bucket, "c").await;
    let file = entry_files(dir.path()).pop().expect("a cached entry file");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[1234] ^= 0x40;
    std::fs::write(&file, bytes).unwrap();
    let (got, status) = cached_get(&s3, &bucket, "c", None).await;
    assert!(got == data, "corrupt bytes were served");
    assert_eq!(status, "MISS");
    assert!(gateway.metric("cachegate_cache_integrity_failures_total") >= 1.0);
}

#[tokio::test]
async fn upstream_outage_serves_cached_objects_as_stale() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start();
    let gateway = Gateway::cached(&relay.endpoint, dir.path(), "revalidate");
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    put(&s3, &bucket, "kept", b"still here").await;
    put(&s3, &bucket, "never-read", b"x").await;
    cached_get(&s3, &bucket, "kept", None).await;
    gateway.wait_for("/readyz", 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.cut();
    assert_eq!(cached_get(&s3, &bucket, "kept", None).await, (b"still here".to_vec(), "STALE".to_owned()));
    // once the probes see the outage, the gateway stays in its Service to serve what it has
    let probe_saw_outage = || {
        let (_, body) = gateway.admin_get("/metrics").unwrap();
        body.lines().any(|l| l.starts_with("cachegate_upstream_up{") && l.ends_with(" 0"))
    };
    assert!(eventually(Duration::from_secs(10), probe_saw_outage), "the readiness probe never saw the outage");
    assert_eq!(gateway.admin_get("/readyz").unwrap().0, 200);
    let uncached = s3.get_object().bucket(&bucket).key("never-read").send().await;
    assert_eq!(common::failure(uncached).0, 503);
    let write = s3.put_object().bucket(&bucket).key("w").body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(common::failure(write).0, 503);
}

#[tokio::test]
async fn an_unusable_cache_directory_never_fails_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::cached(&rgw().endpoint, dir.path(), "immutable");
    // every fan-out directory name taken by a file: no entry can be created (root ignores modes)
    for i in 0..=255u8 {
        std::fs::write(dir.path().join(format!("{i:02x}")), b"").unwrap();
    }
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    let data = pattern(300_000, 7);
    put(&s3, &bucket, "u", &data).await;
    for _ in 0..3 {
        assert_eq!(cached_get(&s3, &bucket, "u", Some("bytes=0-")).await.0, data);
    }
    assert!(gateway.metric("cachegate_cache_errors_total{kind=\"write\"}") >= 1.0);
}

/// The cached objects' entry files under the cache directory `dir`.
fn entry_files(dir: &Path) -> Vec<std::path::PathBuf> {
    walk(dir).into_iter().filter(|path| path.extension().is_some_and(|e| e == "entry")).collect()
}
