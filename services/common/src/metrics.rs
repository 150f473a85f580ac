//! Prometheus metrics: one recorder per process, served on an admin
//! listener (`METRICS_ADDR`), never on the public API port.
//!
//! Built on the `metrics` facade and its Prometheus recorder
//! (`metrics-exporter-prometheus` with its own hyper server off): the
//! engines of this crate (gRPC bootstrap, outbox relay, inbox consumer,
//! notification dispatch, the pool) record with the facade's macros, and a
//! service records its own figures the same way (review's timers and
//! deadlines). Until [`install`] runs the macros record nothing, so
//! in-process tests that never install a recorder pay nothing.
//!
//! Figures that are a state rather than an event (the outbox backlog, a
//! consumer's pending messages, the pool, pending timers) are read when
//! Prometheus scrapes ([`on_scrape`]): always current, and no polling loop
//! runs between scrapes.
//!
//! Labels are bounded sets: method names from the file descriptor set,
//! route templates, status codes, consumer names, clock kinds and center
//! codes. Never an application, case or person id; never personal data.
//! Every name is listed in [`NAMES`] with its help text.

use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Latency buckets (seconds) of the request histograms: from 1 ms (a
/// cached read) to 10 s (the gateway's default backend deadline); the
/// latency objective's 500 ms threshold is a bucket bound, so the alert's
/// ratio is exact.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Lateness buckets (seconds) of a fired timer: the timer loop looks every
/// few seconds, so up to 10 s is on time; beyond a minute something stalled.
pub const LATENESS_BUCKETS: &[f64] = &[1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
/// A timer that fires more than this after its time counts as late.
pub const LATE_AFTER: Duration = Duration::from_secs(60);

/// Every metric the shared library and the services record: name, kind,
/// help. One list, so the help text is written once and a test can check
/// names against the conventions (and the alert rules against the names).
pub const NAMES: &[(&str, Kind, &str)] = &[
    (
        "bianmin_build_info",
        Kind::Gauge,
        "Always 1; the service and its version as labels.",
    ),
    (
        "bianmin_ready",
        Kind::Gauge,
        "1 while the service reports SERVING, 0 while starting or stopping.",
    ),
    (
        "bianmin_grpc_server_requests_total",
        Kind::Counter,
        "gRPC calls served, by method and status code.",
    ),
    (
        "bianmin_grpc_server_request_duration_seconds",
        Kind::Histogram,
        "Time to answer a gRPC call, by method.",
    ),
    (
        "bianmin_http_requests_total",
        Kind::Counter,
        "HTTP requests served by the gateway, by method, route template and status.",
    ),
    (
        "bianmin_http_request_duration_seconds",
        Kind::Histogram,
        "Time to answer an HTTP request, by method and route template.",
    ),
    (
        "bianmin_outbox_unpublished_events",
        Kind::Gauge,
        "Outbox rows committed and not yet published.",
    ),
    (
        "bianmin_outbox_oldest_unpublished_age_seconds",
        Kind::Gauge,
        "Age of the oldest unpublished outbox row (0 when none).",
    ),
    (
        "bianmin_outbox_published_events_total",
        Kind::Counter,
        "Events the relay published and JetStream acknowledged.",
    ),
    (
        "bianmin_outbox_publish_failures_total",
        Kind::Counter,
        "Events the relay sent that were not acknowledged (retried).",
    ),
    (
        "bianmin_consumer_events_applied_total",
        Kind::Counter,
        "Events a consumer applied, by consumer.",
    ),
    (
        "bianmin_consumer_duplicates_total",
        Kind::Counter,
        "Events a consumer had applied before and skipped, by consumer.",
    ),
    (
        "bianmin_consumer_redeliveries_total",
        Kind::Counter,
        "Messages delivered again (not the first delivery), by consumer.",
    ),
    (
        "bianmin_consumer_handler_failures_total",
        Kind::Counter,
        "Handler failures that will be retried, by consumer.",
    ),
    (
        "bianmin_consumer_dead_letters_total",
        Kind::Counter,
        "Messages moved to the dead-letter stream, by consumer.",
    ),
    (
        "bianmin_consumer_pending_messages",
        Kind::Gauge,
        "Messages in the stream the consumer has not been delivered yet, by consumer.",
    ),
    (
        "bianmin_consumer_ack_pending_messages",
        Kind::Gauge,
        "Messages delivered and not yet acknowledged, by consumer.",
    ),
    (
        "bianmin_notifications_pending",
        Kind::Gauge,
        "Notifications recorded and not yet sent.",
    ),
    (
        "bianmin_notifications_sent_total",
        Kind::Counter,
        "Notifications handed to the sender, by channel.",
    ),
    (
        "bianmin_notifications_failed_total",
        Kind::Counter,
        "Notification sends that failed (retried), by channel.",
    ),
    (
        "bianmin_db_pool_connections",
        Kind::Gauge,
        "Database pool connections, by state (idle, in_use).",
    ),
    (
        "bianmin_db_pool_max_connections",
        Kind::Gauge,
        "The database pool's size limit.",
    ),
    (
        "bianmin_db_ping_duration_seconds",
        Kind::Gauge,
        "Time of a trivial query through the pool at the last scrape.",
    ),
    (
        "bianmin_certificate_expiry_timestamp_seconds",
        Kind::Gauge,
        "When a configured TLS certificate stops being valid (Unix time), by certificate.",
    ),
    (
        "bianmin_scrape_collector_errors_total",
        Kind::Counter,
        "Scrape-time readings that failed (the figure kept its last value), by collector.",
    ),
    (
        "bianmin_timers_pending",
        Kind::Gauge,
        "Durable timers armed and not fired, by kind.",
    ),
    (
        "bianmin_timers_overdue",
        Kind::Gauge,
        "Pending timers whose time passed more than a minute ago, by kind.",
    ),
    (
        "bianmin_timers_fired_total",
        Kind::Counter,
        "Durable timers fired, by kind.",
    ),
    (
        "bianmin_timers_late_total",
        Kind::Counter,
        "Timers that fired more than a minute after their time, by kind.",
    ),
    (
        "bianmin_timer_lateness_seconds",
        Kind::Histogram,
        "How long after its time a timer fired.",
    ),
    (
        "bianmin_deadlines_warned_total",
        Kind::Counter,
        "Deadline warnings raised, by clock and center.",
    ),
    (
        "bianmin_deadlines_breached_total",
        Kind::Counter,
        "Deadlines breached, by clock and center.",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Read at scrape time: sets gauges from the current state.
type Collector = Box<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;
static COLLECTORS: Mutex<Vec<(&'static str, Collector)>> = Mutex::new(Vec::new());

/// Installs the process's recorder (once; later calls return the same
/// handle) and records `bianmin_build_info`.
pub fn install(service: &'static str) -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full("bianmin_timer_lateness_seconds".into()),
            LATENESS_BUCKETS,
        )?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    let handle = HANDLE.get_or_init(|| handle);
    for (name, kind, help) in NAMES {
        match kind {
            Kind::Counter => metrics::describe_counter!(*name, *help),
            Kind::Gauge => metrics::describe_gauge!(*name, *help),
            Kind::Histogram => metrics::describe_histogram!(*name, metrics::Unit::Seconds, *help),
        }
    }
    metrics::gauge!("bianmin_build_info", "service" => service, "version" => env!("CARGO_PKG_VERSION"))
        .set(1.0);
    metrics::gauge!("bianmin_ready").set(0.0);
    Ok(handle)
}

/// Whether this process has a recorder (its figures are exported).
pub fn installed() -> bool {
    HANDLE.get().is_some()
}

/// Runs `collect` at every scrape, before the figures are rendered. Only
/// kept when a recorder is installed: in-process tests that start several
/// services register nothing.
pub fn on_scrape<F>(name: &'static str, collect: F)
where
    F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
{
    if installed() {
        COLLECTORS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, Box::new(collect)));
    }
}

/// Longest a scrape waits for one collector: Prometheus' default scrape
/// timeout is 10 s; a stuck database must not make the whole scrape fail.
const COLLECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The exposition text: the collectors first, then every figure.
pub async fn render() -> String {
    let Some(handle) = HANDLE.get() else {
        return String::new();
    };
    let runs: Vec<_> = {
        let collectors = COLLECTORS.lock().unwrap_or_else(|e| e.into_inner());
        collectors.iter().map(|(name, c)| (*name, c())).collect()
    };
    let results = futures::future::join_all(runs.into_iter().map(|(name, run)| async move {
        (name, tokio::time::timeout(COLLECT_TIMEOUT, run).await)
    }))
    .await;
    for (name, result) in results {
        let error = match result {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(_) => "timed out".to_string(),
        };
        tracing::debug!(collector = name, error = %error, "metrics collector failed");
        metrics::counter!("bianmin_scrape_collector_errors_total", "collector" => name)
            .increment(1);
    }
    handle.render()
}

/// The admin listener's address: `METRICS_ADDR`, by default the API port
/// plus [`ADMIN_PORT_OFFSET`] on loopback; `off` turns it off.
pub fn admin_addr(env: &mut crate::config::Env, api_port: u16) -> Option<String> {
    let addr = env.string("METRICS_ADDR", &default_addr(api_port));
    (addr != "off").then_some(addr)
}

/// Locally each admin port is the API port plus this: gateway 8080 → 9080,
/// intake 50061 → 51061, review 50062 → 51062. `deploy/services.txt` is
/// checked (tests/src/lib.rs, deploy/lib.sh) so that no admin port lands on
/// another process's API port. In Kubernetes every pod uses 9090.
pub const ADMIN_PORT_OFFSET: u16 = 1000;

pub fn default_addr(api_port: u16) -> String {
    format!("127.0.0.1:{}", api_port.saturating_add(ADMIN_PORT_OFFSET))
}

/// Binds `addr` now (a taken port fails the start, like the API port
/// does) and serves `GET /metrics` there until `shutdown`.
pub async fn serve(addr: &str, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on METRICS_ADDR={addr}: {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "metrics at /metrics");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                render().await,
            )
        }),
    );
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    // Histograms are drained into their buckets on upkeep (and at render);
    // between scrapes this keeps the recorder's buffers small.
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.cancelled() => break,
            }
            if let Some(handle) = HANDLE.get() {
                handle.run_upkeep();
            }
        }
    });
    Ok(())
}

