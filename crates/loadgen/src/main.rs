//! `cachegate-loadgen`: sends GETs of a set of keys at a fixed concurrency to an S3
//! endpoint (SigV4-signed with `UNSIGNED-PAYLOAD`, or unsigned for a plain HTTP cache)
//! over one keep-alive HTTP/1.1 connection per worker, reads and checks every body, and
//! prints one JSON line: requests, errors, req/s, MiB/s and latency percentiles.
//!
//! With `--put-bytes` it uploads instead (PUT of that many bytes per key), which the
//! benchmark script uses to create its objects.
//!
//! Requests and bytes are counted when they complete (bytes: when they arrive) inside the
//! measured window, after `--warmup`; latency is from sending the request to the last
//! byte of the body.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, RANGE};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Either, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use cachegate_sigv4::canonical::uri_encode_path;
use cachegate_sigv4::{Signer, UNSIGNED_PAYLOAD, amz_date};

/// Load generator for cachegate benchmarks.
#[derive(Parser, Debug)]
#[command(name = "cachegate-loadgen", version)]
struct Args {
    /// Endpoint, `http://HOST:PORT` (path-style requests are sent to it).
    #[arg(long)]
    endpoint: String,
    /// Access key of the SigV4 signature.
    #[arg(long, default_value = "")]
    access_key: String,
    /// Secret key of the SigV4 signature.
    #[arg(long, default_value = "")]
    secret_key: String,
    /// Region of the SigV4 signature.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Send the GETs without any signature (a plain HTTP cache such as nginx).
    #[arg(long)]
    unsigned: bool,
    /// Bucket of the keys.
    #[arg(long)]
    bucket: String,
    /// Keys to GET, comma-separated. Key j belongs to worker j mod concurrency, and each
    /// worker cycles through its own keys (with fewer keys than workers, workers share).
    #[arg(long, value_delimiter = ',', conflicts_with = "prefix")]
    keys: Vec<String>,
    /// Keys `PREFIX0` … `PREFIX{count-1}` (with `--count`).
    #[arg(long, requires = "count")]
    prefix: Option<String>,
    /// Number of `--prefix` keys.
    #[arg(long, requires = "prefix")]
    count: Option<usize>,
    /// Concurrent workers, each with its own keep-alive connection.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Length of the measured window (after the warm-up).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Load sent before the measured window, not counted.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// `Range` header of every request, e.g. `bytes=0-`.
    #[arg(long)]
    range: Option<String>,
    /// Expected body length of every response (checked besides `Content-Length`).
    #[arg(long)]
    expect_bytes: Option<u64>,
    /// Request every key exactly once (each worker its own keys), then stop; every
    /// request counts and `--warmup` is ignored.
    #[arg(long)]
    once: bool,
    /// PUT a body of this many bytes to every key instead of GETting it.
    #[arg(long)]
    put_bytes: Option<usize>,
    /// Extra request header `NAME: VALUE` (signed too), e.g. `x-amz-acl: public-read`; repeatable.
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Label copied into the JSON output.
    #[arg(long)]
    label: Option<String>,
}

fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text.split_once(':').ok_or("expected NAME: VALUE")?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|e| e.to_string())?;
    Ok((name, value))
}

type RequestBody = Either<Empty<Bytes>, Full<Bytes>>;

/// What every worker shares.
struct Plan {
    addr: SocketAddr,
    host: HeaderValue,
    /// Encoded `/bucket/key` of each key: request target and canonical URI at once.
    paths: Vec<String>,
    concurrency: usize,
    range: Option<HeaderValue>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The body of every PUT, when uploading.
    put_body: Option<Bytes>,
    /// `--once`: a fixed amount of work, every request counted (no warm-up, no window).
    once: bool,
    signer: Option<Signer>,
    expect_bytes: Option<u64>,
    measure_from: Instant,
    deadline: Instant,
}

