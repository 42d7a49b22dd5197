use std::cell::RefCell;
use std::collections::HashMap;

use metrics::{Counter, Histogram, SharedString};

use crate::cache_status::CacheStatus;

/// The metric handles of one kind of request, registered once per thread: registering
/// on every request (what `counter!` does) builds a key, allocates and takes a lock.
struct RequestHandles {
    requests: Counter,
    duration: Histogram,
    received: Counter,
    sent: Counter,
}

/// Which handles a request uses: tenant, operation and status.
type RequestKind = (SharedString, SharedString, u16);

thread_local! {
    static REQUESTS: RefCell<HashMap<RequestKind, RequestHandles>> = RefCell::new(HashMap::new());
    static CACHE_OUTCOMES: RefCell<HashMap<CacheStatus, (Counter, Counter)>> = RefCell::new(HashMap::new());
}

/// Counts one finished request of `tenant` and `operation`.
pub(crate) fn record_request(
    tenant: SharedString,
    operation: SharedString,
    status: u16,
    seconds: f64,
    bytes_in: u64,
    bytes_out: u64,
) {
    REQUESTS.with_borrow_mut(|handles| {
        let kind = (tenant, operation, status);
        let handles = match handles.get(&kind) {
            Some(handles) => handles,
            None => {
                let (tenant, operation, status) = kind.clone();
                let status = status.to_string();
                let registered = RequestHandles {
                    requests: metrics::counter!("cachegate_requests_total", "operation" => operation.clone(), "tenant" => tenant.clone(), "status" => status),
                    duration: metrics::histogram!("cachegate_request_duration_seconds", "operation" => operation),
                    received: metrics::counter!("cachegate_received_bytes_total", "tenant" => tenant.clone()),
                    sent: metrics::counter!("cachegate_sent_bytes_total", "tenant" => tenant),
                };
                handles.entry(kind).or_insert(registered)
            }
        };
        handles.requests.increment(1);
        handles.duration.record(seconds);
        handles.received.increment(bytes_in);
        handles.sent.increment(bytes_out);
    });
}

/// Counts a GET or HEAD answered with `status`, and the `bytes` of body it answers with.
pub(crate) fn record_cache_outcome(status: CacheStatus, bytes: u64) {
    CACHE_OUTCOMES.with_borrow_mut(|handles| {
        let (requests, served) = handles.entry(status).or_insert_with(|| {
            let source = match status {
                CacheStatus::Hit | CacheStatus::Revalidated | CacheStatus::Stale => "cache",
                CacheStatus::Miss | CacheStatus::Bypass => "upstream",
            };
            (
                metrics::counter!("cachegate_cache_requests_total", "result" => status.as_str()),
                metrics::counter!("cachegate_cache_served_bytes_total", "source" => source),
            )
        });
        requests.increment(1);
        served.increment(bytes);
    });
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    #[test]
    fn handles_count_into_the_series_the_labels_name() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        // the handles are cached per thread: a thread of its own registers them with this recorder
        std::thread::spawn(move || {
            metrics::with_local_recorder(&recorder, || {
                for status in [200, 200, 404] {
                    record_request("t".into(), "GetObject".into(), status, 0.01, 5, 7);
                }
                record_cache_outcome(CacheStatus::Hit, 4096);
                record_cache_outcome(CacheStatus::Hit, 4096);
            });
        })
        .join()
        .unwrap();
        let counters: HashMap<String, u64> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| {
                let DebugValue::Counter(n) = value else { return None };
                let (kind, key) = (key.kind(), key.key());
                let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
                Some((format!("{kind:?} {}{{{}}}", key.name(), labels.join(",")), n))
            })
            .collect();
        let count = |series: &str| counters.get(&format!("Counter {series}")).copied();
        assert_eq!(count("cachegate_requests_total{operation=GetObject,tenant=t,status=200}"), Some(2));
        assert_eq!(count("cachegate_requests_total{operation=GetObject,tenant=t,status=404}"), Some(1));
        assert_eq!(count("cachegate_sent_bytes_total{tenant=t}"), Some(21));
        assert_eq!(count("cachegate_cache_requests_total{result=HIT}"), Some(2));
        assert_eq!(count("cachegate_cache_served_bytes_total{source=cache}"), Some(8192));
    }
}
