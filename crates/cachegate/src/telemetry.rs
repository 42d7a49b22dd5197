use std::io::BufWriter;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global log subscriber: text or JSON lines on stderr.
pub fn init(log: &LogConfig) {
    install(log, std::io::stderr);
}

/// [`init`] for the gateway, which logs a line per request at `info`: a thread of its own
/// writes the lines to stderr, a batch per system call, so that no request waits on a
/// write. No line is dropped: with 128k lines waiting, logging waits for the writer, as a
/// direct write to a full pipe would. The returned guard writes what is left when
/// dropped: keep it until the process ends.
pub fn init_gateway(log: &LogConfig) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("cachegate-log")
        .finish(BufWriter::new(std::io::stderr()));
    install(log, writer);
    guard
}

fn install<W>(log: &LogConfig, writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
    }
}
