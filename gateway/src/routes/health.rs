//! Liveness and readiness of the gateway.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthAnswer {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<Backend>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Backend {
    pub name: &'static str,
    pub serving: bool,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = HealthAnswer)))]
pub async fn healthz() -> Json<HealthAnswer> {
    Json(HealthAnswer {
        status: "ok",
        backends: Vec::new(),
    })
}

/// Readiness of the gateway itself: ready until shutdown begins, then
/// 503 while it drains, so the load balancer takes it out first. The
/// backends are reported in the body (`serving` each) but do not decide:
/// one backend's outage must not take every gateway pod out of its Service,
/// when the other backends' routes still work.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = HealthAnswer), (status = 503, description = "shutting down", body = HealthAnswer)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<HealthAnswer>) {
    let backends = state
        .channels
        .serving()
        .await
        .into_iter()
        .map(|(name, serving)| Backend { name, serving })
        .collect();
    if state.stopping.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthAnswer {
                status: "stopping",
                backends,
            }),
        );
    }
    (
        StatusCode::OK,
        Json(HealthAnswer {
            status: "ready",
            backends,
        }),
    )
}