/// Deterministic incompressible-looking bytes (xorshift).
fn pattern(len: usize) -> Bytes {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// What one worker saw.
#[derive(Default)]
struct Stats {
    requests: u64,
    /// Successful requests including those outside the measured window.
    all_requests: u64,
    errors: u64,
    bytes: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
    last_completion: Option<Instant>,
}

impl Stats {
    fn error(&mut self, what: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    fn merge(&mut self, other: Self) {
        self.requests += other.requests;
        self.all_requests += other.all_requests;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.latencies_us.extend(other.latencies_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.last_completion = self.last_completion.max(other.last_completion);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cachegate-loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the load and prints the JSON line; `Ok(false)` when a request failed or none completed.
fn run(args: &Args) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (plan, started) = plan(args).await?;
        let plan = Arc::new(plan);
        let mut workers = tokio::task::JoinSet::new();
        for index in 0..plan.concurrency {
            workers.spawn(worker(Arc::clone(&plan), index));
        }
        let mut total = Stats::default();
        while let Some(stats) = workers.join_next().await {
            total.merge(stats.context("worker panicked")?);
        }
        let window = if plan.once {
            total.last_completion.map_or(Duration::ZERO, |end| end - started)
        } else {
            plan.deadline - plan.measure_from
        };
        report(args, &plan, total, window)
    })
}

async fn plan(args: &Args) -> anyhow::Result<(Plan, Instant)> {
    let uri: Uri = args.endpoint.parse().with_context(|| format!("--endpoint {}", args.endpoint))?;
    if uri.scheme_str() != Some("http") {
        bail!("--endpoint must be http://HOST[:PORT]");
    }
    let authority = uri.authority().context("--endpoint has no host")?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((authority.host(), port))
        .await?
        .next()
        .with_context(|| format!("{} resolves to no address", authority.host()))?;
    let keys: Vec<String> = match (&args.prefix, args.count) {
        (Some(prefix), Some(count)) => (0..count).map(|i| format!("{prefix}{i}")).collect(),
        _ => args.keys.iter().filter(|k| !k.is_empty()).cloned().collect(),
    };
    if keys.is_empty() {
        bail!("give --keys or --prefix with --count");
    }
    let signer = if args.unsigned {
        None
    } else {
        if args.access_key.is_empty() || args.secret_key.is_empty() {
            bail!("--access-key and --secret-key are needed (or --unsigned)");
        }
        Some(Signer::new(&args.access_key, &args.secret_key, &args.region, "s3"))
    };
    let started = Instant::now();
    let measure_from = if args.once { started } else { started + args.warmup };
    let plan = Plan {
        addr,
        host: HeaderValue::from_str(authority.as_str())?,
        paths: keys.iter().map(|k| uri_encode_path(&format!("/{}/{k}", args.bucket)).into_owned()).collect(),
        concurrency: args.concurrency.max(1),
        range: args.range.as_deref().map(HeaderValue::from_str).transpose().context("--range")?,
        headers: args.headers.clone(),
        put_body: args.put_bytes.map(pattern),
        once: args.once,
        signer,
        expect_bytes: args.expect_bytes,
        measure_from,
        deadline: measure_from + args.duration,
    };
    Ok((plan, started))
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<RequestBody>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The signed headers of one key, reused while the second does not change.
struct SignedHeaders {
    second: u64,
    date: HeaderValue,
    authorization: HeaderValue,
}

async fn worker(plan: Arc<Plan>, index: usize) -> Stats {
    let mut stats = Stats::default();
    let mut signed: Vec<Option<SignedHeaders>> = (0..plan.paths.len()).map(|_| None).collect();
    let mut sender: Option<SendRequest<RequestBody>> = None;
    // key j belongs to worker j mod concurrency: with at least as many keys as workers,
    // no two workers ever ask for the same key at once (so a cache cannot coalesce them)
    let keys = plan.paths.len();
    let mine: Vec<usize> = if keys >= plan.concurrency {
        (index % keys..keys).step_by(plan.concurrency).collect()
    } else if plan.once {
        (index..keys).take(1).collect()
    } else {
        vec![index % keys]
    };
    let mut turn = 0usize;
    loop {
        if Instant::now() >= plan.deadline || (plan.once && turn >= mine.len()) {
            break;
        }
        // a connection the server closed (keep-alive limit, idle timeout) is replaced silently
        if let Some(s) = &mut sender
            && s.ready().await.is_err()
        {
            sender = None;
        }
        let connection = match &mut sender {
            Some(s) => s,
            None => match connect(plan.addr).await {
                Ok(s) => sender.insert(s),
                Err(e) => {
                    stats.error(|| format!("connect: {e:#}"));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let key = mine[turn % mine.len()];
        turn += 1;
        let request = match build_request(&plan, key, plan.signer.as_ref(), &mut signed[key]) {
            Ok(request) => request,
            Err(e) => {
                stats.error(|| format!("request: {e:#}"));
                break;
            }
        };
        let sent = Instant::now();
        let response = match connection.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                stats.error(|| format!("send: {e}"));
                sender = None;
                continue;
            }
        };
        let status = response.status();
        let declared: Option<u64> =
            response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let mut body = response.into_body();
        let mut received = 0u64;
        let mut failed = None;
        let mut past_deadline = false;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        received += data.len() as u64;
                        let now = Instant::now();
                        if status.is_success() && now >= plan.measure_from && now <= plan.deadline {
                            stats.bytes += data.len() as u64;
                        }
                        if now > plan.deadline && !plan.once {
                            past_deadline = true;
                            break;
                        }
                    }
                }
                Err(e) => {
                    failed = Some(format!("body: {e}"));
                    break;
                }
            }
        }
        if past_deadline {
            // the window is over: drop the connection instead of reading the rest
            break;
        }
        let done = Instant::now();
        if let Some(failure) = failed {
            stats.error(|| failure);
            sender = None;
            continue;
        }
        if !status.is_success() {
            stats.error(|| format!("HTTP {status} for {}", plan.paths[key]));
            continue;
        }
        let expected = if plan.put_body.is_some() { None } else { plan.expect_bytes };
        if declared.is_some_and(|d| d != received) || expected.is_some_and(|e| e != received) {
            stats.error(|| {
                format!(
                    "{}: received {received} bytes, Content-Length {declared:?}, expected {:?}",
                    plan.paths[key], plan.expect_bytes
                )
            });
            continue;
        }
        stats.all_requests += 1;
        if done >= plan.measure_from && done <= plan.deadline {
            stats.requests += 1;
            stats.latencies_us.push(u32::try_from((done - sent).as_micros()).unwrap_or(u32::MAX));
            stats.last_completion = Some(done);
        }
    }
    stats
}

