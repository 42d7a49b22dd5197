//! HTTPS on the S3 listener, reached by the upstream client with a custom CA bundle.

mod common;

use cachegate_upstream::{UpstreamConfig, build_client};
use common::{ALPHA, Gateway, fresh_bucket, rgw};

#[tokio::test]
async fn https_listener_serves_clients_that_trust_its_ca_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    let tls = format!("[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n", cert.display(), key.display());
    let gateway = Gateway::start_with(&rgw().endpoint, &tls);
    let bucket = fresh_bucket("alpha").await;

    let client_for = |ca_bundle: Option<std::path::PathBuf>| {
        let config = UpstreamConfig {
            endpoint: format!("https://localhost:{}", gateway.s3.port()),
            access_key: ALPHA.0.to_owned(),
            secret_key: ALPHA.1.to_owned(),
            ca_bundle,
            max_attempts: 1,
            ..UpstreamConfig::default()
        };
        build_client(&config, false).unwrap()
    };
    let trusted = client_for(Some(cert.clone()));
    let listed = trusted.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));

    let untrusted = client_for(None);
    assert!(
        untrusted.list_objects_v2().bucket(&bucket).send().await.is_err(),
        "a self-signed cert must not be trusted by default"
    );
}
