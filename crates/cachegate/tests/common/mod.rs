//! Harness for the end-to-end tests: a real Ceph RGW (started by `tests/run-all.sh`,
//! reached through the `AWS_*` variables it exports) and gateways started from the
//! built `cachegate` binary.
#![allow(dead_code, missing_docs)] // each test binary uses a part of the harness

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

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
        let child = Command::new(env!("CARGO_BIN_EXE_cachegate"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .env_clear()
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
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.admin_get(path).is_ok_and(|(s, _)| s == status) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{path} did not answer {status}; gateway log:\n{}", self.log_text());
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3)
    }

    pub fn client(&self, key: (&str, &str)) -> aws_sdk_s3::Client {
        client(&self.endpoint(), key)
    }

    /// GET on the admin listener: status and body.
    pub fn admin_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        raw_http(self.admin, &format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"))
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

/// Sends `request` as it is and reads the whole answer: status and body.
pub fn raw_http(addr: SocketAddr, request: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
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

/// A TCP relay to the RGW that a test can cut, to play an upstream outage.
pub struct Relay {
    pub endpoint: String,
    tasks: std::sync::Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
}

impl Relay {
    pub async fn start() -> Self {
        let target: SocketAddr = rgw().endpoint.trim_start_matches("http://").parse().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let spawner = std::sync::Arc::clone(&tasks);
        tasks.lock().unwrap().spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                spawner.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { endpoint, tasks }
    }

    /// Closes every relayed connection and the listener: the upstream is gone.
    pub fn cut(&self) {
        self.tasks.lock().unwrap().abort_all();
    }
}

/// Runs the `cachegate` binary with `args` against the test RGW (its `AWS_*` variables
/// and nothing else from the environment): exit code, stdout, stderr.
pub fn run_cachegate(args: &[&str]) -> (i32, String, String) {
    run_cachegate_with(args, &[])
}

/// [`run_cachegate`] with extra environment variables.
pub fn run_cachegate_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = cachegate_command(args).envs(env.iter().copied()).output().expect("run cachegate");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A `cachegate` command with `args` and the test RGW's credentials and endpoint.
pub fn cachegate_command(args: &[&str]) -> Command {
    let rgw = rgw();
    let mut command = Command::new(env!("CARGO_BIN_EXE_cachegate"));
    command
        .args(args)
        .env_clear()
        .env("AWS_ENDPOINT_URL", &rgw.endpoint)
        .env("AWS_ACCESS_KEY_ID", &rgw.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &rgw.secret_key)
        .env("AWS_REGION", "us-east-1")
        .env("HOME", "/nonexistent");
    command
}
