//! The gateway: REST/JSON over the gRPC services, where traces start.

pub mod caller;
pub mod error;
pub mod openapi;
pub mod routes;
pub mod trace;

use axum::Router;
use axum::routing::{get, post};
use bianmin_common::calendar::WorkingCalendar;
use bianmin_common::config::Env;
use bianmin_common::propagation::ClientContext;
use bianmin_proto::intake::v1::intake_service_client::IntakeServiceClient;
use bianmin_proto::review::v1::review_service_client::ReviewServiceClient;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use utoipa::OpenApi as _;

pub const DEFAULT_HTTP_PORT: u16 = 8080;

#[derive(Clone, Debug)]
pub struct Settings {
    pub http_addr: String,
    pub intake_url: String,
    pub review_url: String,
    pub calendar_dir: PathBuf,
    /// Deadline of each backend call; passed on downstream.
    pub grpc_timeout: Duration,
    pub max_body_bytes: usize,
    pub shutdown_drain: Duration,
}

impl Settings {
    pub fn read(env: &mut Env) -> Self {
        Self {
            http_addr: env.string("HTTP_ADDR", &format!("127.0.0.1:{DEFAULT_HTTP_PORT}")),
            intake_url: env.string("INTAKE_GRPC_URL", "http://127.0.0.1:50061"),
            review_url: env.string("REVIEW_GRPC_URL", "http://127.0.0.1:50062"),
            calendar_dir: env.path("CALENDAR_DIR", "deploy/calendars"),
            grpc_timeout: Duration::from_millis(env.parse("GRPC_TIMEOUT_MS", 10_000)),
            max_body_bytes: env.parse("MAX_BODY_BYTES", 256 * 1024),
            shutdown_drain: env.seconds("SHUTDOWN_DRAIN_SECONDS", 0),
        }
    }
}

pub type Intake = IntakeServiceClient<InterceptedService<Channel, ClientContext>>;
pub type Review = ReviewServiceClient<InterceptedService<Channel, ClientContext>>;

#[derive(Clone)]
pub struct AppState {
    pub intake: Intake,
    pub review: Review,
    pub intake_channel: Channel,
    pub review_channel: Channel,
    pub calendar: Arc<WorkingCalendar>,
    pub grpc_timeout: Duration,
}

impl AppState {
    /// A backend request with the gateway's deadline.
    pub fn grpc_request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.grpc_timeout);
        request
    }
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/api/v1/applications", post(routes::applications::submit))
        .route("/api/v1/applications/{id}", get(routes::applications::get))
        .route("/api/v1/centers", get(routes::catalog::centers))
        .route("/api/v1/catalog/services", get(routes::catalog::services))
        .route("/api/v1/reviews", get(routes::reviews::list))
        .route("/api/v1/reviews/measures", get(routes::reviews::measures))
        .route("/api/v1/reviews/{id}", get(routes::reviews::get))
        .route("/api/v1/reviews/{id}/{action}", post(routes::reviews::act))
        .route("/api/v1/calendar/add-working-days", get(routes::calendar::add_working_days))
        .route("/api/v1/openapi.json", get(|| async { axum::Json(openapi::ApiDoc::openapi()) }))
        .route_layer(axum::middleware::from_fn(trace::span));
    Router::new()
        .merge(api)
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .fallback(|| async {
            error::HttpError {
                status: axum::http::StatusCode::NOT_FOUND,
                code: "not_found",
                message: "没有这个接口 (no such endpoint); see /api/v1/openapi.json".into(),
                violations: Vec::new(),
            }
        })
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn run(settings: Settings, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let calendar = Arc::new(WorkingCalendar::load_dir(&settings.calendar_dir)?);
    let intake_channel = bianmin_common::grpc::channel(&settings.intake_url)?;
    let review_channel = bianmin_common::grpc::channel(&settings.review_url)?;
    let state = AppState {
        intake: IntakeServiceClient::with_interceptor(intake_channel.clone(), ClientContext),
        review: ReviewServiceClient::with_interceptor(review_channel.clone(), ClientContext),
        intake_channel,
        review_channel,
        calendar,
        grpc_timeout: settings.grpc_timeout,
    };
    let app = router(state, settings.max_body_bytes);
    tracing::info!(addr = %listener.local_addr()?, "gateway listening");
    let drain = settings.shutdown_drain;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            tokio::time::sleep(drain).await;
        })
        .await?;
    Ok(())
}