/// Installs the recorder and serves it when `addr` is set: what every
/// binary's `main` calls once, before it serves.
pub async fn start(
    service: &'static str,
    addr: Option<&str>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Some(addr) = addr else {
        return Ok(());
    };
    install(service)?;
    serve(addr, shutdown).await?;
    certificates::watch();
    Ok(())
}

/// Readiness as a figure: set by the start-up sequence.
pub fn set_ready(ready: bool) {
    metrics::gauge!("bianmin_ready").set(if ready { 1.0 } else { 0.0 });
}

/// The database pool's use, read at scrape time, and a trivial query's
/// time through it.
pub fn watch_pool(pool: &sqlx::PgPool) {
    let pool = pool.clone();
    on_scrape("db_pool", move || {
        let pool = pool.clone();
        Box::pin(async move {
            let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
            metrics::gauge!("bianmin_db_pool_connections", "state" => "idle").set(idle);
            metrics::gauge!("bianmin_db_pool_connections", "state" => "in_use").set(size - idle);
            metrics::gauge!("bianmin_db_pool_max_connections")
                .set(pool.options().get_max_connections() as f64);
            let started = std::time::Instant::now();
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
            metrics::gauge!("bianmin_db_ping_duration_seconds")
                .set(started.elapsed().as_secs_f64());
            Ok(())
        })
    });
}

