//! The plain-HTTP snapshot route of the gateway (`GET /snapshots/<tenant>/current.tar.gz`):
//! a snapshot published with `publish-snapshot` downloads with a bearer token, whole or by
//! range, through the cache, and extracts with plain tar.

mod common;

use std::time::Duration;

use common::{Gateway, eventually, fresh_bucket, publish, raw_http, rgw, rgw_client, untar};

const TOKEN: &str = "route-test-token-0123456789";

#[tokio::test]
async fn current_archive_downloads_with_a_token_through_the_cache() {
    let bucket = fresh_bucket("webroot").await;
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("index.php"), "<?php echo 'hello';\n").unwrap();
    std::fs::create_dir(source.path().join("lib")).unwrap();
    std::fs::write(source.path().join("lib/base.php"), "<?php // base\n".repeat(500)).unwrap();
    let id = publish(&bucket, "", source.path(), &[]);

    let cache = tempfile::tempdir().unwrap();
    let tenant = format!(
        "[snapshot_http]\ntoken = \"{TOKEN}\"\n[cache]\ndir = \"{cache}\"\n\
         [[tenants]]\nname = \"web\"\nbuckets = [\"{bucket}\"]\nwebroot = {{ bucket = \"{bucket}\" }}\n\
         [[tenants.keys]]\naccess_key = \"WEBROUTEKEY000000001\"\nsecret_key = \"webroute-secret-0000000000000000000001\"\n",
        cache = cache.path().display(),
    );
    let gateway = Gateway::start_with(&rgw().endpoint, &tenant);
    gateway.wait_for("/readyz", 200);
    let route = "/snapshots/web/current.tar.gz";
    let bearer = format!("Bearer {TOKEN}");
    let get = |path: &str, headers: &[(&str, &str)]| raw_http(gateway.s3, "GET", path, headers).unwrap();

    assert_eq!(get(route, &[]).status, 403, "no token: an unsigned S3 request, refused");
    assert_eq!(get(route, &[("Authorization", "Bearer wrong")]).status, 401);
    assert_eq!(get("/snapshots/nobody/current.tar.gz", &[("Authorization", &bearer)]).status, 404);
    // the route is GET only: a HEAD is S3's, which takes a bearer token for a malformed
    // signature (400 InvalidRequest), as for any other key
    let head = |path: &str| raw_http(gateway.s3, "HEAD", path, &[("Authorization", &bearer)]).unwrap();
    let (head, elsewhere) = (head(route), head("/snapshots/web/other.tar.gz"));
    assert_eq!((head.status, head.header("content-type")), (400, Some("application/xml")));
    assert_eq!((elsewhere.status, elsewhere.header("content-type")), (400, Some("application/xml")));
    assert_eq!(head.header("x-cachegate-snapshot"), None);

    let first = get(route, &[("Authorization", &bearer)]);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("content-type"), Some("application/gzip"));
    assert_eq!(first.header("content-length"), Some(first.body.len().to_string().as_str()));
    assert_eq!(first.header("x-cachegate-snapshot"), Some(id.as_str()));
    let archive = rgw_client().get_object().bucket(&bucket).key(format!("snapshots/{id}/archive.tar.gz")).send().await;
    let archive = common::body_of(archive.unwrap()).await;
    assert!(first.body == archive, "the download is the published archive");
    // the fill completes after the first answer; until then a download joins it
    let mut second = get(route, &[("Authorization", &bearer)]);
    let cached = eventually(Duration::from_secs(10), || {
        second = get(route, &[("Authorization", &bearer)]);
        second.header("x-cache") == Some("REVALIDATED")
    });
    assert!(cached, "the second download comes from the cache: {:?}", second.header("x-cache"));
    assert!(second.body == first.body);

    let ranged = get(route, &[("Authorization", &bearer), ("Range", "bytes=0-99")]);
    assert_eq!(ranged.status, 206, "{}", ranged.text());
    assert_eq!(ranged.header("content-range"), Some(format!("bytes 0-99/{}", archive.len()).as_str()));
    assert_eq!(ranged.header("content-length"), Some("100"));
    assert_eq!(ranged.header("x-cachegate-snapshot"), Some(id.as_str()));
    assert!(ranged.body == archive[..100], "the range holds the archive's first 100 bytes");

    let dest = tempfile::tempdir().unwrap();
    untar(&first.body, dest.path());
    for file in ["index.php", "lib/base.php"] {
        assert_eq!(std::fs::read(dest.path().join(file)).unwrap(), std::fs::read(source.path().join(file)).unwrap());
    }
}
