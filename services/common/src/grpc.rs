//! gRPC server bootstrap: health, reflection, trace context, deadlines and
//! a graceful, draining shutdown, the same for every service.

use crate::balance::Balance;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// State a gRPC service needs, filled in once the database, migrations and
/// streams are ready. Until then every call answers UNAVAILABLE, and health
/// says NOT_SERVING, so nothing is served half-started.
pub struct Ready<T>(Arc<OnceLock<T>>);

impl<T> Clone for Ready<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for Ready<T> {
    fn default() -> Self {
        Self(Arc::new(OnceLock::new()))
    }
}

impl<T> Ready<T> {
    pub fn get(&self) -> Result<&T, tonic::Status> {
        self.0.get().ok_or_else(|| {
            tonic::Status::unavailable("服务正在启动，请稍后重试 (service is starting)")
        })
    }

    pub fn set(&self, value: T) {
        if self.0.set(value).is_err() {
            tracing::warn!("service state was set twice; keeping the first");
        }
    }
}

/// Health: NOT_SERVING until [`Health::serving`], back to NOT_SERVING when
/// shutdown starts.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    names: Vec<&'static str>,
    /// The health service alone, for the plaintext probe port when
    /// service mTLS is on (see [`crate::mtls`]).
    probe_routes: Arc<dyn Fn() -> tonic::service::Routes + Send + Sync>,
}

impl Health {
    pub async fn set(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for name in &self.names {
            self.reporter.set_service_status(*name, status).await;
        }
    }
    pub async fn serving(&self) {
        self.set(ServingStatus::Serving).await;
    }
}

fn request_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    // Probes would otherwise fill the trace store.
    if path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.") {
        return tracing::Span::none();
    }
    let span = tracing::info_span!("grpc.server", otel.name = %path, rpc.system = "grpc", otel.kind = "server");
    crate::propagation::set_parent_from_http(&span, request.headers());
    span
}

/// Builds the health service for the named gRPC services (their full names,
/// e.g. `bianmin.intake.v1.IntakeService`), all starting NOT_SERVING.
pub async fn health(
    names: &[&'static str],
) -> (
    Health,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, service) = tonic_health::server::health_reporter();
    let probe = service.clone();
    let health = Health {
        reporter,
        names: names.to_vec(),
        probe_routes: Arc::new(move || tonic::service::Routes::new(probe.clone())),
    };
    health.set(ServingStatus::NotServing).await;
    (health, service)
}

/// Serves `routes` (plus reflection) on `listener` until `shutdown`; then
/// flips health to NOT_SERVING, keeps answering for `drain`, and finishes
/// the calls in flight before returning.
pub async fn serve(
    listener: TcpListener,
    policy: &'static crate::auth::policy::Policy,
    routes: tonic::service::Routes,
    health: Health,
    shutdown: CancellationToken,
    drain: Duration,
) -> anyhow::Result<()> {
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(bianmin_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let routes = routes.add_service(reflection);
    let mtls = crate::mtls::get();
    if let Some(addr) = mtls.and_then(|m| m.health_addr.clone()) {
        let probe = TcpListener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on GRPC_HEALTH_ADDR={addr}: {e}"))?;
        let (routes, stop) = ((health.probe_routes)(), shutdown.clone());
        tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_routes(routes)
                .serve_with_incoming_shutdown(TcpIncoming::from(probe), stop.cancelled())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "health probe listener failed");
            }
        });
    }
    let stopping = async move {
        shutdown.cancelled().await;
        health.set(ServingStatus::NotServing).await;
        crate::metrics::set_ready(false);
        if !drain.is_zero() {
            tracing::info!(drain_seconds = drain.as_secs(), "draining before stop");
            tokio::time::sleep(drain).await;
        }
    };
    // TCP_NODELAY: without it, Nagle's algorithm and delayed ACKs add about
    // 40 ms to small request/response exchanges (measured: p50 47 ms -> see
    // BENCHMARKS.md).
    let mut server = tonic::transport::Server::builder();
    if let Some(mtls) = mtls {
        // A caller without a certificate from the service CA never gets
        // as far as presenting a token.
        server = server.tls_config(mtls.server.clone())?;
    }
    server
        // Outermost (tonic applies the first layer added outside the
        // others): calls refused by authentication are counted too.
        .layer(crate::metrics::GrpcMetricsLayer)
        .layer(crate::deadline::DeadlineLayer)
        // Every call proves who makes it before a handler runs.
        .layer(crate::auth::layer::AuthLayer { policy })
        .trace_fn(request_span)
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopping,
        )
        .await?;
    Ok(())
}

/// A client channel to another service. Connects lazily, so a service that
/// starts before its peer does not fail; calls fail UNAVAILABLE meanwhile.
/// With [`Balance::Dns`] calls spread over every pod behind the URL's host.
/// With service mTLS on ([`crate::mtls`]), the channel presents this
/// process's certificate and checks the peer's against the service CA.
pub fn channel(url: &str, balance: Balance) -> anyhow::Result<tonic::transport::Channel> {
    let mtls = crate::mtls::get();
    let url = crate::mtls::upgrade_url(url, mtls.is_some());
    // Balanced endpoints are addressed by IP; the certificate names the
    // host the URL gave.
    let host = url
        .parse::<http::Uri>()?
        .host()
        .map(|h| h.trim_matches(['[', ']']).to_string())
        .unwrap_or_default();
    let endpoint = move |peer: &str| {
        let mut endpoint = tonic::transport::Endpoint::from_shared(peer.to_string())?;
        if let Some(mtls) = mtls {
            endpoint = endpoint.tls_config(mtls.client.clone().domain_name(host.clone()))?;
        }
        Ok(endpoint
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30)))
    };
    match balance {
        Balance::Single => Ok(endpoint(&url)?.connect_lazy()),
        Balance::Dns { refresh } => crate::balance::dns_channel(&url, refresh, endpoint),
    }
}

/// The method paths (`/package.Service/Method`) of gRPC service `service`
/// (its full name) in an encoded file descriptor set: what a service's
/// policy test checks its table against.
pub fn methods_of(file_descriptor_set: &[u8], service: &str) -> Vec<String> {
    use prost::Message as _;
    let Ok(set) = prost_types::FileDescriptorSet::decode(file_descriptor_set) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for file in &set.file {
        for s in &file.service {
            let full = format!("{}.{}", file.package(), s.name());
            if full == service {
                out.extend(s.method.iter().map(|m| format!("/{full}/{}", m.name())));
            }
        }
    }
    out
}
