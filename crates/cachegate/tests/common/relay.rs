//! A TCP relay in front of the test RGW: it counts the bytes RGW sends, can pass them
//! slowly, and can be cut to play an upstream outage.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::rgw;

/// A relay to the RGW on its own runtime, so that a test blocking its own thread (or
/// its runtime) never stalls the relayed connections.
pub struct Relay {
    pub endpoint: String,
    from_rgw: Arc<AtomicU64>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
}

impl Relay {
    /// A relay passing bytes as fast as they come.
    pub fn start() -> Self {
        Self::with_rate(None)
    }

    /// A relay passing at most about `bytes_per_second` from RGW on each connection.
    pub fn throttled(bytes_per_second: u64) -> Self {
        Self::with_rate(Some(bytes_per_second))
    }

    fn with_rate(bytes_per_second: Option<u64>) -> Self {
        let target: SocketAddr = rgw().endpoint.trim_start_matches("http://").parse().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let from_rgw = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&from_rgw);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((client, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else { return };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
                    let mut buffer = vec![0; 16 << 10];
                    loop {
                        let n = match server_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        counter.fetch_add(n as u64, Ordering::Relaxed);
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        if let Some(rate) = bytes_per_second {
                            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
                        }
                    }
                });
            }
        });
        Self { endpoint, from_rgw, runtime: Mutex::new(Some(runtime)) }
    }

    /// Bytes RGW sent through the relay so far (headers and bodies).
    pub fn bytes_from_rgw(&self) -> u64 {
        self.from_rgw.load(Ordering::Relaxed)
    }

    /// Closes every relayed connection and the listener: the upstream is gone.
    pub fn cut(&self) {
        if let Some(runtime) = self.runtime.lock().unwrap().take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}
