//! Authentication failures, tenant isolation and request ids.

mod common;

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use common::{ALPHA, ALPHA_NEXT, BETA, Gateway, eventually, failure, fresh_bucket, raw_http, rgw_client};

#[tokio::test]
async fn unknown_key_and_wrong_secret_are_refused() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let unknown = gateway.client(("NOSUCHKEY00000000000", "whatever"));
    assert_eq!(failure(unknown.list_objects_v2().bucket(&bucket).send().await), (403, "InvalidAccessKeyId".to_owned()));
    let wrong = gateway.client((ALPHA.0, "not-the-secret"));
    let put = wrong.put_object().bucket(&bucket).key("k").body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(failure(put), (403, "SignatureDoesNotMatch".to_owned()));
    // a rejected request never reaches RGW
    assert!(rgw_client().head_object().bucket(&bucket).key("k").send().await.is_err());
}

#[tokio::test]
async fn tenants_only_see_and_use_their_buckets() {
    let gateway = Gateway::start();
    let alpha_bucket = fresh_bucket("alpha").await;
    let beta_bucket = fresh_bucket("beta").await;
    rgw_client()
        .put_object()
        .bucket(&beta_bucket)
        .key("secret")
        .body(ByteStream::from_static(b"b"))
        .send()
        .await
        .unwrap();
    let alpha = gateway.client(ALPHA);

    let listed = alpha.list_buckets().send().await.unwrap();
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(names.contains(&alpha_bucket.as_str()));
    assert!(names.iter().all(|n| n.starts_with("alpha-")), "{names:?}");

    let denied = (403, "AccessDenied".to_owned());
    assert_eq!(failure(alpha.get_object().bucket(&beta_bucket).key("secret").send().await), denied);
    assert_eq!(failure(alpha.list_objects_v2().bucket(&beta_bucket).send().await), denied);
    let write = alpha.put_object().bucket(&beta_bucket).key("planted").body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(failure(write), denied);
    let copy = alpha
        .copy_object()
        .bucket(&alpha_bucket)
        .key("stolen")
        .copy_source(format!("{beta_bucket}/secret"))
        .send()
        .await;
    assert_eq!(failure(copy), denied);
    assert!(rgw_client().head_object().bucket(&beta_bucket).key("planted").send().await.is_err());
    assert!(rgw_client().head_object().bucket(&alpha_bucket).key("stolen").send().await.is_err());

    let beta = gateway.client(BETA);
    let own = beta.get_object().bucket(&beta_bucket).key("secret").send().await.unwrap();
    assert_eq!(common::body_of(own).await, b"b");
}

#[tokio::test]
async fn both_key_pairs_of_a_tenant_work_during_rotation() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    for key in [ALPHA, ALPHA_NEXT] {
        gateway.client(key).head_bucket().bucket(&bucket).send().await.unwrap();
    }
}

#[tokio::test]
async fn presigned_urls_work_until_they_expire() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    s3.put_object().bucket(&bucket).key("shared").body(ByteStream::from_static(b"presigned!")).send().await.unwrap();
    let presign = |secs| PresigningConfig::expires_in(Duration::from_secs(secs)).unwrap();
    let url = s3.get_object().bucket(&bucket).key("shared").presigned(presign(60)).await.unwrap();
    let path = url.uri().strip_prefix(&gateway.endpoint()).unwrap().to_owned();
    let answer = raw_http(gateway.s3, "GET", &path, &[]).unwrap();
    assert_eq!((answer.status, answer.text().as_str()), (200, "presigned!"));

    let short = s3.get_object().bucket(&bucket).key("shared").presigned(presign(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let path = short.uri().strip_prefix(&gateway.endpoint()).unwrap().to_owned();
    let answer = raw_http(gateway.s3, "GET", &path, &[]).unwrap();
    assert_eq!(answer.status, 403, "{}", answer.text());
}

#[tokio::test]
async fn errors_carry_the_request_id_of_the_log() {
    let gateway = Gateway::start();
    let answer = raw_http(gateway.s3, "GET", "/alpha-anything/key", &[]).unwrap();
    let header_id = answer.header("x-amz-request-id").expect("x-amz-request-id header").to_owned();
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert!(answer.text().contains(&format!("<RequestId>{header_id}</RequestId>")), "{}", answer.text());
    // the access log line is written once the response is done
    let logged = eventually(Duration::from_secs(5), || gateway.log_text().contains(&header_id));
    assert!(logged, "request id not in the log");
}

#[tokio::test]
async fn anonymous_requests_are_refused_or_left_to_the_upstream_acls() {
    let bucket = fresh_bucket("alpha").await;
    let direct = rgw_client();
    let acl = aws_sdk_s3::types::ObjectCannedAcl::PublicRead;
    direct
        .put_object()
        .bucket(&bucket)
        .key("public")
        .acl(acl)
        .body(ByteStream::from_static(b"for all"))
        .send()
        .await
        .unwrap();
    direct.put_object().bucket(&bucket).key("private").body(ByteStream::from_static(b"secret")).send().await.unwrap();
    let get = |gateway: &Gateway, key: &str| {
        let answer = raw_http(gateway.s3, "GET", &format!("/{bucket}/{key}"), &[]).unwrap();
        (answer.status, answer.text())
    };

    let refusing = Gateway::start();
    assert_eq!(get(&refusing, "public").0, 403);

    let forwarding = Gateway::start_with(&common::rgw().endpoint, "anonymous_access = true");
    assert_eq!(get(&forwarding, "public"), (200, "for all".to_owned()));
    let (status, body) = get(&forwarding, "private");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"));
}
