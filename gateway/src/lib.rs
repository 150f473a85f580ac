//! The gateway: REST/JSON over the gRPC services, where traces start.

pub mod auth;
pub mod backends;
pub mod complaint;
pub mod error;
pub mod http_metrics;
pub mod idempotency;
pub mod intake;
pub mod limits;
pub mod openapi;
pub mod partner;
pub mod review;
pub mod routes;
pub mod trace;

use axum::Router;
use axum::routing::get;
use bianmin_common::auth::token::{AuthSettings, Verifier};
use bianmin_common::balance::Balance;
use bianmin_common::calendar::WorkingCalendar;
use bianmin_common::config::Env;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub const DEFAULT_HTTP_PORT: u16 = 8080;

#[derive(Clone, Debug)]
pub struct Settings {
    pub http_addr: String,
    /// Each backend's gRPC URL (`<NAME>_GRPC_URL`), in [`backends::BACKENDS`] order.
    pub backend_urls: Vec<(&'static str, String)>,
    pub calendar_dir: PathBuf,
    /// Deadline of each backend call; passed on downstream.
    pub grpc_timeout: Duration,
    pub max_body_bytes: usize,
    /// Body limit of the material upload route only (MATERIAL_MAX_BYTES,
    /// the same setting intake enforces; default 10 MiB).
    pub material_max_bytes: usize,
    /// Longest time a REST request may take, end to end.
    pub request_timeout: Duration,
    pub shutdown_drain: Duration,
    /// How the channels to the services find their pods.
    pub balance: Balance,
    pub auth: AuthSettings,
    /// The development identity provider's key (PKCS#8 PEM, P-256); unset
    /// means no built-in login (production: the district's IdP).
    pub signing_key_file: Option<PathBuf>,
    pub users_file: PathBuf,
    pub token_ttl: Duration,
    pub rate_per_ip: limits::Rate,
    pub rate_per_principal: limits::Rate,
    /// Per partner agency on the partner edge.
    pub rate_per_partner: limits::Rate,
    /// Login attempts per minute per client address (also the burst).
    pub logins_per_minute: u32,
    /// The partner gRPC edge; `Ok(None)` when off, `Err` when its settings
    /// are incomplete (reported at start).
    pub partner: Result<Option<partner::Settings>, String>,
    /// Public progress look-ups per minute per client address (also the
    /// burst): each is a guess at a number and a phone.
    pub public_lookups_per_minute: u32,
    /// Where `/metrics` is served (`METRICS_ADDR`, default
    /// `127.0.0.1:9080`; `off`: not served).
    pub metrics_addr: Option<String>,
}

impl Settings {
    pub fn read(env: &mut Env) -> Self {
        let signing_key_file = env.optional("AUTH_SIGNING_KEY_FILE").map(PathBuf::from);
        let partner =
            partner::Settings::read(env, signing_key_file.as_ref()).map_err(|e| e.to_string());
        Self {
            partner,
            http_addr: env.string("HTTP_ADDR", &format!("127.0.0.1:{DEFAULT_HTTP_PORT}")),
            backend_urls: backends::urls(env),
            balance: Balance::read(env),
            calendar_dir: env.path("CALENDAR_DIR", "deploy/calendars"),
            grpc_timeout: Duration::from_millis(env.parse("GRPC_TIMEOUT_MS", 10_000)),
            max_body_bytes: env.parse("MAX_BODY_BYTES", 256 * 1024),
            material_max_bytes: env.parse("MATERIAL_MAX_BYTES", 10 * 1024 * 1024),
            request_timeout: Duration::from_millis(env.parse("REQUEST_TIMEOUT_MS", 30_000)),
            shutdown_drain: env.seconds("SHUTDOWN_DRAIN_SECONDS", 0),
            auth: AuthSettings::read(env),
            signing_key_file,
            users_file: env.path("AUTH_USERS_FILE", "deploy/seed/users.json"),
            token_ttl: env.seconds("AUTH_TOKEN_TTL_SECONDS", 900),
            rate_per_ip: limits::Rate {
                per_second: env.parse("RATE_LIMIT_PER_IP", 100),
                burst: env.parse("RATE_LIMIT_PER_IP_BURST", 200),
            },
            rate_per_principal: limits::Rate {
                per_second: env.parse("RATE_LIMIT_PER_PRINCIPAL", 30),
                burst: env.parse("RATE_LIMIT_PER_PRINCIPAL_BURST", 60),
            },
            rate_per_partner: limits::Rate {
                per_second: env.parse("RATE_LIMIT_PER_PARTNER", 20),
                burst: env.parse("RATE_LIMIT_PER_PARTNER_BURST", 40),
            },
            logins_per_minute: env.parse("RATE_LIMIT_LOGINS_PER_MINUTE", 20),
            public_lookups_per_minute: env.parse("RATE_LIMIT_PUBLIC_PER_MINUTE", 30),
            metrics_addr: bianmin_common::metrics::admin_addr(env, DEFAULT_HTTP_PORT),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    /// The channels to the backends; each backend module makes its client
    /// from its own.
    pub channels: backends::Channels,
    /// Cancelled when shutdown begins: `/readyz` answers 503 from then on.
    pub stopping: CancellationToken,
    pub calendar: Arc<WorkingCalendar>,
    pub grpc_timeout: Duration,
    pub verifier: Arc<Verifier>,
    pub idp: auth::idp::SharedIdp,
    pub limits: limits::Limits,
    pub material_max_bytes: usize,
}

impl AppState {
    /// A backend request with the gateway's deadline.
    pub fn grpc_request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.grpc_timeout);
        request
    }