/// Expiry of the TLS material this process was configured with.
pub mod certificates {
    use std::path::PathBuf;
    use std::sync::Mutex;

    /// Certificates to report: a name for the label (`service`,
    /// `service_ca`, `partner_edge`, ...) and the PEM file. Registered by
    /// whoever loads them; read at every scrape, so a certificate renewed
    /// on disk (cert-manager rotates the mounted secret) shows its new
    /// expiry without a restart.
    static FILES: Mutex<Vec<(&'static str, PathBuf)>> = Mutex::new(Vec::new());

    pub fn register(name: &'static str, path: PathBuf) {
        let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
        if !files.iter().any(|(n, _)| *n == name) {
            files.push((name, path));
        }
    }

    pub(super) fn watch() {
        super::on_scrape("certificates", || {
            Box::pin(async {
                let files = FILES.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let mut problems = Vec::new();
                for (name, path) in files {
                    match std::fs::read(&path)
                        .map_err(|e| e.to_string())
                        .and_then(|pem| not_after(&pem))
                    {
                        Ok(at) => metrics::gauge!(
                            "bianmin_certificate_expiry_timestamp_seconds",
                            "certificate" => name
                        )
                        .set(at as f64),
                        Err(e) => problems.push(format!("{name} ({}): {e}", path.display())),
                    }
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("; "))
                }
            })
        });
    }

    /// The earliest end of validity (Unix seconds) of the certificates in
    /// a PEM bundle: a bundle is as good as its first certificate to
    /// expire.
    pub fn not_after(pem: &[u8]) -> Result<i64, String> {
        let mut earliest: Option<i64> = None;
        for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| format!("not PEM: {e}"))?;
            if block.label != "CERTIFICATE" {
                continue;
            }
            let cert = block
                .parse_x509()
                .map_err(|e| format!("not a certificate: {e}"))?;
            let at = cert.validity().not_after.timestamp();
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
        earliest.ok_or_else(|| "no certificate in the file".to_string())
    }
}

