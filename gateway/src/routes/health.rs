//! Liveness and readiness of the gateway.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
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

async fn serving(channel: tonic::transport::Channel) -> bool {
    let mut client = HealthClient::new(channel);
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    request.set_timeout(std::time::Duration::from_secs(2));
    matches!(client.check(request).await, Ok(r) if r.get_ref().status() == ServingStatus::Serving)
}

/// Readiness: every backend reports SERVING.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = HealthAnswer), (status = 503, body = HealthAnswer)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<HealthAnswer>) {
    let (intake, review) = tokio::join!(
        serving(state.intake_channel.clone()),
        serving(state.review_channel.clone())
    );
    let backends = vec![
        Backend {
            name: "intake",
            serving: intake,
        },
        Backend {
            name: "review",
            serving: review,
        },
    ];
    if intake && review {
        (
            StatusCode::OK,
            Json(HealthAnswer {
                status: "ready",
                backends,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthAnswer {
                status: "not_ready",
                backends,
            }),
        )
    }
}
