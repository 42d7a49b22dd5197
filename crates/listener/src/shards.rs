//! Accepting connections on several threads, each with a runtime of its own.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

/// What an accepted connection runs: its stream, its peer, and the watcher through which a
/// shutdown waits for it (see `hyper_util::server::graceful`).
pub type Handler = Arc<dyn Fn(TcpStream, SocketAddr, Watcher) -> BoxFuture<'static, ()> + Send + Sync>;

/// One thread per CPU this process may use (its CPU limit or affinity), or the number
/// `TOKIO_WORKER_THREADS` names, as tokio itself would size its runtime.
pub fn default_threads() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Serves `listener` on `threads` threads until `shutdown` completes; then stops
/// accepting, lets the open connections finish for up to `grace`, and returns.
pub async fn serve(
    listener: std::net::TcpListener,
    threads: usize,
    handler: Handler,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop, stop_seen) = watch::channel(false);
    let (release, released) = watch::channel(false);
    // each thread holds a sender until it stops accepting: the channel closes when all have
    let (accepting, mut all_stopped) = mpsc::channel::<()>(1);
    for index in 0..threads.max(1) {
        let shard = Shard {
            listener: listener.try_clone()?,
            handler: Arc::clone(&handler),
            graceful: Arc::clone(&graceful),
            stop: stop_seen.clone(),
            accepting: accepting.clone(),
        };
        let released = released.clone();
        std::thread::Builder::new().name(format!("cachegate-conn-{index}")).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => return error!(error = %e, "cannot start a connection thread's runtime"),
            };
            runtime.block_on(shard.run(released));
        })?;
    }
    // the socket closes, refusing new connections, once every thread has stopped accepting
    drop((listener, accepting));
    shutdown.await;
    let _ = stop.send(true);
    while all_stopped.recv().await.is_some() {}
    info!(grace = ?grace, "shutting down: no new connections, waiting for open requests");
    if let Ok(graceful) = Arc::try_unwrap(graceful)
        && tokio::time::timeout(grace, graceful.shutdown()).await.is_err()
    {
        warn!("shutdown grace period over: closing the remaining connections");
    }
    let _ = release.send(true);
    Ok(())
}

/// One thread's share of the listener.
struct Shard {
    listener: std::net::TcpListener,
    handler: Handler,
    graceful: Arc<GracefulShutdown>,
    stop: watch::Receiver<bool>,
    accepting: mpsc::Sender<()>,
}

impl Shard {
    /// Accepts until told to stop, then keeps its connections running until `released`.
    async fn run(mut self, mut released: watch::Receiver<bool>) {
        let listener = match TcpListener::from_std(self.listener) {
            Ok(listener) => listener,
            Err(e) => return error!(error = %e, "cannot accept on a connection thread"),
        };
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = self.stop.wait_for(|stop| *stop) => break,
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn((self.handler)(tcp, peer, self.graceful.watcher()));
        }
        drop((listener, self.graceful, self.accepting));
        let _ = released.wait_for(|released| *released).await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Every connection is answered on one of the connection threads, and a shutdown waits for
    /// the connection still open.
    #[tokio::test]
    async fn serves_on_the_connection_threads_and_drains_on_shutdown() -> anyhow::Result<()> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let handler: Handler = Arc::new(|mut tcp: TcpStream, _, watcher: Watcher| {
            Box::pin(async move {
                let _watched = watcher;
                let mut byte = [0u8; 1];
                while tcp.read_exact(&mut byte).await.is_ok() {
                    let thread = std::thread::current().name().unwrap_or_default().to_owned();
                    let _ = tcp.write_all(format!("{thread}\n").as_bytes()).await;
                }
            })
        });
        let (shutdown, shutdown_seen) = tokio::sync::oneshot::channel::<()>();
        let served =
            tokio::spawn(serve(listener, 2, handler, async { drop(shutdown_seen.await) }, Duration::from_secs(5)));
        let mut clients = Vec::new();
        for _ in 0..8 {
            let mut tcp = TcpStream::connect(address).await?;
            tcp.write_all(b"?").await?;
            let mut answer = [0u8; 16];
            let n = tcp.read(&mut answer).await?;
            assert!(std::str::from_utf8(&answer[..n])?.starts_with("cachegate-conn-"));
            clients.push(tcp);
        }
        let _ = shutdown.send(());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!served.is_finished(), "open connections hold the shutdown");
        assert!(TcpStream::connect(address).await.is_err(), "no new connections after the shutdown");
        drop(clients);
        tokio::time::timeout(Duration::from_secs(5), served).await???;
        Ok(())
    }
}
