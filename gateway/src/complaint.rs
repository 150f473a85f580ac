//! The complaint service's REST routes, `/api/v1/complaints`: filing, the
//! list, one complaint with its history, and one route per step. The
//! service's own messages are served as JSON as they are (the proto
//! crate's `rest` feature), so the REST shape cannot drift from the gRPC one.

use crate::AppState;
use crate::auth::Caller;
use crate::backends::{Backend, RouteLayers, Routes};
use crate::error::{AppJson, AppQuery, ErrorBody, HttpError, OptionalJson};
use crate::idempotency::IdempotencyKey;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bianmin_common::propagation::ClientContext;
use bianmin_proto::complaint::v1::complaint_service_client::ComplaintServiceClient;
use bianmin_proto::complaint::v1::{self as pb};
use serde::Deserialize;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// File a complaint: a resident's own (channel web, wechat or app), or one
/// a staff member records on a resident's behalf (window, phone,
/// home_visit; they own it).
///
/// With an `Idempotency-Key` header, a retry with the same key and body
/// returns the first answer (`Idempotent-Replayed: true`); the same key with
/// another body is refused with 409.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints", security(("bearer" = [])),
    request_body = pb::FileComplaintRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    responses(
        (status = 201, description = "filed; the complainant masked", body = pb::Complaint),
        (status = 400, description = "invalid input, with every broken rule", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "your role may not file for this center", body = ErrorBody),
        (status = 409, description = "idempotency key reused with another body", body = ErrorBody),
        (status = 503, description = "the service is unavailable; retry with the same key", body = ErrorBody),
    ))]
pub async fn file(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    AppJson(body): AppJson<pb::FileComplaintRequest>,
) -> Result<Response, HttpError> {
    let message = pb::FileComplaintRequest {
        idempotency_key,
        ..body
    };
    let answer = client(&state)
        .file_complaint(state.grpc_request_as(&caller, message))
        .await?
        .into_inner();
    let complaint = answer.complaint.unwrap_or_default();
    let mut response = (StatusCode::CREATED, Json(&complaint)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/complaints/{}", complaint.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if answer.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct ListQuery {
    /// District admins only: one center (default all).
    center_id: String,
    /// One status, e.g. `owned` (default all).
    status: String,
    /// At most this many (default 200, at most 1000).
    limit: u32,
}

/// Complaints, newest first: staff see their center's, district admins
/// every center's, a resident their own.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = pb::ListComplaintsResponse),
        (status = 400, description = "unknown status", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "your role reads no complaints", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<pb::ListComplaintsResponse>, HttpError> {
    let message = pb::ListComplaintsRequest {
        center_id: q.center_id,
        status: q.status,
        limit: q.limit,
    };
    Ok(Json(
        client(&state)
            .list_complaints(state.grpc_request_as(&caller, message))
            .await?
            .into_inner(),
    ))
}

/// One complaint, masked, with its whole history (who, when, hand-overs
/// from whom to whom and why).
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints", security(("bearer" = [])),
    params(("id" = String, Path, description = "complaint id (UUID)")),
    responses(
        (status = 200, body = pb::Complaint),
        (status = 400, description = "the id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "your role reads no complaints", body = ErrorBody),
        (status = 404, description = "unknown, or not one you may see", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<pb::Complaint>, HttpError> {
    let message = pb::GetComplaintRequest { id };
    Ok(Json(
        client(&state)
            .get_complaint(state.grpc_request_as(&caller, message))
            .await?
            .into_inner(),
    ))
}

/// One route per step, each documented with its own request body.
macro_rules! step_route {
    ($handler:ident, $path:literal, $body:path, $call:ident, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = "complaints", security(("bearer" = [])),
            request_body = $body,
            params(("id" = String, Path, description = "complaint id (UUID)")),
            responses(
                (status = 200, description = "the complaint after the step", body = pb::Complaint),
                (status = 400, description = "invalid input, naming the field and the rule", body = ErrorBody),
                (status = 401, body = ErrorBody),
                (status = 403, description = "not your step (your role, or not the owner or an investigator)", body = ErrorBody),
                (status = 404, description = "unknown complaint, or of another center", body = ErrorBody),
                (status = 409, description = "not in the complaint's status (failed_precondition)", body = ErrorBody),
            ))]
        pub async fn $handler(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            Path(id): Path<String>,
            // A step without fields may be posted with no body at all.
            OptionalJson(body): OptionalJson<$body>,
        ) -> Result<Json<pb::Complaint>, HttpError> {
            let mut message = body;
            message.id = id;
            Ok(Json(
                client(&state)
                    .$call(state.grpc_request_as(&caller, message))
                    .await?
                    .into_inner(),
            ))
        }
    };
}

step_route!(
    take,
    "/api/v1/complaints/{id}/take",
    pb::TakeComplaintRequest,
    take_complaint,
    "首问接单：第一位接单的工作人员负责到底 (take a resident's filing: the first to take it owns it)."
);
step_route!(
    hand_over,
    "/api/v1/complaints/{id}/hand_over",
    pb::HandOverComplaintRequest,
    hand_over_complaint,
    "移交：负责人移交给本中心另一位工作人员，须说明理由；首位负责人仍在记录中 (hand over to another staff member of the center, with a reason; the first owner stays on the record)."
);
step_route!(
    classify,
    "/api/v1/complaints/{id}/classify",
    pb::ClassifyComplaintRequest,
    classify_complaint,
    "定性定级：服务违规或服务质量，一般或重大复杂 (classify: service violation or quality problem, general or major)."
);
step_route!(
    assign_investigators,
    "/api/v1/complaints/{id}/assign_investigators",
    pb::AssignInvestigatorsRequest,
    assign_investigators,
    "指定调查人员：至少两名，不得为被投诉人 (name at least two investigators, neither the staff member complained about)."
);
step_route!(
    record_finding,
    "/api/v1/complaints/{id}/record_finding",
    pb::RecordFindingRequest,
    record_finding,
    "调查结论：属实、部分属实或不属实，及原因 (the finding: substantiated, partly or not, with the cause)."
);
step_route!(
    answer,
    "/api/v1/complaints/{id}/answer",
    pb::AnswerComplaintRequest,
    answer_complaint,
    "答复建议、咨询、求助、表扬 (answer a suggestion, inquiry, request for help or praise)."
);
step_route!(
    close,
    "/api/v1/complaints/{id}/close",
    pb::CloseComplaintRequest,
    close_complaint,
    "结案 (close the complaint)."
);

pub const BACKEND: Backend = Backend {
    name: "complaint",
    default_port: 50063,
    routes,
};

pub type Client = ComplaintServiceClient<InterceptedService<Channel, ClientContext>>;

/// A client of the complaint service carrying the trace context.
pub fn client(state: &AppState) -> Client {
    ComplaintServiceClient::with_interceptor(state.channels.get(BACKEND.name), ClientContext)
}

fn routes(_: &RouteLayers) -> Routes {
    Routes {
        protected: OpenApiRouter::new()
            .routes(routes!(file, list))
            .routes(routes!(get))
            .routes(routes!(take))
            .routes(routes!(hand_over))
            .routes(routes!(classify))
            .routes(routes!(assign_investigators))
            .routes(routes!(record_finding))
            .routes(routes!(answer))
            .routes(routes!(close)),
        public: OpenApiRouter::new(),
    }
}
