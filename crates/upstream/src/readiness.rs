use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::{info, warn};

/// Whether the gateway should receive traffic: every upstream has answered a background
/// probe, and answered the last one unless the gateway can serve through an outage.
#[derive(Debug, Default)]
pub struct Readiness {
    ready: AtomicBool,
}

/// One upstream to probe: a display name (its endpoint) and a client for it.
type Probe = (String, aws_sdk_s3::Client);

impl Readiness {
    /// True when the gateway should receive traffic (see [`Readiness::spawn`]).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Probes every upstream now and then every `interval` in the background.
    ///
    /// A probe is an authenticated ListBuckets: it proves the endpoint answers and
    /// that the gateway's upstream credentials are accepted. Until every upstream has
    /// answered once the gateway is not ready. After that, with `serves_through_outages`
    /// (the cache serves stale objects when the upstream fails) it stays ready while an
    /// upstream is down: every replica sees the same outage, and taking them all out of
    /// the Service would refuse the cached objects too.
    pub fn spawn(probes: Vec<Probe>, interval: Duration, serves_through_outages: bool) -> Arc<Self> {
        let readiness = Arc::new(Self::default());
        let state = Arc::clone(&readiness);
        tokio::spawn(async move {
            let mut up: Vec<Option<bool>> = vec![None; probes.len()];
            let mut answered_once = vec![false; probes.len()];
            loop {
                let mut all_up = true;
                for (((name, client), last), answered) in probes.iter().zip(up.iter_mut()).zip(answered_once.iter_mut())
                {
                    let result =
                        tokio::time::timeout(interval.max(Duration::from_secs(2)), client.list_buckets().send()).await;
                    let now_up = matches!(result, Ok(Ok(_)));
                    metrics::gauge!("cachegate_upstream_up", "upstream" => name.clone())
                        .set(f64::from(u8::from(now_up)));
                    if *last != Some(now_up) {
                        match (now_up, &result) {
                            (true, _) => info!(upstream = %name, "upstream reachable"),
                            (false, Ok(Err(e))) => {
                                warn!(upstream = %name, error = %aws_sdk_s3::error::DisplayErrorContext(e), "upstream unreachable")
                            }
                            (false, _) => {
                                warn!(upstream = %name, "upstream unreachable: probe timed out")
                            }
                        }
                        *last = Some(now_up);
                    }
                    all_up &= now_up;
                    *answered |= now_up;
                }
                let ready = all_up || (serves_through_outages && answered_once.iter().all(|a| *a));
                state.ready.store(ready, Ordering::Relaxed);
                tokio::time::sleep(interval).await;
            }
        });
        readiness
    }
}