    /// A backend request on behalf of `caller`: their token goes along, and
    /// the service checks it and its permissions itself.
    pub fn grpc_request_as<T>(&self, caller: &auth::Caller, message: T) -> tonic::Request<T> {
        let mut request = self.grpc_request(message);
        bianmin_common::auth::attach_bearer(&mut request, &caller.token);
        request
    }
}

/// The API's routes with their documentation: each backend's (from
/// [`backends::BACKENDS`]) and the gateway's own. `guard` wraps the
/// routes that need a verified token.
fn api(
    layers: &backends::RouteLayers,
    guard: impl FnOnce(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
) -> OpenApiRouter<AppState> {
    let (mut protected, mut public) = (OpenApiRouter::new(), OpenApiRouter::new());
    for backend in backends::BACKENDS {
        let routes = (backend.routes)(layers);
        protected = protected.merge(routes.protected);
        public = public.merge(routes.public);
    }
    let (login_schemas, login_paths, login) = routes!(auth::idp::login);
    let login = (
        login_schemas,
        login_paths,
        login.route_layer(axum::middleware::from_fn_with_state(
            layers.limits.clone(),
            limits::login,
        )),
    );
    // The only routes an anonymous caller reaches (gateway/README.md
    // "Roles and scopes"): the backends' public ones and these.
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(guard(protected))
        .merge(public)
        .routes(login)
        .routes(routes!(auth::idp::jwks))
        .routes(routes!(routes::calendar::add_working_days))
}

/// The probes: documented, not traced.
fn probes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::health::healthz))
        .routes(routes!(routes::health::readyz))
}

/// The OpenAPI document of every route, as `/api/v1/openapi.json` serves
/// it (`bianmin-gateway openapi` prints it).
pub fn document() -> utoipa::openapi::OpenApi {
    let any = limits::Rate {
        per_second: 1,
        burst: 1,
    };
    let layers = backends::RouteLayers {
        limits: limits::Limits::new(any, any, any, 1, 1),
        material_max_bytes: 0,
    };
    let (_, mut document) = api(&layers, |r| r).split_for_parts();
    document.merge(probes().split_for_parts().1);
    openapi::with_edge_answers(document)
}

