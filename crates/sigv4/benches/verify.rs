//! What the fast hit path's signature check costs: parsing a GET's signature headers and
//! verifying them with the signing key cached, against deriving the key as well (what s3s
//! does for every request).
//!
//! `cargo bench -p cachegate-sigv4 --bench verify` (add `-- --quick` for a short run).
#![allow(missing_docs)]

use std::hint::black_box;

use cachegate_sigv4::canonical::Scope;
use cachegate_sigv4::{HeaderSigned, SignedRequest, Signer, SigningKeyCache, UNSIGNED_PAYLOAD, derive_signing_key};
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;

const SECRET: &str = "cgbench-hit-secret-000000000000000000001";
const AMZ_DATE: &str = "20261208T010000Z";
const PATH: &str = "/nc-bench/urn:oid:4711";

/// A GET as the AWS SDKs sign it: host, range, payload hash and date.
fn signed_get() -> HeaderMap {
    let headers = [
        ("host", "cachegate.nextcloud.svc:9000"),
        ("range", "bytes=0-"),
        ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
        ("x-amz-date", AMZ_DATE),
    ];
    let signer = Signer::new("CGBENCHHITKEY0000001", SECRET, "us-east-1", "s3");
    let authorization = signer.authorization("GET", PATH, "", &headers, UNSIGNED_PAYLOAD, AMZ_DATE);
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(name, value.parse().unwrap());
    }
    map.insert("authorization", authorization.parse().unwrap());
    map.insert("user-agent", "aws-sdk-php/3.300".parse().unwrap());
    map
}

fn bench(c: &mut Criterion) {
    let headers = signed_get();
    let request = SignedRequest { method: "GET", canonical_uri: PATH, canonical_query: "", headers: &headers };
    let keys = SigningKeyCache::new(SECRET);
    let mut group = c.benchmark_group("verify");
    group.bench_function("cached_signing_key", |b| {
        b.iter(|| {
            let signed = HeaderSigned::parse(black_box(&headers)).unwrap();
            assert!(signed.verify(&keys.key(&signed.auth.scope), &request));
        });
    });
    group.bench_function("derived_signing_key", |b| {
        b.iter(|| {
            let signed = HeaderSigned::parse(black_box(&headers)).unwrap();
            assert!(signed.verify(&derive_signing_key(SECRET, &signed.auth.scope), &request));
        });
    });
    group.bench_function("signing_key_derivation", |b| {
        let scope = Scope { day: "20261208", region: "us-east-1", service: "s3" };
        b.iter(|| derive_signing_key(black_box(SECRET), &scope));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
