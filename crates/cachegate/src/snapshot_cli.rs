//! What the snapshot commands share: where the snapshots are, how to reach the bucket,
//! logging, the async runtime and the one-line failure message.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use cachegate_snapshot::{S3Options, SnapshotError, SnapshotId, SnapshotStore, connect};
use clap::Args;

use crate::config::{LogConfig, LogFormat};
use crate::telemetry;

/// Bucket, prefix and S3 connection options of the snapshot commands.
#[derive(Debug, Args)]
pub struct BucketArgs {
    /// Bucket holding the snapshots.
    #[arg(long, env = "CACHEGATE_SNAPSHOT_BUCKET")]
    pub bucket: String,
    /// Key prefix of the snapshots in the bucket (`<prefix>/current`, `<prefix>/snapshots/…`).
    #[arg(long, env = "CACHEGATE_SNAPSHOT_PREFIX", default_value = "")]
    pub prefix: String,
    /// S3 endpoint (RGW or a cachegate gateway); default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region to sign for; default: AWS_REGION, the profile's, or us-east-1.
    #[arg(long)]
    pub region: Option<String>,
    /// Access key; default: the AWS credential chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, web identity, …).
    #[arg(long, requires = "secret_key_file")]
    pub access_key: Option<String>,
    /// File holding the secret key that goes with --access-key.
    #[arg(long, value_name = "FILE", requires = "access_key")]
    pub secret_key_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for an https endpoint.
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
    /// Address buckets as bucket.host instead of host/bucket.
    #[arg(long)]
    pub virtual_hosted: bool,
}

impl BucketArgs {
    /// Connects to the bucket.
    pub async fn store(&self) -> Result<SnapshotStore, SnapshotError> {
        let secret_key = match &self.secret_key_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| SnapshotError::Usage(format!("--secret-key-file {}: {e}", path.display())))?
                    .trim()
                    .to_owned(),
            ),
            None => None,
        };
        let options = S3Options {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            access_key: self.access_key.clone(),
            secret_key,
            ca_bundle: self.ca_bundle.clone(),
            virtual_hosted: self.virtual_hosted,
        };
        Ok(SnapshotStore::new(connect(&options).await?, &self.bucket, &self.prefix))
    }
}

/// A snapshot id given on the command line.
pub fn parse_id(text: &str) -> Result<SnapshotId, SnapshotError> {
    text.parse().map_err(SnapshotError::Usage)
}

/// Runs a snapshot command: warnings (or `CACHEGATE_LOG`'s level) to stderr, the async
/// runtime, and on failure one line `<command>: <what failed>` with exit code 1 (2 for
/// unusable options).
pub fn run<F: Future<Output = Result<(), SnapshotError>>>(command: &str, work: F) -> ExitCode {
    let level = std::env::var("CACHEGATE_LOG").unwrap_or_else(|_| "warn".to_owned());
    telemetry::init(&LogConfig { format: LogFormat::Text, level });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{command}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{command}: {error}");
            ExitCode::from(if matches!(error, SnapshotError::Usage(_)) { 2 } else { 1 })
        }
    }
}
