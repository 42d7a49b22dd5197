//! The S3 calls Nextcloud 34 (aws-sdk-php) makes, through the gateway to a real RGW.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectCannedAcl, ObjectIdentifier, StorageClass,
};
use common::{ALPHA, Gateway, body_of, failure, fresh_bucket, rgw_client};

#[tokio::test]
async fn upload_then_head_and_every_range_form() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    s3.put_object()
        .bucket(&bucket)
        .key("urn:oid:12")
        .acl(ObjectCannedAcl::Private)
        .storage_class(StorageClass::Standard)
        .metadata("x-amz-meta-original-path", "base64:L2FkbWluL2ZpbGVzL2EudHh0")
        .content_type("text/plain")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"a.txt\"")
        .body(ByteStream::from_static(b"hello world"))
        .send()
        .await
        .unwrap();

    let head = s3.head_object().bucket(&bucket).key("urn:oid:12").send().await.unwrap();
    assert_eq!(head.content_length(), Some(11));
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.content_disposition(), Some("attachment; filename=\"a.txt\""));
    assert_eq!(
        head.metadata().and_then(|m| m.get("x-amz-meta-original-path")).map(String::as_str),
        Some("base64:L2FkbWluL2ZpbGVzL2EudHh0")
    );

    for (range, content_range, bytes) in [
        ("bytes=0-", "bytes 0-10/11", &b"hello world"[..]),
        ("bytes=6-", "bytes 6-10/11", b"world"),
        ("bytes=0-4", "bytes 0-4/11", b"hello"),
        ("bytes=-5", "bytes 6-10/11", b"world"),
    ] {
        let got = s3.get_object().bucket(&bucket).key("urn:oid:12").range(range).send().await.unwrap();
        assert_eq!(got.content_range(), Some(content_range), "{range}");
        assert_eq!(body_of(got).await, bytes, "{range}");
    }
    let unsatisfiable = s3.get_object().bucket(&bucket).key("urn:oid:12").range("bytes=100-").send().await;
    assert_eq!(failure(unsatisfiable), (416, "InvalidRange".to_owned()));

    let etag = head.e_tag().unwrap().to_owned();
    let not_modified = s3.get_object().bucket(&bucket).key("urn:oid:12").if_none_match(&etag).send().await;
    assert_eq!(failure(not_modified).0, 304);
    let precondition = s3.get_object().bucket(&bucket).key("urn:oid:12").if_match("\"0000\"").send().await;
    assert_eq!(failure(precondition), (412, "PreconditionFailed".to_owned()));
    let missing = s3.get_object().bucket(&bucket).key("nope").send().await;
    assert_eq!(failure(missing), (404, "NoSuchKey".to_owned()));
}

#[tokio::test]
async fn empty_object_answers_like_rgw() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    s3.put_object().bucket(&bucket).key("empty").body(ByteStream::from_static(b"")).send().await.unwrap();
    assert_eq!(s3.head_object().bucket(&bucket).key("empty").send().await.unwrap().content_length(), Some(0));
    let through = s3.get_object().bucket(&bucket).key("empty").range("bytes=0-").send().await;
    let direct = rgw_client().get_object().bucket(&bucket).key("empty").range("bytes=0-").send().await;
    match (through, direct) {
        (Ok(through), Ok(direct)) => {
            assert_eq!(through.content_range(), direct.content_range());
            assert!(body_of(through).await.is_empty());
        }
        (through, direct) => assert_eq!(failure(through), failure(direct)),
    }
}

