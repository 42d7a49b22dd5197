use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters of a fetch, printed to stderr now and then.
#[derive(Debug)]
pub(crate) struct Progress {
    fetched: AtomicU64,
    files: AtomicU64,
    written: AtomicU64,
    to_fetch: AtomicU64,
    to_write: AtomicU64,
    started: Instant,
}

impl Progress {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            fetched: AtomicU64::new(0),
            files: AtomicU64::new(0),
            written: AtomicU64::new(0),
            to_fetch: AtomicU64::new(0),
            to_write: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// Sets the totals: archive bytes to download and files to write.
    pub(crate) fn expect(&self, fetch: u64, files: u64) {
        self.to_fetch.store(fetch, Ordering::Relaxed);
        self.to_write.store(files, Ordering::Relaxed);
    }

    /// Archive bytes received.
    pub(crate) fn fetched(&self, bytes: u64) {
        self.fetched.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A file written and verified.
    pub(crate) fn file_done(&self, bytes: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// (archive bytes fetched, files written, file bytes written).
    pub(crate) fn totals(&self) -> (u64, u64, u64) {
        (self.fetched.load(Ordering::Relaxed), self.files.load(Ordering::Relaxed), self.written.load(Ordering::Relaxed))
    }

    /// Prints a progress line every `interval` until the returned task is aborted.
    pub(crate) fn print_every(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let progress = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                eprintln!("{}", progress.line());
            }
        })
    }

    fn line(&self) -> String {
        let (fetched, files, written) = self.totals();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "fetch-webroot: {} of {} fetched, {files}/{} files, {} written, {}/s",
            mib(fetched),
            mib(self.to_fetch.load(Ordering::Relaxed)),
            self.to_write.load(Ordering::Relaxed),
            mib(written),
            mib((fetched as f64 / seconds) as u64),
        )
    }
}

/// Bytes as MiB with one decimal.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
