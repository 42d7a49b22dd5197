//! Retries of whole GETs whose answer body failed while streaming.
//!
//! The S3 client already retries (standard mode, `max_attempts` 3, backoff) every request
//! whose failure it sees before an answer body streams: connection errors, timeouts, 5xx,
//! throttling; request bodies here are in memory, so it can send them again. What it never
//! retries is an answer body cut short after the headers arrived. So only the GETs (`get`,
//! `get_range`) go through [`with_retries`], which repeats the whole request; PUT, HEAD,
//! DELETE and the multipart calls rely on the client alone, instead of multiplying its
//! attempts by ours.

use std::future::Future;
use std::time::Duration;

use tracing::debug;

use crate::error::{Result, SnapshotError};

/// Attempts at one GET before giving up (each attempt may itself be retried by the client
/// for failures it sees before the body streams).
const ATTEMPTS: u32 = 4;
/// Pause after the first failed attempt; doubled after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest a single attempt may take, body included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The outcome of one attempt: done, worth another try, or final.
pub(crate) enum Attempt<T> {
    /// Succeeded.
    Done(T),
    /// Failed in a way another attempt may fix (timeouts, 5xx, a body cut short).
    Transient(SnapshotError),
    /// Failed for good.
    Failed(SnapshotError),
}

/// Runs `attempt` until it succeeds or fails for good, with exponential backoff between
/// transient failures and a timeout on each attempt.
pub(crate) async fn with_retries<T, F, Fut>(what: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut backoff = FIRST_BACKOFF;
    for n in 1..=ATTEMPTS {
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, attempt()).await.unwrap_or_else(|_| {
            Attempt::Transient(SnapshotError::Timeout { what: what.to_owned(), seconds: ATTEMPT_TIMEOUT.as_secs() })
        });
        match outcome {
            Attempt::Done(value) => return Ok(value),
            Attempt::Failed(error) => return Err(error),
            Attempt::Transient(error) if n == ATTEMPTS => return Err(error),
            Attempt::Transient(error) => {
                debug!(%error, attempt = n, "{what}: retrying after {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
    unreachable!("the last attempt returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_only() {
        let mut calls = 0;
        let value = with_retries("get", || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Attempt::Transient(SnapshotError::Usage("503".into())) } else { Attempt::Done(n) } }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);

        let mut calls = 0;
        let failed: Result<()> = with_retries("get", || {
            calls += 1;
            async { Attempt::Failed(SnapshotError::Usage("403".into())) }
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(calls, 1);
    }
}
