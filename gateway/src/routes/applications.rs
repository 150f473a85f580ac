//! `/api/v1/applications`: a resident's application and its progress.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppJson, ErrorBody, HttpError};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bianmin_proto::intake::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new application. Every field is checked and every problem reported.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewApplication {
    /// Center code, e.g. `C01` (see `GET /api/v1/centers`).
    #[schema(example = "C01")]
    pub center_id: String,
    /// Service type code (see `GET /api/v1/catalog/services`).
    #[schema(example = "elderly-care-subsidy")]
    pub service_type: String,
    /// web, wechat, app, window, kiosk, phone, home_visit or egov.
    #[schema(example = "window")]
    pub channel: String,
    pub applicant: NewApplicant,
    #[schema(example = "独居老人，申请居家养老服务补贴")]
    pub reason: String,
    /// Departments involved (一窗受理), codes from
    /// `GET /api/v1/catalog/services` (`departments`).
    #[schema(example = json!(["civil_affairs", "health"]))]
    pub departments: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewApplicant {
    #[schema(example = "张秀兰")]
    pub name: String,
    /// 18-character resident ID number (GB 11643).
    #[schema(example = "11010519491231002X")]
    pub id_number: String,
    #[schema(example = "13812345678")]
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Application {
    pub id: String,
    /// The number a resident quotes, e.g. `C01-20261123-000042`.
    pub application_no: String,
    /// submitted, in_review, ...
    pub status: String,
    pub center_id: String,
    pub service_type: String,
    pub channel: String,
    pub applicant: Applicant,
    pub reason: String,
    pub submitted_at: String,
    /// Oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// Present once review has opened the case.
    pub review: Option<Review>,
    pub departments: Vec<String>,
    /// The staff member who received it (window, phone, home_visit, or a
    /// staff-assisted kiosk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
    pub materials: Vec<crate::routes::materials::Material>,
    /// The checklist it was submitted under, each item with whether an
    /// upload satisfies it.
    pub checklist: Vec<ChecklistStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistStatus {
    pub code: String,
    pub name: String,
    /// basic_info, needs_form or proof.
    pub group: String,
    pub required: bool,
    pub satisfied: bool,
}

/// Masked: ID and phone numbers are never shown in full here.
#[derive(Debug, Serialize, ToSchema)]
pub struct Applicant {
    pub name: String,
    #[schema(example = "110105********002X")]
    pub id_number: String,
    #[schema(example = "138****5678")]
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Review {
    pub case_id: String,
    #[schema(example = "preliminary_review")]
    pub stage: String,
    /// YYYY-MM-DD, counted in working days.
    #[schema(example = "2026-11-30")]
    pub due_date: String,
}

impl From<pb::Application> for Application {
    fn from(a: pb::Application) -> Self {
        let applicant = a.applicant.unwrap_or_default();
        Self {
            id: a.id,
            application_no: a.application_no,
            status: a.status,
            center_id: a.center_id,
            service_type: a.service_type,
            channel: a.channel,
            applicant: Applicant {
                name: applicant.name,
                id_number: applicant.id_number,
                phone: applicant.phone,
            },
            reason: a.reason,
            submitted_at: a.submitted_at,
            timeline: a
                .timeline
                .into_iter()
                .map(|t| TimelineEntry {
                    kind: t.kind,
                    title: t.title,
                    detail: t.detail,
                    at: t.at,
                })
                .collect(),
            review: a.review.map(|r| Review {
                case_id: r.case_id,
                stage: r.stage,
                due_date: r.due_date,
            }),
            departments: a.departments,
            received_by: Some(a.received_by).filter(|r| !r.is_empty()),
            materials: a.materials.into_iter().map(Into::into).collect(),
            checklist: a
                .checklist
                .into_iter()
                .map(|c| ChecklistStatus {
                    code: c.code,
                    name: c.name,
                    group: c.group,
                    required: c.required,
                    satisfied: c.satisfied,
                })
                .collect(),
        }
    }
}

/// Submit an application.
///
/// With an `Idempotency-Key` header, a retry with the same key and body
/// returns the first answer (`Idempotent-Replayed: true`); the same key with
/// another body is refused with 409.
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", security(("bearer" = [])),
    request_body = NewApplication,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    responses(
        (status = 201, description = "created", body = Application),
        (status = 400, description = "invalid input, with every broken rule", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "your role may not submit for this center", body = ErrorBody),
        (status = 409, description = "idempotency key reused with another body", body = ErrorBody),
        (status = 429, description = "rate limit", body = ErrorBody),
        (status = 503, description = "a backend is unavailable; retry with the same key", body = ErrorBody),
    ))]
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    AppJson(body): AppJson<NewApplication>,
) -> Result<Response, HttpError> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => String::new(),
        Some(v) => v
            .to_str()
            .map_err(|_| {
                HttpError::invalid(
                    "Idempotency-Key",
                    "idempotency_key_format",
                    "幂等键须为可见 ASCII 字符 (printable ASCII)",
                )
            })?
            .to_string(),
    };
    let request = pb::SubmitApplicationRequest {
        center_id: body.center_id,
        service_type: body.service_type,
        channel: body.channel,
        applicant: Some(pb::Applicant {
            name: body.applicant.name,
            id_number: body.applicant.id_number,
            phone: body.applicant.phone,
        }),
        reason: body.reason,
        idempotency_key,
        departments: body.departments,
    };
    let answer = state
        .intake
        .clone()
        .submit_application(state.grpc_request_as(&caller, request))
        .await?
        .into_inner();
    let application: Application = answer.application.unwrap_or_default().into();
    let mut response = (StatusCode::CREATED, Json(&application)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/applications/{}", application.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if answer.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One application with its timeline and review stage.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id (UUID)")),
    responses(
        (status = 200, body = Application),
        (status = 400, description = "the id is not a UUID", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such application, or not one you may see", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Application>, HttpError> {
    let application = state
        .intake
        .clone()
        .get_application(state.grpc_request_as(&caller, pb::GetApplicationRequest { id }))
        .await?
        .into_inner();
    Ok(Json(application.into()))
}