/// The label a gRPC method path gets: the path itself when it names a
/// method of the platform's file descriptor set (or health, reflection),
/// else `other`, so a caller sending made-up paths cannot grow the label
/// set.
pub fn grpc_method_label(path: &str) -> &'static str {
    static KNOWN: OnceLock<std::collections::HashMap<String, &'static str>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        use prost::Message as _;
        let mut out = std::collections::HashMap::new();
        for set in [
            bianmin_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
                continue;
            };
            for file in &set.file {
                for s in &file.service {
                    for m in &s.method {
                        let path = format!("/{}.{}/{}", file.package(), s.name(), m.name());
                        let label: &'static str = Box::leak(path.clone().into_boxed_str());
                        out.insert(path, label);
                    }
                }
            }
        }
        out
    });
    if path.starts_with("/grpc.reflection.") {
        return "reflection";
    }
    known.get(path).copied().unwrap_or("other")
}

/// Tower layer around a gRPC server: counts every call by method and
/// status code and observes its latency. Outermost in the server's stack,
/// so calls refused by the authentication layer count too.
///
/// The status code is read from the response head: tonic answers an error
/// as a trailers-only response with `grpc-status` in the headers, and a
/// success with headers that carry none (the `0` comes in the trailers).
/// So a head without `grpc-status` is OK, and the latency is the time to
/// the head, which for unary calls (all of the platform's) is the time to
/// the answer. A streaming call failing mid-stream would count as OK: the
/// platform has none.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = grpc_method_label(request.uri().path());
        let started = std::time::Instant::now();
        let fut = self.inner.call(request);
        Box::pin(async move {
            let response = fut.await;
            let code = match &response {
                Ok(r) => grpc_code_name(
                    r.headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .unwrap_or(0),
                ),
                Err(_) => "INTERNAL",
            };
            metrics::counter!("bianmin_grpc_server_requests_total", "method" => method, "code" => code)
                .increment(1);
            metrics::histogram!("bianmin_grpc_server_request_duration_seconds", "method" => method)
                .record(started.elapsed().as_secs_f64());
            response
        })
    }
}

/// The canonical name of a gRPC status code (`OK`, `NOT_FOUND`, ...): the
/// label value the alert rules match on.
pub fn grpc_code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        for (name, kind, help) in NAMES {
            assert!(name.starts_with("bianmin_"), "{name}");
            assert!(!help.is_empty(), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
            match kind {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Histogram => assert!(name.ends_with("_seconds"), "{name}"),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
        let mut names: Vec<_> = NAMES.iter().map(|(n, _, _)| n).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a name is listed twice");
    }

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(
            grpc_method_label("/grpc.health.v1.Health/Check"),
            "/grpc.health.v1.Health/Check"
        );
        assert_eq!(
            grpc_method_label("/bianmin.review.v1.ReviewService/GetReviewCase"),
            "/bianmin.review.v1.ReviewService/GetReviewCase"
        );
        assert_eq!(
            grpc_method_label("/bianmin.review.v1.ReviewService/Nope"),
            "other"
        );
        assert_eq!(grpc_method_label("/x/y"), "other");
        assert_eq!(
            grpc_method_label("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            "reflection"
        );
    }

    #[test]
    fn status_codes_have_their_canonical_names() {
        assert_eq!(grpc_code_name(0), "OK");
        assert_eq!(grpc_code_name(14), "UNAVAILABLE");
        assert_eq!(grpc_code_name(16), "UNAUTHENTICATED");
        assert_eq!(grpc_code_name(99), "UNKNOWN");
    }

    #[test]
    fn the_default_admin_port_is_the_api_port_plus_1000() {
        assert_eq!(default_addr(50061), "127.0.0.1:51061");
        assert_eq!(default_addr(8080), "127.0.0.1:9080");
        let mut env =
            crate::config::Env::from_map([("METRICS_ADDR".to_string(), "off".to_string())].into());
        assert_eq!(admin_addr(&mut env, 50061), None);
        let mut env = crate::config::Env::from_map(Default::default());
        assert_eq!(
            admin_addr(&mut env, 50062).as_deref(),
            Some("127.0.0.1:51062")
        );
    }

    #[test]
    fn a_bundle_expires_with_its_first_certificate() {
        let (soon, later) = (cert_until(2030, 1, 1), cert_until(2031, 6, 1));
        let bundle = format!("{later}{soon}");
        let at = certificates::not_after(bundle.as_bytes()).unwrap();
        assert_eq!(at, 1_893_456_000, "2030-01-01T00:00:00Z");
        assert!(certificates::not_after(b"no pem here").is_err());
    }

    fn cert_until(year: i32, month: u8, day: u8) -> String {
        let mut params = rcgen::CertificateParams::new(vec!["intake".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(year, month, day);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().pem()
    }
}
