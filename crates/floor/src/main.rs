//! `cachegate-floor`: answers every GET with the same object, the way a cachegate hit is
//! answered, on the server stack `cachegate serve` runs (its connection threads and HTTP
//! settings from `cachegate-listener`, mimalloc), with none of the gateway around it: no
//! tenants, cache, logs or metrics.
//!
//! `benches/cache_vs_nginx.sh` measures it beside cachegate and nginx. `--through hyper`
//! shows what the HTTP server alone costs a 4 KiB hit; `--through s3s` adds s3s, which
//! verifies each request's SigV4 signature and parses and answers it as a typed GetObject,
//! as it does for cachegate: the ceiling a cache behind s3s can reach.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::dto::{ETag, GetObjectInput, GetObjectOutput, StreamingBlob, Timestamp};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, S3, S3Request, S3Response, S3Result};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves one fixed object to every GET.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// What answers: hyper alone, or s3s (signature checked) in front of a fixed answer.
    #[arg(long, value_enum)]
    through: Through,
    /// Size of the object, in bytes.
    #[arg(long, default_value_t = 4096)]
    bytes: usize,
    /// Access key the signatures must be made with (`--through s3s`).
    #[arg(long, default_value = "")]
    access_key: String,
    /// Secret key of `--access-key`.
    #[arg(long, default_value = "")]
    secret_key: String,
}

/// Which stack answers.
#[derive(Clone, Copy, ValueEnum)]
enum Through {
    /// hyper's HTTP/1.1 server, no S3 protocol.
    Hyper,
    /// s3s: SigV4 verification, typed GetObject input and output.
    S3s,
}

// The headers of a cachegate hit, with a fixed request id and without `x-cache`.
const ETAG: &str = "\"d462e63def652d666b10a0aad06338ca\"";
const CONTENT_TYPE: &str = "binary/octet-stream";
const REQUEST_ID: &str = "00000000000000000000000000000000";
/// What s3s writes for [`std::time::SystemTime::UNIX_EPOCH`], the s3s answer's time.
const LAST_MODIFIED: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let object = Bytes::from(vec![b'x'; args.bytes]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = std::net::TcpListener::bind(args.listen).with_context(|| format!("listen {}", args.listen))?;
        match args.through {
            Through::Hyper => serve(listener, move |_| hyper_answer(object.clone())).await,
            Through::S3s => {
                let mut builder = S3ServiceBuilder::new(FixedObject(object));
                builder.set_auth(SimpleAuth::from_single(args.access_key, args.secret_key));
                let s3: Arc<S3Service> = Arc::new(builder.build());
                serve(listener, move |request: http::Request<hyper::body::Incoming>| {
                    let s3 = Arc::clone(&s3);
                    async move { s3.call(request.map(Body::from)).await }
                })
                .await
            }
        }
    })
}

/// Serves `answer` on cachegate's own connection threads and settings, until killed.
async fn serve<F, R, B, E>(listener: std::net::TcpListener, answer: F) -> anyhow::Result<()>
where
    F: Fn(http::Request<hyper::body::Incoming>) -> R + Clone + Send + Sync + 'static,
    R: Future<Output = Result<http::Response<B>, E>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = Arc::new(cachegate_listener::http_builder());
    let handler: cachegate_listener::Handler = Arc::new(move |tcp, _, watcher| {
        let (builder, answer) = (Arc::clone(&builder), answer.clone());
        Box::pin(async move {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service_fn(answer));
            let _ = watcher.watch(connection.into_owned()).await;
        })
    });
    let threads = cachegate_listener::default_threads();
    cachegate_listener::serve(listener, threads, handler, std::future::pending(), Duration::ZERO).await?;
    Ok(())
}

async fn hyper_answer(object: Bytes) -> Result<http::Response<Body>, Infallible> {
    let response = http::Response::builder()
        .header("accept-ranges", "bytes")
        .header("content-type", CONTENT_TYPE)
        .header("etag", ETAG)
        .header("last-modified", LAST_MODIFIED)
        .header("x-amz-request-id", REQUEST_ID)
        .body(Body::from(object));
    Ok(response.unwrap_or_default())
}

/// The S3 side of `--through s3s`: GetObject answers the fixed object.
struct FixedObject(Bytes);

#[async_trait::async_trait]
impl S3 for FixedObject {
    async fn get_object(&self, _req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let output = GetObjectOutput {
            body: Some(StreamingBlob::from(Body::from(self.0.clone()))),
            content_length: i64::try_from(self.0.len()).ok(),
            content_type: Some(CONTENT_TYPE.to_owned()),
            e_tag: ETag::parse_http_header(ETAG.as_bytes()).ok(),
            accept_ranges: Some("bytes".to_owned()),
            last_modified: Some(Timestamp::from(std::time::SystemTime::UNIX_EPOCH)),
            ..GetObjectOutput::default()
        };
        let mut response = S3Response::new(output);
        response.headers.insert("x-amz-request-id", http::HeaderValue::from_static(REQUEST_ID));
        Ok(response)
    }
}
