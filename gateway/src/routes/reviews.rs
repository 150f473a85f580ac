//! `/api/v1/reviews`: the staff queue, one case with its history, the
//! lifecycle actions, and the measures. Review's own messages are served as
//! JSON as they are (the proto crate's `rest` feature), so the REST shape
//! cannot drift from the gRPC one.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ErrorBody, HttpError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bianmin_proto::review::v1::{self as pb, act_on_review_case_request::Action};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

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
#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews",
    params(QueueQuery),
    responses(
        (status = 200, body = pb::ListReviewCasesResponse),
        (status = 400, description = "unknown stage", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<pb::ListReviewCasesResponse>, HttpError> {
    let message = pb::ListReviewCasesRequest {
        service_type: q.service_type,
        stage: q.stage,
        assignee: q.assignee,
        center_id: q.center_id,
        limit: q.limit,
    };
    Ok(Json(
        state
            .review
            .clone()
            .list_review_cases(request(&state, &caller, message)?)
            .await?
            .into_inner(),
    ))
}

/// One case: stage, every due date, the overdue flag, and the history of
/// every transition (who, when, why).
#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews",
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
        state
            .review
            .clone()
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
#[utoipa::path(get, path = "/api/v1/reviews/measures", tag = "reviews",
    params(MeasuresQuery),
    responses((status = 200, body = pb::ReviewMeasures), (status = 401, body = ErrorBody)))]
pub async fn measures(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<MeasuresQuery>,
) -> Result<Json<pb::ReviewMeasures>, HttpError> {
    let message = pb::GetReviewMeasuresRequest {
        center_id: q.center_id,
    };
    Ok(Json(
        state
            .review
            .clone()
            .get_review_measures(request(&state, &caller, message)?)
            .await?
            .into_inner(),
    ))
}

/// The body of each action, by the action in the path (documentation only:
/// the path says which one it is).
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ActionBody {
    Accept(pb::Accept),
    RequestSupplement(pb::RequestSupplement),
    Resume(pb::Resume),
    Extend(pb::Extend),
    StartJointReview(pb::StartJointReview),
    SignOff(pb::SignOffJoint),
    Decide(pb::Decide),
    Plan(pb::PlanService),
    CompleteTask(pb::CompleteTask),
    RecordFeedback(pb::RecordFeedback),
    CheckAcceptance(pb::CheckAcceptance),
    Close(pb::Close),
    Assign(pb::Assign),
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, HttpError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| HttpError::invalid("body", "json", format!("请求体不是有效的 JSON ({e})")))
}

/// The wire action named by the path, with its body.
fn action(name: &str, body: &[u8]) -> Result<Action, HttpError> {
    Ok(match name {
        "accept" => Action::Accept(parse(body)?),
        "request_supplement" => Action::RequestSupplement(parse(body)?),
        "resume" => Action::Resume(parse(body)?),
        "extend" => Action::Extend(parse(body)?),
        "start_joint_review" => Action::StartJointReview(parse(body)?),
        "sign_off" => Action::SignOff(parse(body)?),
        "decide" => Action::Decide(parse(body)?),
        "plan" => Action::Plan(pb::PlanService {
            plan: Some(parse(body)?),
        }),
        "complete_task" => Action::CompleteTask(parse(body)?),
        "record_feedback" => Action::RecordFeedback(parse(body)?),
        "check_acceptance" => Action::CheckAcceptance(parse(body)?),
        "close" => Action::Close(parse(body)?),
        "assign" => Action::Assign(parse(body)?),
        other => {
            return Err(HttpError {
                status: axum::http::StatusCode::NOT_FOUND,
                code: "not_found",
                message: format!("没有这个操作 {other} (no such action); see /api/v1/openapi.json"),
                violations: Vec::new(),
            });
        }
    })
}

/// Moves a case along its lifecycle. The action is the last path segment:
/// `accept`, `request_supplement`, `resume`, `extend`, `start_joint_review`,
/// `sign_off`, `decide`, `plan` (body: the plan itself), `complete_task`,
/// `record_feedback`, `check_acceptance`, `close`, `assign`. A wrong role
/// answers 403, an action the stage does not allow 409, bad input 400
/// naming the field. With an `Idempotency-Key`, a retry answers the case as
/// it is (`Idempotent-Replayed: true`) without acting twice.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/{action}", tag = "reviews",
    request_body = ActionBody,
    params(
        ("id" = String, Path, description = "review case id (UUID)"),
        ("action" = String, Path, description = "accept | request_supplement | resume | extend | start_joint_review | sign_off | decide | plan | complete_task | record_feedback | check_acceptance | close | assign"),
        ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe"),
    ),
    responses(
        (status = 200, description = "the case after the action", body = pb::ReviewCase),
        (status = 400, description = "invalid input, naming the field", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "the caller's role may not take this action", body = ErrorBody),
        (status = 404, description = "unknown case (or of another center), or unknown action", body = ErrorBody),
        (status = 409, description = "illegal in the case's stage (failed_precondition)", body = ErrorBody),
    ))]
pub async fn act(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HttpError> {
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| {
            HttpError::invalid(
                "Idempotency-Key",
                "idempotency_key_format",
                "幂等键须为可见 ASCII 字符 (printable ASCII)",
            )
        })?
        .unwrap_or_default();
    let message = pb::ActOnReviewCaseRequest {
        case_id: id,
        idempotency_key,
        action: Some(action(&name, &body)?),
    };
    let answer = state
        .review
        .clone()
        .act_on_review_case(request(&state, &caller, message)?)
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
