use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};
use crate::json_log::{JsonLines, JsonSpanFields};
use crate::log_writer::{BatchedWriter, FlushGuard};

/// Installs the global log subscriber: text or JSON lines on stderr.
pub fn init(log: &LogConfig) {
    install(log, std::io::stderr);
}

/// [`init`] for the gateway, which logs a line per request at `info`: the lines gather in
/// memory and a thread of their own writes them to stderr in batches (see
/// [`BatchedWriter`]). The returned guard writes what is left when dropped: keep it until
/// the process ends. Without that thread (it could not be started) lines go straight to
/// stderr.
pub fn init_gateway(log: &LogConfig) -> Option<FlushGuard> {
    match BatchedWriter::start(std::io::stderr()) {
        Ok((writer, guard)) => {
            install(log, writer);
            Some(guard)
        }
        Err(e) => {
            install(log, std::io::stderr);
            tracing::warn!(error = %e, "cannot start the log writer thread: writing log lines directly");
            None
        }
    }
}

fn install<W>(log: &LogConfig, writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.fmt_fields(JsonSpanFields).event_format(JsonLines).init(),
    }
}