/// Every route, with the layers of the whole API around them.
pub fn router(state: AppState, max_body_bytes: usize, request_timeout: Duration) -> Router {
    let layers = backends::RouteLayers {
        limits: state.limits.clone(),
        material_max_bytes: state.material_max_bytes,
    };
    // Everything behind `protected` needs a verified token.
    let guard = |protected: OpenApiRouter<AppState>| {
        protected.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
    };
    let (api, mut document) = api(&layers, guard).split_for_parts();
    let (probes, probes_document) = probes().split_for_parts();
    document.merge(probes_document);
    let document = Arc::new(openapi::with_edge_answers(document));
    let api = api
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .route_layer(axum::middleware::from_fn(trace::span));
    Router::new()
        .merge(api)
        .merge(probes)
        // Which route template matched, for the request figures.
        .route_layer(axum::middleware::from_fn(http_metrics::matched))
        .fallback(|| async {
            error::HttpError {
                status: axum::http::StatusCode::NOT_FOUND,
                code: "not_found",
                message: "没有这个接口 (no such endpoint); see /api/v1/openapi.json".into(),
                violations: Vec::new(),
            }
        })
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.limits.clone(),
            limits::per_ip,
        ))
        // Outermost: every request counts, refused or timed out too.
        .layer(axum::middleware::from_fn(http_metrics::track))
        .with_state(state)
}

/// Serves the gateway on `listener` until `shutdown`.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let partner_settings = settings.partner.clone().map_err(anyhow::Error::msg)?;
    let calendar = Arc::new(WorkingCalendar::load_dir(&settings.calendar_dir)?);
    let channels = backends::Channels::connect(&settings.backend_urls, settings.balance)?;
    let idp = match &settings.signing_key_file {
        Some(key) => Some(Arc::new(auth::idp::DevIdp::load(
            key,
            &settings.users_file,
            &settings.auth,
            settings.token_ttl,
        )?)),
        None => None,
    };
    // The dev IdP's own key set, else the configured issuer's: the same
    // verifier either way.
    let verifier = match &idp {
        Some(idp) if settings.auth.jwks_file.is_none() => {
            Verifier::with_key_set(&settings.auth, idp.key_set())
        }
        _ => Verifier::from_settings(&settings.auth)?,
    };
    let limits = limits::Limits::new(
        settings.rate_per_ip,
        settings.rate_per_principal,
        settings.rate_per_partner,
        settings.logins_per_minute,
        settings.public_lookups_per_minute,
    );
    tokio::spawn(limits.clone().prune(shutdown.clone()));
    let state = AppState {
        channels,
        stopping: shutdown.clone(),
        calendar,
        grpc_timeout: settings.grpc_timeout,
        verifier: Arc::new(verifier),
        idp,
        limits,
        material_max_bytes: settings.material_max_bytes,
    };
    // The partner edge shares the intake client (and so the service-to-
    // service TLS settings) and the shutdown signal.
    let edge = match &partner_settings {
        Some(p) => {
            let edge = partner::Edge::load(
                p,
                &settings.auth,
                intake::client(&state),
                state.limits.clone(),
                settings.grpc_timeout,
            )?;
            let listener = TcpListener::bind(&p.addr).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on PARTNER_GRPC_ADDR={}: {e}", p.addr)
            })?;
            let stop = shutdown.clone();
            Some(tokio::spawn(async move {
                let served = edge.serve(listener, stop.clone()).await;
                if let Err(e) = &served {
                    // Not half a gateway: without its edge, stop altogether.
                    tracing::error!(error = %e, "partner edge failed; stopping the gateway");
                    stop.cancel();
                }
                served
            }))
        }
        None => None,
    };
    let app = router(state, settings.max_body_bytes, settings.request_timeout)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tracing::info!(addr = %listener.local_addr()?, "gateway listening");
    let drain = settings.shutdown_drain;
    // TCP_NODELAY on every accepted connection (see common::grpc::serve).
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
    });
    bianmin_common::metrics::set_ready(true);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            bianmin_common::metrics::set_ready(false);
            tokio::time::sleep(drain).await;
        })
        .await?;
    if let Some(edge) = edge {
        edge.await??;
    }
    Ok(())
}
