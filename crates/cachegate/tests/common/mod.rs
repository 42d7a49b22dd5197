//! Harness for the end-to-end tests: a real Ceph RGW (started by `tests/run-all.sh`,
//! reached through the `AWS_*` variables it exports) and gateways started from the
//! built `cachegate` binary.
#![allow(dead_code, missing_docs)] // each test binary uses a part of the harness

mod http;
mod process;
mod relay;
mod tree;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

#[allow(unused_imports)] // each test binary uses a part of the harness
pub use self::{
    http::{HttpAnswer, raw_http},
    process::{cachegate, cachegate_command, fetch, fetch_command, fetched_ok, outcome, publish, run_cachegate},
    relay::Relay,
    tree::{Node, snapshot_of, untar, walk},
};

/// Tenant `alpha`: buckets `alpha-*`, two key pairs.
pub const ALPHA: (&str, &str) = ("ALPHAKEY000000000001", "alphasecret0000000000000000000000000001");
/// Tenant `alpha`'s second (rotated-in) key pair.
pub const ALPHA_NEXT: (&str, &str) = ("ALPHAKEY000000000002", "alphasecret0000000000000000000000000002");
/// Tenant `beta`: buckets `beta-*`.
pub const BETA: (&str, &str) = ("BETAKEY0000000000001", "betasecret00000000000000000000000000001");

/// The tenants of every test gateway, built from the key constants above.
fn tenants_toml() -> String {
    let tenant = |name: &str, buckets: &str, keys: &[(&str, &str)]| {
        let keys: String = keys
            .iter()
            .map(|(a, s)| format!("[[tenants.keys]]\naccess_key = \"{a}\"\nsecret_key = \"{s}\"\n"))
            .collect();
        format!("[[tenants]]\nname = \"{name}\"\nbuckets = [\"{buckets}\"]\n{keys}")
    };
    tenant("alpha", "alpha-*", &[ALPHA, ALPHA_NEXT]) + &tenant("beta", "beta-*", &[BETA])
}

/// The RGW the tests run against.
pub struct Rgw {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

pub fn rgw() -> Rgw {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run tests/run-all.sh, or start tests/rgw/start-rgw.sh and export what it prints")
        })
    };
    Rgw {
        endpoint: var("AWS_ENDPOINT_URL"),
        access_key: var("AWS_ACCESS_KEY_ID"),
        secret_key: var("AWS_SECRET_ACCESS_KEY"),
    }
}

/// An S3 client for `endpoint` signing with `key`, with the SDK's default checksum
/// behaviour (aws-chunked uploads with trailing checksums), as a modern client sends.
pub fn client(endpoint: &str, key: (&str, &str)) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key.0, key.1, None, None, "test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A client straight to RGW, to prepare data and to see what reached it.
pub fn rgw_client() -> aws_sdk_s3::Client {
    let rgw = rgw();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&rgw.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(rgw.access_key, rgw.secret_key, None, None, "test"))
        .force_path_style(true)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Creates a bucket named `<prefix>-<unique>` directly on RGW.
pub async fn fresh_bucket(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("{prefix}-{:x}-{}", nanos & 0xffff_ffff_ffff, std::process::id());
    rgw_client().create_bucket().bucket(&name).send().await.expect("create bucket on RGW");
    name
}

/// A running `cachegate serve`.
pub struct Gateway {
    child: Child,
    pub s3: SocketAddr,
    pub admin: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// Starts a gateway in front of the test RGW with tenants alpha and beta.
    pub fn start() -> Self {
        let rgw = rgw();
        Self::start_with(&rgw.endpoint, "")
    }

    /// A gateway in front of `upstream` with a cache in `dir` in `mode` (stale answers up to
    /// an hour old).
    pub fn cached(upstream: &str, dir: &Path, mode: &str) -> Self {
        let cache = format!(
            "[cache]\ndir = \"{}\"\nmode = \"{mode}\"\nmax_size = \"2GiB\"\nmax_stale = \"1h\"\n",
            dir.display()
        );
        Self::start_with(upstream, &cache)
    }

    /// Starts a gateway with `upstream_endpoint` and `extra` TOML appended (top-level keys
    /// must come first in `extra`, before any table).
    pub fn start_with(upstream_endpoint: &str, extra: &str) -> Self {
        let rgw = rgw();
        let dir = tempfile::tempdir().unwrap();
        let (s3, admin) = (free_port(), free_port());
        let config = format!(
            "listen = \"{s3}\"\nadmin_listen = \"{admin}\"\nreadiness_interval = \"1s\"\n{extra}\n\
             [log]\nformat = \"json\"\n\
             [upstream]\nendpoint = \"{upstream_endpoint}\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\n\
             connect_timeout = \"1s\"\nmax_attempts = 1\n{}",
            rgw.access_key,
            rgw.secret_key,
            tenants_toml()
        );
        let config_path = dir.path().join("cachegate.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("gateway.log");
        let child = cachegate(&["serve", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start cachegate");
        let gateway = Self { child, s3, admin, log, _dir: dir };
        gateway.wait_for("/healthz", 200);
        gateway
    }

    /// Waits until the admin `path` answers `status`.
    pub fn wait_for(&self, path: &str, status: u16) {
        let answered = eventually(Duration::from_secs(20), || self.admin_get(path).is_ok_and(|(s, _)| s == status));
        assert!(answered, "{path} did not answer {status}; gateway log:\n{}", self.log_text());
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3)
    }

    pub fn client(&self, key: (&str, &str)) -> aws_sdk_s3::Client {
        client(&self.endpoint(), key)
    }

    /// GET on the admin listener: status and body.
    pub fn admin_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        raw_http(self.admin, "GET", path, &[]).map(|answer| (answer.status, answer.text()))
    }

    /// The value of one Prometheus sample, matched by its exact name and labels text.
    pub fn metric(&self, series: &str) -> f64 {
        let (_, body) = self.admin_get("/metrics").unwrap();
        body.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
    }

    /// Resident set size of the gateway process, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib * 1024
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = self.log_text();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("---- gateway log (last lines) ----");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Pseudo-random bytes: they do not compress, so data spans as many gzip members as its size.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Polls `condition` every 20 ms until it holds (`true`) or `timeout` has passed (`false`).
/// It blocks the thread: what the condition waits for must not need the caller's runtime.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Status and S3 error code of a failed SDK call.
pub fn failure<T: std::fmt::Debug, E>(
    result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> (u16, String)
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    let err = result.expect_err("the call should have failed");
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = err.as_service_error().and_then(|e| e.code()).unwrap_or_default().to_owned();
    (status, code)
}

/// The whole body of a GetObject answer.
pub async fn body_of(output: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    output.body.collect().await.expect("read body").into_bytes().to_vec()
}

/// Records the `x-cache` header of the answer to one SDK call.
#[derive(Debug, Clone, Default)]
pub struct XCache(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl aws_sdk_s3::config::Intercept for XCache {
    fn name(&self) -> &'static str {
        "XCache"
    }

    fn read_before_deserialization(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _runtime: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        *self.0.lock().unwrap() = context.response().headers().get("x-cache").map(str::to_owned);
        Ok(())
    }
}

impl XCache {
    pub fn status(&self) -> String {
        self.0.lock().unwrap().clone().unwrap_or_default()
    }
}

/// GetObject of `key` (optionally a `range`): the bytes and the `x-cache` status.
pub async fn cached_get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, range: Option<&str>) -> (Vec<u8>, String) {
    let seen = XCache::default();
    let output = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range.map(str::to_owned))
        .customize()
        .interceptor(seen.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key} {range:?}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    (body_of(output).await, seen.status())
}
