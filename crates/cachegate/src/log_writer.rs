use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory before it is written.
const GATHER: Duration = Duration::from_millis(20);

/// Bytes that may wait; past this, logging waits for the writer, as a write to a full pipe
/// would: no line is dropped.
const PENDING_LIMIT: usize = 8 << 20;

/// Log lines gathered in memory and written by a thread of their own, a batch every
/// [`GATHER`]: no request waits on a write, and the thread wakes up once per batch, not
/// once per line (a wake-up per access-log line cost more CPU than the write itself).
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Writes what is left and stops the writer thread when dropped: keep it until the
/// process ends.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer: the first line of a batch, a full buffer, or closing.
    arrived: Condvar,
    /// Wakes loggers waiting for room.
    drained: Condvar,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BatchedWriter {
    /// Starts the thread that writes to `sink`.
    pub fn start(sink: impl Write + Send + 'static) -> std::io::Result<(Self, FlushGuard)> {
        let shared = Arc::new(Shared::default());
        let writer = Arc::clone(&shared);
        let thread =
            std::thread::Builder::new().name("cachegate-log".to_owned()).spawn(move || write_batches(&writer, sink))?;
        Ok((Self { shared: Arc::clone(&shared) }, FlushGuard { shared, thread: Some(thread) }))
    }
}

impl Write for &BatchedWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.lock();
        while pending.lines.len() >= PENDING_LIMIT && !pending.closed {
            pending = self.shared.drained.wait(pending).unwrap_or_else(PoisonError::into_inner);
        }
        let first = pending.lines.is_empty();
        pending.lines.extend_from_slice(line);
        let full = pending.lines.len() >= PENDING_LIMIT;
        drop(pending);
        if first || full {
            self.shared.arrived.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = &'a BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: waits for a first line, lets more gather, writes them all at once.
fn write_batches(shared: &Shared, mut sink: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.lines.is_empty() && !pending.closed {
            pending = shared.arrived.wait(pending).unwrap_or_else(PoisonError::into_inner);
        }
        if !pending.closed && pending.lines.len() < PENDING_LIMIT {
            pending = shared.arrived.wait_timeout(pending, GATHER).unwrap_or_else(PoisonError::into_inner).0;
        }
        let closed = pending.closed;
        std::mem::swap(&mut pending.lines, &mut batch);
        drop(pending);
        shared.drained.notify_all();
        // a sink that fails (stderr closed) loses its lines rather than stopping the gateway
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        batch.clear();
        if closed && shared.lock().lines.is_empty() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read while the writer thread owns it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_in_order_and_the_guard_writes_the_rest() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::start(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        writer.make_writer().write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        for t in 0..4 {
            let seen: Vec<usize> =
                written.lines().filter_map(|l| l.strip_prefix(&format!("{t} "))).map(|i| i.parse().unwrap()).collect();
            assert_eq!(seen, (0..1000).collect::<Vec<_>>(), "thread {t}");
        }
    }

    #[test]
    fn a_line_is_written_without_waiting_for_more() {
        let sink = Sink::default();
        let (writer, _guard) = BatchedWriter::start(sink.clone()).unwrap();
        writer.make_writer().write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the line was never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"alone\n");
    }
}
