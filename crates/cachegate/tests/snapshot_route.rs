//! The plain-HTTP snapshot route of the gateway (`GET /snapshots/<tenant>/current.tar.gz`):
//! a snapshot published with `publish-snapshot` downloads with a bearer token, through the
//! cache, and extracts with plain tar.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Gateway, fresh_bucket, rgw, run_cachegate};

const TOKEN: &str = "route-test-token-0123456789";

/// Status, headers (lower-case names) and body of one HTTP/1.1 request.
fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: gateway\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn current_archive_downloads_with_a_token_through_the_cache() {
    let bucket = fresh_bucket("webroot").await;
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("index.php"), "<?php echo 'hello';\n").unwrap();
    std::fs::create_dir(source.path().join("lib")).unwrap();
    std::fs::write(source.path().join("lib/base.php"), "<?php // base\n".repeat(500)).unwrap();
    let source_arg = source.path().to_str().unwrap();
    let (code, _, stderr) = run_cachegate(&["publish-snapshot", "--source", source_arg, "--bucket", &bucket]);
    assert_eq!(code, 0, "publish-snapshot failed: {stderr}");

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

    assert_eq!(http_get(gateway.s3, route, None).0, 403, "no token: an unsigned S3 request, refused");
    assert_eq!(http_get(gateway.s3, route, Some("wrong")).0, 401);
    assert_eq!(http_get(gateway.s3, "/snapshots/nobody/current.tar.gz", Some(TOKEN)).0, 404);

    let (status, headers, first) = http_get(gateway.s3, route, Some(TOKEN));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    assert_eq!(header(&headers, "content-type"), Some("application/gzip"));
    assert_eq!(header(&headers, "content-length"), Some(first.len().to_string().as_str()));
    assert!(header(&headers, "x-cachegate-snapshot").is_some());
    let (_, headers, second) = http_get(gateway.s3, route, Some(TOKEN));
    assert_eq!(second, first);
    assert_eq!(header(&headers, "x-cache"), Some("REVALIDATED"), "the second download comes from the cache");

    let dest = tempfile::tempdir().unwrap();
    let mut tar =
        Command::new("tar").arg("-xzf").arg("-").arg("-C").arg(dest.path()).stdin(Stdio::piped()).spawn().unwrap();
    tar.stdin.take().unwrap().write_all(&first).unwrap();
    assert!(tar.wait().unwrap().success(), "plain tar extracts the download");
    for file in ["index.php", "lib/base.php"] {
        assert_eq!(std::fs::read(dest.path().join(file)).unwrap(), std::fs::read(source.path().join(file)).unwrap());
    }
}
