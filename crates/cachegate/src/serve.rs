use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cachegate_cache::{CacheStore, TenantCache};
use cachegate_listener::Handler;
use cachegate_s3::{BucketPattern, CacheSetup, FrontOptions, FrontService, Tenant, TenantRegistry, Upstream};
use cachegate_upstream::{Readiness, UpstreamConfig, build_client};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::cli::ServeArgs;
use crate::config::{self, Config, Source};
use crate::snapshot_route::SnapshotRoute;
use crate::{admin, telemetry, tls};

/// Request latency buckets (seconds): from cache hits to multi-GiB transfers.
const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Runs `cachegate serve`: exit 0 after a clean shutdown, 2 for a bad configuration, 1 otherwise.
pub fn main(args: &ServeArgs) -> ExitCode {
    if args.print_default_config {
        print!("{}", config::REFERENCE_TOML);
        return ExitCode::SUCCESS;
    }
    let source = match (&args.config, args.dev) {
        (Some(path), _) => Source::File(path.clone()),
        (None, true) => Source::Dev,
        (None, false) => Source::Defaults,
    };
    let config = match config::load(&source).map_err(|e| vec![e]).and_then(|c| config::validate(&c).map(|()| c)) {
        Ok(config) => config,
        Err(problems) => {
            for problem in problems {
                eprintln!("cachegate: config: {problem}");
            }
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!("cachegate: config ok ({} tenants, upstream {})", config.tenants.len(), config.upstream.endpoint);
        return ExitCode::SUCCESS;
    }
    let _log_writer = telemetry::init_gateway(&config.log);
    if matches!(source, Source::Dev) {
        warn!("running on the embedded development configuration: its keys are public");
    }
    // admin, readiness probes and signals; client connections run on threads of their own
    // (cachegate_listener)
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cachegate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cachegate stopped");
            eprintln!("cachegate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let metrics = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)?
        .install_recorder()
        .context("installing the metrics recorder")?;
    let registry = Arc::new(build_registry(&config)?);
    let probes = registry.upstreams().iter().map(|u| (u.name.clone(), u.probe_client())).collect();
    let cache = CacheStore::open(&config.cache)?.map(|store| CacheSetup {
        store,
        default_mode: config.cache.mode,
        max_stale: config.cache.max_stale,
    });
    let serves_stale = cache.as_ref().is_some_and(|c| !c.max_stale.is_zero());
    let readiness = Readiness::spawn(probes, config.readiness_interval, serves_stale);
    let front = FrontService::new(
        Arc::clone(&registry),
        &FrontOptions {
            max_clock_skew: config.max_clock_skew,
            virtual_host_domains: config.virtual_host_domains.clone(),
            anonymous: config.anonymous_access.then(|| anonymous_tenant(&config.upstream)).transpose()?,
        },
        cache,
    )?;
    let tls = tls::acceptor(&config.tls)?;
    let admin_listener = TcpListener::bind(config.admin_listen)
        .await
        .with_context(|| format!("admin_listen {}", config.admin_listen))?;
    let listener = std::net::TcpListener::bind(config.listen).with_context(|| format!("listen {}", config.listen))?;
    let threads = cachegate_listener::default_threads();
    info!(
        listen = %config.listen,
        admin_listen = %config.admin_listen,
        tls = tls.is_some(),
        tenants = config.tenants.len(),
        upstream = %config.upstream.endpoint,
        threads,
        "cachegate serving"
    );
    tokio::spawn(admin::serve(admin_listener, readiness, metrics));
    let routes = Routes { front: front.clone(), snapshots: SnapshotRoute::new(&config, front) };
    let handler = connection_handler(routes, tls);
    cachegate_listener::serve(listener, threads, handler, shutdown_signal(), config.shutdown_grace).await?;
    Ok(())
}

/// One [`Upstream`] per distinct upstream configuration, shared by the tenants using it.
fn build_registry(config: &Config) -> anyhow::Result<TenantRegistry> {
    let mut upstreams: HashMap<String, Arc<Upstream>> = HashMap::new();
    let mut registry = TenantRegistry::default();
    for tenant in &config.tenants {
        let upstream_config = tenant.upstream(&config.upstream)?;
        let identity = toml::to_string(&upstream_config)?;
        let upstream = match upstreams.get(&identity) {
            Some(upstream) => Arc::clone(upstream),
            None => {
                let upstream = Arc::new(connect(&upstream_config)?);
                upstreams.insert(identity, Arc::clone(&upstream));
                upstream
            }
        };
        let buckets = tenant.buckets.iter().map(|b| BucketPattern::parse(b)).collect::<Result<_, _>>()?;
        let keys: Vec<_> = tenant.keys.iter().map(|k| (k.access_key.clone(), k.secret_key.clone())).collect();
        let tenant_entry = Tenant { name: tenant.name.as_str().into(), buckets, upstream, cache: tenant.cache.clone() };
        registry.add(tenant_entry, &keys)?;
    }
    Ok(registry)
}

/// The tenant of unsigned requests: every bucket of the top-level upstream, reached
/// without credentials, never cached (a public answer must not serve a private key).
fn anonymous_tenant(upstream: &UpstreamConfig) -> anyhow::Result<Arc<Tenant>> {
    let unsigned = UpstreamConfig { access_key: String::new(), secret_key: String::new(), ..upstream.clone() };
    Ok(Arc::new(Tenant {
        name: "anonymous".into(),
        buckets: vec![BucketPattern::Any],
        upstream: Arc::new(connect(&unsigned)?),
        cache: TenantCache { enabled: Some(false), ..TenantCache::default() },
    }))
}

fn connect(config: &UpstreamConfig) -> anyhow::Result<Upstream> {
    let retrying = build_client(config, true)?;
    let single_shot = build_client(config, false)?;
    Ok(Upstream::new(config.endpoint.clone(), retrying, single_shot))
}

/// What the S3 listener serves: the S3 front, and the snapshot route when it is on.
#[derive(Clone)]
struct Routes {
    front: FrontService,
    snapshots: Option<SnapshotRoute>,
}

/// Serves one accepted connection: its TLS handshake first when TLS is on.
fn connection_handler(routes: Routes, tls: Option<TlsAcceptor>) -> Handler {
    let builder = Arc::new(cachegate_listener::http_builder());
    Arc::new(move |tcp, peer, watcher| {
        let (routes, builder, tls) = (routes.clone(), Arc::clone(&builder), tls.clone());
        Box::pin(async move {
            match tls {
                None => serve_connection(tcp, &builder, routes, watcher).await,
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => serve_connection(stream, &builder, routes, watcher).await,
                    Err(e) => debug!(%peer, error = %e, "TLS handshake failed"),
                },
            }
        })
    })
}

async fn serve_connection<S>(io: S, builder: &auto::Builder<TokioExecutor>, routes: Routes, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let routes = routes.clone();
        async move {
            match routes.snapshots.as_ref().filter(|route| route.claims(&request)) {
                Some(route) => Ok(route.answer(request).await),
                None => routes.front.handle(request).await,
            }
        }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        debug!(error = %e, "connection ended with an error");
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
