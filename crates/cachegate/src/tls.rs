use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use arc_swap::ArcSwap;
use rustls::crypto::aws_lc_rs;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tracing::{info, warn};

use crate::config::TlsConfig;

/// How often the certificate files are checked for a renewal.
const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// A TLS acceptor for the S3 listener when TLS is configured; its certificate is
/// reloaded in the background whenever the files change.
pub fn acceptor(config: &TlsConfig) -> anyhow::Result<Option<TlsAcceptor>> {
    let (Some(cert), Some(key)) = (&config.cert_file, &config.key_file) else {
        return Ok(None);
    };
    let resolver = Arc::new(ReloadingCert::load(cert.clone(), key.clone())?);
    tokio::spawn(Arc::clone(&resolver).watch());
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

#[derive(Debug)]
struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: ArcSwap<CertifiedKey>,
}

impl ReloadingCert {
    fn load(cert_file: PathBuf, key_file: PathBuf) -> anyhow::Result<Self> {
        let current = ArcSwap::from_pointee(read_pair(&cert_file, &key_file)?);
        Ok(Self { cert_file, key_file, current })
    }

    async fn watch(self: Arc<Self>) {
        let mut seen = self.modified();
        loop {
            tokio::time::sleep(RELOAD_CHECK).await;
            let now = self.modified();
            if now == seen {
                continue;
            }
            match read_pair(&self.cert_file, &self.key_file) {
                Ok(pair) => {
                    self.current.store(Arc::new(pair));
                    seen = now;
                    info!(cert = %self.cert_file.display(), "TLS certificate reloaded");
                }
                // a renewal may be half-written: keep serving the old pair, try again later
                Err(e) => warn!(error = %format!("{e:#}"), "TLS certificate not reloaded"),
            }
        }
    }

    fn modified(&self) -> [Option<SystemTime>; 2] {
        [&self.cert_file, &self.key_file].map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn read_pair(cert_file: &Path, key_file: &Path) -> anyhow::Result<CertifiedKey> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("tls.cert_file {}", cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(key_file).with_context(|| format!("tls.key_file {}", key_file.display()))?;
    CertifiedKey::from_der(certs, key, &aws_lc_rs::default_provider()).with_context(|| {
        format!("tls.key_file {} does not fit tls.cert_file {}", key_file.display(), cert_file.display())
    })
}