fn build_request(
    plan: &Plan,
    key: usize,
    signer: Option<&Signer>,
    cached: &mut Option<SignedHeaders>,
) -> anyhow::Result<Request<RequestBody>> {
    let path = plan.paths[key].as_str();
    let method = if plan.put_body.is_some() { Method::PUT } else { Method::GET };
    let mut builder = Request::builder().method(method.clone()).uri(path).header(HOST, plan.host.clone());
    if let Some(range) = &plan.range {
        builder = builder.header(RANGE, range.clone());
    }
    for (name, value) in &plan.headers {
        builder = builder.header(name, value.clone());
    }
    if let Some(body) = &plan.put_body {
        builder = builder.header(CONTENT_LENGTH, body.len());
    }
    if let Some(signer) = signer {
        let second = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let fresh = match cached {
            Some(c) if c.second == second => c,
            _ => {
                let date = amz_date(second);
                let mut headers: Vec<(String, String)> = vec![("host".into(), plan.host.to_str()?.to_owned())];
                if let Some(range) = &plan.range {
                    headers.push(("range".into(), range.to_str()?.trim().to_owned()));
                }
                for (name, value) in &plan.headers {
                    headers.push((name.as_str().to_owned(), value.to_str()?.trim().to_owned()));
                }
                headers.push(("x-amz-content-sha256".into(), UNSIGNED_PAYLOAD.into()));
                headers.push(("x-amz-date".into(), date.clone()));
                headers.sort();
                let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                let authorization = signer.authorization(method.as_str(), path, "", &headers, UNSIGNED_PAYLOAD, &date);
                cached.insert(SignedHeaders {
                    second,
                    date: HeaderValue::from_str(&date)?,
                    authorization: HeaderValue::from_str(&authorization)?,
                })
            }
        };
        builder = builder
            .header("x-amz-content-sha256", HeaderValue::from_static(UNSIGNED_PAYLOAD))
            .header("x-amz-date", fresh.date.clone())
            .header(AUTHORIZATION, fresh.authorization.clone());
    }
    let body = match &plan.put_body {
        Some(bytes) => Either::Right(Full::new(bytes.clone())),
        None => Either::Left(Empty::new()),
    };
    Ok(builder.body(body)?)
}

/// CPU time (user + system) this process used so far, from `/proc/self/stat`.
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the parenthesised command name; utime and stime are the 12th and 13th
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ: 100 on every Linux architecture
    Some(ticks as f64 / 100.0)
}

/// Prints the JSON line; whether the run was clean.
fn report(args: &Args, plan: &Plan, mut total: Stats, window: Duration) -> anyhow::Result<bool> {
    total.latencies_us.sort_unstable();
    let seconds = window.as_secs_f64();
    let rate = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
    let percentile = |p: f64| -> f64 {
        let n = total.latencies_us.len();
        if n == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        f64::from(total.latencies_us[rank - 1]) / 1000.0
    };
    let round = |x: f64, digits: i32| {
        let factor = 10f64.powi(digits);
        (x * factor).round() / factor
    };
    let line = serde_json::json!({
        "label": args.label,
        "endpoint": args.endpoint,
        "keys": plan.paths.len(),
        "concurrency": plan.concurrency,
        "seconds": round(seconds, 3),
        "warmup_s": if plan.once { 0.0 } else { args.warmup.as_secs_f64() },
        "requests": total.requests,
        "all_requests": total.all_requests,
        "errors": total.errors,
        "bytes": total.bytes,
        "req_per_s": round(rate(total.requests as f64), 1),
        "mib_per_s": round(rate(total.bytes as f64) / f64::from(1u32 << 20), 2),
        "p50_ms": round(percentile(0.50), 3),
        "p90_ms": round(percentile(0.90), 3),
        "p99_ms": round(percentile(0.99), 3),
        "max_ms": round(total.latencies_us.last().map_or(0.0, |&us| f64::from(us) / 1000.0), 3),
        "loadgen_cpu_s": own_cpu_seconds(),
        "first_error": total.first_error,
    });
    println!("{line}");
    Ok(total.errors == 0 && total.requests > 0)
}
