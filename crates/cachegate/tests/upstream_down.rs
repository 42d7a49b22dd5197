//! An unreachable upstream: 503 for S3 calls, /readyz false, /healthz still true.

mod common;

use std::time::Duration;

use common::{ALPHA, Gateway, eventually, failure, free_port};

#[tokio::test]
async fn unreachable_upstream_answers_503_and_is_not_ready() {
    let dead = format!("http://{}", free_port());
    let gateway = Gateway::start_with(&dead, "");
    gateway.wait_for("/readyz", 503);
    assert_eq!(gateway.admin_get("/healthz").unwrap().0, 200);
    let got = gateway.client(ALPHA).get_object().bucket("alpha-x").key("k").send().await;
    assert_eq!(failure(got), (503, "ServiceUnavailable".to_owned()));
    assert!(gateway.log_text().contains("upstream unreachable"));
    let unreachable = format!("cachegate_upstream_errors_total{{upstream=\"{dead}\",kind=\"unreachable\"}}");
    assert!(gateway.metric(&unreachable) >= 1.0, "{unreachable} not counted");
}

#[tokio::test]
async fn reachable_upstream_is_ready_and_metered() {
    let gateway = Gateway::start();
    gateway.wait_for("/readyz", 200);
    let _ = gateway.client(ALPHA).list_buckets().send().await.unwrap();
    let series = "cachegate_requests_total{operation=\"ListBuckets\",tenant=\"alpha\",status=\"200\"}";
    // the request is counted once its response is done
    eventually(Duration::from_secs(5), || gateway.metric(series) >= 1.0);
    assert_eq!(gateway.metric(series), 1.0);
}
