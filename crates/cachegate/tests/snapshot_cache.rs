//! `fetch-webroot` pointed at a gateway with a disk cache: pods starting together read
//! the snapshot through that cache, so the upstream serves each object about once.

mod common;

use std::process::Stdio;

use common::{ALPHA, Gateway, Relay, fetch_command, fresh_bucket, noise, publish, rgw_client, snapshot_of};

const FETCHES: usize = 16;

async fn object_size(bucket: &str, key: &str) -> u64 {
    let head = rgw_client().head_object().bucket(bucket).key(key).send().await.unwrap();
    head.content_length().unwrap() as u64
}

#[tokio::test]
async fn sixteen_fetches_through_the_cache_read_the_snapshot_from_the_upstream_about_once() {
    // the relay between gateway and RGW counts what the upstream sends
    let relay = Relay::start();
    let cache = tempfile::tempdir().unwrap();
    let gateway = Gateway::cached(&relay.endpoint, cache.path(), "revalidate");
    gateway.wait_for("/readyz", 200);
    let bucket = fresh_bucket("alpha").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("src");
    std::fs::create_dir_all(source.join("apps")).unwrap();
    for n in 0..128 {
        std::fs::write(source.join(format!("apps/f{n:03}.js")), noise(64 << 10, n)).unwrap();
    }
    let id = publish(&bucket, "", &source, &[]);
    let snapshot = format!("snapshots/{id}");
    let archive = object_size(&bucket, &format!("{snapshot}/archive.tar.gz")).await;
    let documents = object_size(&bucket, &format!("{snapshot}/index.json.gz")).await
        + object_size(&bucket, &format!("{snapshot}/manifest.json")).await
        + object_size(&bucket, "current").await;

    let secret = work.path().join("secret");
    std::fs::write(&secret, ALPHA.1).unwrap();
    let gets = format!("cachegate_upstream_requests_total{{upstream=\"{}\",operation=\"GetObject\"}}", relay.endpoint);
    let sent = "cachegate_sent_bytes_total{tenant=\"alpha\"}";
    let (upstream_before, gets_before, sent_before) =
        (relay.bytes_from_rgw(), gateway.metric(&gets), gateway.metric(sent));
    let endpoint = gateway.endpoint();
    let fetches: Vec<_> = (0..FETCHES)
        .map(|n| {
            let dest = work.path().join(format!("pod{n:02}"));
            let tenant =
                ["--endpoint", &endpoint, "--access-key", ALPHA.0, "--secret-key-file", secret.to_str().unwrap()];
            let child = fetch_command(&bucket, "", &dest, &tenant).stderr(Stdio::piped()).spawn().unwrap();
            (dest, child)
        })
        .collect();
    let expected = snapshot_of(&source, &[]);
    for (dest, child) in fetches {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", dest.display());
        assert!(snapshot_of(&dest, &[".directory"]) == expected, "{} differs from the source", dest.display());
        assert!(std::fs::read_to_string(dest.join(".directory")).unwrap().contains(&id), "{}", dest.display());
    }

    let upstream = relay.bytes_from_rgw() - upstream_before;
    let upstream_gets = gateway.metric(&gets) - gets_before;
    let served = gateway.metric(sent) - sent_before;
    eprintln!(
        "{FETCHES} fetches: archive {archive} B, index+manifest+pointer {documents} B; read from the upstream \
         {upstream} B ({:.2} archives) in {upstream_gets} GETs; served to the fetches {served} B ({:.2} archives)",
        upstream as f64 / archive as f64,
        served / archive as f64,
    );
    assert!(served >= (FETCHES as u64 * archive) as f64, "every fetch read the whole archive through the gateway");
    let bound = archive + archive / 4 + documents;
    assert!(upstream <= bound, "the upstream sent {upstream} B, more than {bound} B: the fetches were not coalesced");
}
