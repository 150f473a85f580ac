//! Review's REST routes, `/api/v1/reviews`: the staff queue, one case with
//! its history, one route per lifecycle action, and the measures. Review's
//! own messages are served as JSON as they are (the proto crate's `rest`
//! feature), so the REST shape cannot drift from the gRPC one.

use crate::AppState;
use crate::auth::Caller;
use crate::backends::{Backend, RouteLayers, Routes};
use crate::error::{AppQuery, ErrorBody, HttpError, OptionalJson};
use crate::idempotency::IdempotencyKey;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use bianmin_common::propagation::ClientContext;
use bianmin_proto::review::v1::review_service_client::ReviewServiceClient;
use bianmin_proto::review::v1::{self as pb, act_on_review_case_request::Action};
use serde::Deserialize;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A backend request carrying the caller's token and the gateway's deadline.
fn request<T>(
    state: &AppState,
    caller: &Caller,
    message: T,
) -> Result<tonic::Request<T>, HttpError> {
    Ok(state.grpc_request_as(caller, message))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct QueueQuery {
    /// Service type code.
    service_type: String,
    /// One stage, e.g. `preliminary_review`.
    stage: String,
    /// Staff subject the case is assigned to.
    assignee: String,
    /// District admins only: one center (default all).
    center_id: String,
    /// At most this many cases (default 200, at most 1000).
    limit: u32,
}

/// The staff queue: my center's open cases, urgent first, then by due date;
/// overdue flagged; with counts per stage.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews", security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, body = pb::ListReviewCasesResponse),
        (status = 400, description = "unknown stage", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AppQuery(q): AppQuery<QueueQuery>,
) -> Result<Json<pb::ListReviewCasesResponse>, HttpError> {
    let message = pb::ListReviewCasesRequest {
        service_type: q.service_type,
        stage: q.stage,
        assignee: q.assignee,
        center_id: q.center_id,
        limit: q.limit,
    };
    Ok(Json(
        client(&state)
            .list_review_cases(request(&state, &caller, message)?)
            .await?
            .into_inner(),
    ))
}

/// One case: stage, every due date, the overdue flag, and the history of
/// every transition (who, when, why).
#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "review case id (UUID)")),
    responses(
        (status = 200, body = pb::ReviewCase),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "unknown, or of another center", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<pb::ReviewCase>, HttpError> {
    let message = pb::GetReviewCaseRequest {
        by: Some(pb::get_review_case_request::By::CaseId(id)),
    };
    Ok(Json(
        client(&state)
            .get_review_case(request(&state, &caller, message)?)
            .await?
            .into_inner(),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct MeasuresQuery {
    /// District admins only: one center (default all).
    center_id: String,
}

/// On-time rate per center and service type, average working days to
/// decision, overdue counts and breaches.
#[utoipa::path(get, path = "/api/v1/reviews/measures", tag = "reviews", security(("bearer" = [])),
    params(MeasuresQuery),
    responses((status = 200, body = pb::ReviewMeasures), (status = 401, body = ErrorBody)))]
pub async fn measures(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AppQuery(q): AppQuery<MeasuresQuery>,
) -> Result<Json<pb::ReviewMeasures>, HttpError> {
    let message = pb::GetReviewMeasuresRequest {
        center_id: q.center_id,
    };
    Ok(Json(
        client(&state)
            .get_review_measures(request(&state, &caller, message)?)
            .await?
            .into_inner(),
    ))
}

/// Sends one lifecycle action to review and answers the case after it. A
/// wrong role answers 403, an action the stage does not allow 409, bad
/// input 400 naming the field. With an `Idempotency-Key`, a retry answers
/// the case as it is (`Idempotent-Replayed: true`) without acting twice.
async fn act(
    state: &AppState,
    caller: &Caller,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    case_id: String,
    action: Action,
) -> Result<Response, HttpError> {
    let message = pb::ActOnReviewCaseRequest {
        case_id,
        idempotency_key,
        action: Some(action),
    };
    let answer = client(state)
        .act_on_review_case(request(state, caller, message)?)
        .await?
        .into_inner();
    let mut response = Json(answer.review_case.unwrap_or_default()).into_response();
    if answer.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One route per lifecycle action, each documented with its own request
/// body, so the OpenAPI document tells a client (or a generated client, or
/// a fuzzer) what each action takes.
macro_rules! action_route {
    ($handler:ident, $path:literal, $body:ty, $wrap:expr, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = "reviews", security(("bearer" = [])),
            request_body = $body,
            params(
                ("id" = String, Path, description = "review case id (UUID)"),
                ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe"),
            ),
            responses(
                (status = 200, description = "the case after the action", body = pb::ReviewCase),
                (status = 400, description = "invalid input, naming the field", body = ErrorBody),
                (status = 401, body = ErrorBody),
                (status = 403, description = "the caller's role may not take this action", body = ErrorBody),
                (status = 404, description = "unknown case, or of another center", body = ErrorBody),
                (status = 409, description = "illegal in the case's stage (failed_precondition)", body = ErrorBody),
            ))]
        pub async fn $handler(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            key: IdempotencyKey,
            Path(id): Path<String>,
            // An action without fields may be posted with no body at all.
            OptionalJson(body): OptionalJson<$body>,
        ) -> Result<Response, HttpError> {
            act(&state, &caller, key, id, $wrap(body)).await
        }
    };
}

action_route!(
    accept,
    "/api/v1/reviews/{id}/accept",
    pb::Accept,
    Action::Accept,
    "受理：初审通过，决定时限开始计算 (accept: preliminary review passed; the decision clock starts)."
);
action_route!(
    request_supplement,
    "/api/v1/reviews/{id}/request_supplement",
    pb::RequestSupplement,
    Action::RequestSupplement,
    "一次性告知补正：列出全部缺少的材料，计时中止 (request a supplement: every missing item at once; the clock is suspended)."
);
action_route!(
    resume,
    "/api/v1/reviews/{id}/resume",
    pb::Resume,
    Action::Resume,
    "补正材料已收到，恢复计时 (the supplement arrived; the clock runs again)."
);
action_route!(
    extend,
    "/api/v1/reviews/{id}/extend",
    pb::Extend,
    Action::Extend,
    "延长时限：政策内由经办人，超出政策须主管并给出新日期 (extend: within the policy; beyond it a supervisor names the new date)."
);
action_route!(
    start_joint_review,
    "/api/v1/reviews/{id}/start_joint_review",
    pb::StartJointReview,
    Action::StartJointReview,
    "发起联合审核，列出会签部门 (start a joint review with the departments that sign off)."
);
action_route!(
    sign_off,
    "/api/v1/reviews/{id}/sign_off",
    pb::SignOffJoint,
    Action::SignOff,
    "部门会签：同意或不同意并给出理由 (a department signs off: approves, or rejects with reasons)."
);
action_route!(
    decide,
    "/api/v1/reviews/{id}/decide",
    pb::Decide,
    Action::Decide,
    "决定：批准，或不予批准并从理由清单中给出理由 (decide: approve, or reject with reasons from the list)."
);
action_route!(
    plan,
    "/api/v1/reviews/{id}/plan",
    pb::ServicePlan,
    (|plan| Action::Plan(pb::PlanService { plan: Some(plan) })),
    "制定服务计划，请求体即计划本身 (plan the service; the body is the plan itself)."
);
action_route!(
    complete_task,
    "/api/v1/reviews/{id}/complete_task",
    pb::CompleteTask,
    Action::CompleteTask,
    "完成服务任务并记入服务台账 (complete a task; it goes into the service ledger)."
);
action_route!(
    record_feedback,
    "/api/v1/reviews/{id}/record_feedback",
    pb::RecordFeedback,
    Action::RecordFeedback,
    "记录服务对象的反馈 (record the resident's feedback)."
);
action_route!(
    check_acceptance,
    "/api/v1/reviews/{id}/check_acceptance",
    pb::CheckAcceptance,
    Action::CheckAcceptance,
    "验收：通过或退回执行 (acceptance check: passed, or back to execution)."
);
action_route!(
    close,
    "/api/v1/reviews/{id}/close",
    pb::Close,
    Action::Close,
    "结案 (close the case)."
);
action_route!(
    assign,
    "/api/v1/reviews/{id}/assign",
    pb::Assign,
    Action::Assign,
    "指派经办人 (assign the case to a staff member)."
);

pub const BACKEND: Backend = Backend {
    name: "review",
    default_port: 50062,
    routes,
};

pub type Client = ReviewServiceClient<InterceptedService<Channel, ClientContext>>;

/// A client of review carrying the trace context.
pub fn client(state: &AppState) -> Client {
    ReviewServiceClient::with_interceptor(state.channels.get(BACKEND.name), ClientContext)
}

fn routes(_: &RouteLayers) -> Routes {
    Routes {
        protected: OpenApiRouter::new()
            .routes(routes!(list))
            .routes(routes!(measures))
            .routes(routes!(get))
            .routes(routes!(accept))
            .routes(routes!(request_supplement))
            .routes(routes!(resume))
            .routes(routes!(extend))
            .routes(routes!(start_joint_review))
            .routes(routes!(sign_off))
            .routes(routes!(decide))
            .routes(routes!(plan))
            .routes(routes!(complete_task))
            .routes(routes!(record_feedback))
            .routes(routes!(check_acceptance))
            .routes(routes!(close))
            .routes(routes!(assign)),
        public: OpenApiRouter::new(),
    }
}
