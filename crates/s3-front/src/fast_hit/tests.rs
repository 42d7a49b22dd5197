//! The fast hit path against s3s: for every request it answers, the same status,
//! headers and body as s3s's answer; every request it declines is one s3s answers.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::TryStreamExt;
use http_body_util::BodyExt;
use tempfile::TempDir;

use cachegate_cache::{CacheConfig, CacheKey, CacheStore, Lookup, SizeLimit, Source, TenantCache, read};
use cachegate_sigv4::{Signer, UNSIGNED_PAYLOAD, amz_date};

use super::*;
use crate::gateway::CacheSetup;
use crate::{BucketPattern, FrontOptions, FrontService, Tenant, Upstream};

const ACCESS_KEY: &str = "FASTHITKEY0000000001";
const SECRET_KEY: &str = "fast-hit-secret-0000000000000000000000001";
const HOST: &str = "127.0.0.1:9000";

struct Setup {
    fast_hits: FastHits,
    front: FrontService,
    _dir: TempDir,
}

/// A gateway whose tenant `t` owns bucket `bkt` in `mode`, its upstream unreachable (a
/// hit never asks it), with `objects` cached.
async fn setup(mode: Consistency, objects: &[(&str, ObjectMeta)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = CacheConfig {
        dir: Some(dir.path().to_owned()),
        max_size: SizeLimit::Bytes(64 << 20),
        ..CacheConfig::default()
    };
    let store = CacheStore::open(&config).unwrap().unwrap();
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let tenant = Tenant {
        name: "t".into(),
        buckets: vec![BucketPattern::Exact("bkt".into())],
        upstream: Arc::new(Upstream::new("u".into(), client.clone(), client)),
        cache: TenantCache { mode: Some(mode), ..TenantCache::default() },
    };
    let mut registry = TenantRegistry::default();
    registry.add(tenant, &[(ACCESS_KEY.into(), SECRET_KEY.into())]).unwrap();
    let registry = Arc::new(registry);
    let cache =
        CacheSetup { store: Arc::clone(&store), default_mode: Consistency::Revalidate, max_stale: Duration::ZERO };
    let options =
        FrontOptions { max_clock_skew: Duration::from_secs(900), virtual_host_domains: Vec::new(), anonymous: None };
    let front = FrontService::new(Arc::clone(&registry), &options, Some(cache.clone())).unwrap().without_fast_hits();
    for (key, meta) in objects {
        fill(&store, key, meta.clone()).await;
    }
    let fast_hits = FastHits { registry, cache, max_clock_skew: options.max_clock_skew, path_style_hosts: Vec::new() };
    Setup { fast_hits, front, _dir: dir }
}

fn contents(size: u64) -> Bytes {
    (0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

async fn fill(store: &Arc<CacheStore>, key: &str, meta: ObjectMeta) {
    let cache_key = CacheKey { upstream: "u".into(), bucket: "bkt".into(), key: key.into(), version_id: None };
    let Lookup::Lead(lease) = store.begin(&cache_key) else { panic!("expected to lead the fill of {key}") };
    let data = contents(meta.size);
    let size = meta.size;
    let body = futures::stream::iter([Ok::<_, std::io::Error>(data)]);
    let fill = lease.start(meta, body).ok().unwrap();
    let _: Vec<Bytes> = read(Source::Fill(fill), 0..size).try_collect().await.unwrap();
    for _ in 0..200 {
        if store.get(&cache_key).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{key} was not stored");
}

fn rich_meta(size: u64) -> ObjectMeta {
    ObjectMeta {
        size,
        etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
        last_modified: Some(1_700_000_000),
        content_type: Some("image/png".into()),
        content_encoding: Some("identity".into()),
        content_disposition: Some("attachment; filename=\"a b.png\"".into()),
        content_language: Some("de".into()),
        cache_control: Some("max-age=60".into()),
        expires: Some(1_800_000_000),
        metadata: BTreeMap::from([("mtime".into(), "1700000000".into()), ("original-path".into(), "a/b.png".into())]),
        checksums: BTreeMap::from([("crc32".into(), "DUoRhQ==".into())]),
        version_id: None,
        storage_class: Some("STANDARD".into()),
    }
}

/// A request signed now by the tenant's key, with `headers` signed too.
fn signed(method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> http::Request<()> {
    signed_as(method, path_and_query, headers, Credential { at: SystemTime::now(), secret: SECRET_KEY, service: "s3" })
}

/// When, with which secret and for which service a test request is signed.
struct Credential<'a> {
    at: SystemTime,
    secret: &'a str,
    service: &'a str,
}

fn signed_as(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    credential: Credential<'_>,
) -> http::Request<()> {
    let Credential { at, secret, service } = credential;
    let date = amz_date(at.duration_since(UNIX_EPOCH).unwrap().as_secs());
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut signed: Vec<(&str, &str)> =
        vec![("host", HOST), ("x-amz-content-sha256", UNSIGNED_PAYLOAD), ("x-amz-date", &date)];
    signed.extend_from_slice(headers);
    signed.sort_unstable();
    let signer = Signer::new(ACCESS_KEY, secret, "us-east-1", service);
    let decoded = urlencoding::decode(path).unwrap();
    let canonical_uri = uri_encode_path(&decoded);
    let authorization = signer.authorization(method, &canonical_uri, query, &signed, UNSIGNED_PAYLOAD, &date);
    let mut request = http::Request::builder().method(method).uri(path_and_query);
    for (name, value) in &signed {
        request = request.header(*name, *value);
    }
    request.header("authorization", authorization).header("user-agent", "test").body(()).unwrap()
}

/// Status, headers (but the request id) and body of an answer.
async fn parts_of<B>(response: http::Response<B>) -> (StatusCode, BTreeMap<String, String>, Bytes)
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != "x-amz-request-id")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    (parts.status, headers, body.collect().await.unwrap().to_bytes())
}

impl Setup {
    async fn fast(&self, request: http::Request<()>) -> Option<(StatusCode, BTreeMap<String, String>, Bytes)> {
        let (parts, ()) = request.into_parts();
        let answer = self.fast_hits.answer(&parts, &RequestContext::new()).await?;
        Some(parts_of(answer).await)
    }

    async fn s3s(&self, request: http::Request<()>) -> (StatusCode, BTreeMap<String, String>, Bytes) {
        let request = request.map(|()| Body::empty());
        parts_of(self.front.handle(request).await.unwrap()).await
    }

    /// Asserts that the fast path answers `request` exactly as s3s does.
    async fn assert_same(&self, request: impl Fn() -> http::Request<()>) {
        let fast = self.fast(request()).await;
        let s3s = self.s3s(request()).await;
        assert_eq!(fast.as_ref(), Some(&s3s), "{} {}", request().method(), request().uri());
    }

    /// Asserts that the fast path leaves `request` to s3s, which answers `status`.
    async fn assert_declined(&self, request: impl Fn() -> http::Request<()>, status: u16) {
        assert!(self.fast(request()).await.is_none(), "{} {} answered", request().method(), request().uri());
        assert_eq!(self.s3s(request()).await.0.as_u16(), status, "{} {}", request().method(), request().uri());
    }
}

#[tokio::test]
async fn answers_hits_as_s3s_does() {
    let objects = [
        ("small.png", rich_meta(4096)),
        ("large", rich_meta(MEMORY_TIER_OVER)),
        ("plain", ObjectMeta { size: 10, etag: "\"e-2\"".into(), ..ObjectMeta::default() }),
        ("empty", ObjectMeta { size: 0, etag: "\"d41d8cd98f00b204e9800998ecf8427e\"".into(), ..ObjectMeta::default() }),
        ("dir/a key+é", rich_meta(100)),
    ];
    let setup = setup(Consistency::Immutable, &objects).await;
    for key in ["small.png", "large", "plain", "empty"] {
        let path = format!("/bkt/{key}");
        setup.assert_same(|| signed("GET", &path, &[])).await;
        setup.assert_same(|| signed("HEAD", &path, &[])).await;
        setup.assert_same(|| signed("GET", &format!("{path}?x-id=GetObject"), &[])).await;
    }
    for range in ["bytes=0-", "bytes=2-5", "bytes=3-", "bytes=-4", "bytes=0-100000000"] {
        for key in ["small.png", "large", "plain"] {
            setup.assert_same(|| signed("GET", &format!("/bkt/{key}"), &[("range", range)])).await;
        }
    }
    setup.assert_same(|| signed("GET", "/bkt/dir/a%20key%2B%C3%A9", &[])).await;
    // s3s does not ask for every header to be signed: neither does the fast path
    let unsigned_range = || {
        let mut request = signed("GET", "/bkt/plain", &[]);
        request.headers_mut().insert("range", HeaderValue::from_static("bytes=0-1"));
        request
    };
    setup.assert_same(unsigned_range).await;
}

/// Larger than the memory tier (256 KiB): served block by block from the file.
const MEMORY_TIER_OVER: u64 = 300 << 10;

#[tokio::test]
async fn leaves_everything_else_to_s3s() {
    let setup = setup(Consistency::Immutable, &[("k", rich_meta(4096))]).await;
    let now = Credential { at: SystemTime::now(), secret: SECRET_KEY, service: "s3" };
    let old = SystemTime::now() - Duration::from_secs(1000);
    setup.assert_declined(|| signed_as("GET", "/bkt/k", &[], Credential { at: old, ..now }), 403).await;
    let wrong_secret = || signed_as("GET", "/bkt/k", &[], Credential { secret: "not-the-secret", ..now });
    setup.assert_declined(wrong_secret, 403).await;
    setup.assert_declined(|| signed_as("GET", "/bkt/k", &[], Credential { service: "iam", ..now }), 501).await;
    setup.assert_declined(|| signed("GET", "/other/k", &[]), 403).await;
    setup.assert_declined(|| signed("GET", "/bkt/k", &[("range", "bytes=5000-")]), 416).await;
    setup
        .assert_declined(|| signed("GET", "/bkt/k", &[("if-none-match", "\"9b2cf535f27731c974343645a3985328\"")]), 304)
        .await;
    setup.assert_declined(|| signed("GET", "/bkt/k", &[("if-match", "\"other\"")]), 412).await;
    setup.assert_declined(|| signed("GET", "/bkt/k?response-cache-control=no-cache", &[]), 200).await;
    // a version, by s3s from the upstream (unreachable here)
    assert!(setup.fast(signed("GET", "/bkt/k?x-id=GetObject&versionId=null", &[])).await.is_none());
}

#[tokio::test]
async fn asks_the_upstream_when_the_mode_says_so() {
    let objects = [("k", rich_meta(4096))];
    let revalidating = setup(Consistency::Revalidate, &objects).await;
    assert!(revalidating.fast(signed("GET", "/bkt/k", &[])).await.is_none());
    let ttl = setup(Consistency::Ttl(Duration::from_secs(60)), &objects).await;
    assert!(ttl.fast(signed("GET", "/bkt/k", &[])).await.is_some(), "within the TTL");
    let expired = setup(Consistency::Ttl(Duration::ZERO), &objects).await;
    assert!(expired.fast(signed("GET", "/bkt/k", &[])).await.is_none(), "past the TTL");
}