#[tokio::test]
async fn multipart_upload_lists_parts_and_completes_with_an_etag() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    // Nextcloud's chunked upload v2 first writes a 0-byte placeholder under the same key
    s3.put_object().bucket(&bucket).key("big").body(ByteStream::from_static(b"")).send().await.unwrap();
    let upload = s3.create_multipart_upload().bucket(&bucket).key("big").send().await.unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part_size = 5 * 1024 * 1024;
    let uploads = (1..=3).map(|number| {
        let body = vec![b'a' + u8::try_from(number).unwrap(); if number == 3 { 1000 } else { part_size }];
        s3.upload_part()
            .bucket(&bucket)
            .key("big")
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
    });
    let parts = futures::future::try_join_all(uploads).await.unwrap();
    for _ in 0..2 {
        let listed = s3.list_parts().bucket(&bucket).key("big").upload_id(upload_id).send().await.unwrap();
        assert_eq!(listed.parts().len(), 3);
    }
    let completed = CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .zip(1..)
                .map(|(p, n)| CompletedPart::builder().part_number(n).e_tag(p.e_tag().unwrap()).build())
                .collect(),
        ))
        .build();
    let done = s3
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("big")
        .upload_id(upload_id)
        .multipart_upload(completed)
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket(&bucket).key("big").send().await.unwrap();
    assert!(done.e_tag().is_some_and(|e| e.trim_matches('"').len() > 2), "{done:?}");
    assert_eq!(done.e_tag(), head.e_tag());
    assert_eq!(head.content_length(), Some(2 * 5 * 1024 * 1024 + 1000));
}

#[tokio::test]
async fn overwrite_keeps_a_version_copy_then_deletes() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    let put = |body: &'static [u8]| s3.put_object().bucket(&bucket).key("f").body(ByteStream::from_static(body)).send();
    put(b"version one").await.unwrap();
    for _ in 0..2 {
        s3.head_object().bucket(&bucket).key("f").send().await.unwrap();
    }
    s3.copy_object().bucket(&bucket).key("f.v1").copy_source(format!("{bucket}/f")).send().await.unwrap();
    put(b"version two").await.unwrap();
    let current = s3.get_object().bucket(&bucket).key("f").range("bytes=0-").send().await.unwrap();
    assert_eq!(body_of(current).await, b"version two");
    let old = s3.get_object().bucket(&bucket).key("f.v1").send().await.unwrap();
    assert_eq!(body_of(old).await, b"version one");

    s3.delete_object().bucket(&bucket).key("f").send().await.unwrap();
    let batch = Delete::builder()
        .objects(ObjectIdentifier::builder().key("f.v1").build().unwrap())
        .objects(ObjectIdentifier::builder().key("never-existed").build().unwrap())
        .build()
        .unwrap();
    let deleted = s3.delete_objects().bucket(&bucket).delete(batch).send().await.unwrap();
    assert_eq!(deleted.deleted().len(), 2);
    let listed = s3.list_objects_v2().bucket(&bucket).prefix("").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
}

#[tokio::test]
async fn listing_paginates_like_occ() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    for i in 0..5 {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("urn:oid:{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(&bucket).prefix("urn:").max_keys(2).into_paginator().send();
    while let Some(page) = pages.next().await {
        keys.extend(page.unwrap().contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    assert_eq!(keys, (0..5).map(|i| format!("urn:oid:{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn download_abandoned_early_is_logged_and_harmless() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    let object = vec![7u8; 8 << 20];
    s3.put_object().bucket(&bucket).key("large").body(ByteStream::from(object)).send().await.unwrap();
    // Nextcloud reads `bytes=0-` and closes the connection once it has what it needs
    let mut partial = s3.get_object().bucket(&bucket).key("large").range("bytes=0-").send().await.unwrap();
    let first = partial.body.try_next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(partial);
    let head = s3.head_object().bucket(&bucket).key("large").send().await.unwrap();
    assert_eq!(head.content_length(), Some(8 << 20));
    let abandoned = common::eventually(std::time::Duration::from_secs(5), || {
        gateway.log_text().lines().any(|l| {
            l.contains("\"operation\":\"GetObject\"")
                && l.contains("\"status\":206")
                && l.contains("\"complete\":false")
        })
    });
    assert!(abandoned, "no access-log line for the abandoned download");
}
