//! `/api/v1/applications`: a resident's application and its progress.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppJson, ErrorBody, HttpError};
use crate::idempotency::IdempotencyKey;
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bianmin_proto::intake::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
    /// Urgent cases surface first in review's queue.
    pub urgent: bool,
    /// Required when `urgent`.
    #[schema(example = "照料人突发疾病住院")]
    pub urgent_reason: String,
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
    pub urgent: bool,
    pub urgent_reason: String,
    /// While `awaiting_supplement`: every item review asked for, and why.
    pub missing_items: Vec<String>,
    pub supplement_reason: String,
    pub departments: Vec<String>,
    /// The staff member who received it (window, phone, home_visit, or a
    /// staff-assisted kiosk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
    pub materials: Vec<super::materials::Material>,
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

impl From<pb::TimelineEntry> for TimelineEntry {
    fn from(t: pb::TimelineEntry) -> Self {
        Self {
            kind: t.kind,
            title: t.title,
            detail: t.detail,
            at: t.at,
        }
    }
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
            timeline: a.timeline.into_iter().map(TimelineEntry::from).collect(),
            review: a.review.map(|r| Review {
                case_id: r.case_id,
                stage: r.stage,
                due_date: r.due_date,
            }),
            urgent: a.urgent,
            urgent_reason: a.urgent_reason,
            missing_items: a.missing_items,
            supplement_reason: a.supplement_reason,
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
    IdempotencyKey(idempotency_key): IdempotencyKey,
    AppJson(body): AppJson<NewApplication>,
) -> Result<Response, HttpError> {
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
        urgent: body.urgent,
        urgent_reason: body.urgent_reason,
        departments: body.departments,
    };
    let answer = super::client(&state)
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
    let application = super::client(&state)
        .get_application(state.grpc_request_as(&caller, pb::GetApplicationRequest { id }))
        .await?
        .into_inner();
    Ok(Json(application.into()))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct PurposeQuery {
    /// Why you need the numbers in full (required; written to the access log).
    purpose: String,
}

/// The applicant in full: ID and phone number unmasked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicantInFull {
    pub application_id: String,
    pub application_no: String,
    pub applicant: Applicant,
}

/// The applicant's ID and phone number in full, for the center's
/// supervisors and district admins; every view is written to the access
/// log with its purpose.
#[utoipa::path(get, path = "/api/v1/applications/{id}/applicant", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id (UUID)"), PurposeQuery),
    responses(
        (status = 200, body = ApplicantInFull),
        (status = 400, description = "no purpose given, or the id is not a UUID", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "your role may not see personal data in full", body = ErrorBody),
        (status = 404, description = "no such application, or not one you may see", body = ErrorBody),
    ))]
pub async fn applicant_in_full(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<PurposeQuery>,
) -> Result<Json<ApplicantInFull>, HttpError> {
    let r = super::client(&state)
        .pii_get_applicant(state.grpc_request_as(
            &caller,
            pb::PiiGetApplicantRequest {
                id,
                purpose: q.purpose,
            },
        ))
        .await?
        .into_inner();
    let a = r.applicant.unwrap_or_default();
    Ok(Json(ApplicantInFull {
        application_id: r.application_id,
        application_no: r.application_no,
        applicant: Applicant {
            name: a.name,
            id_number: a.id_number,
            phone: a.phone,
        },
    }))
}

/// An ID number to look up; in the body, so it never lands in a URL or an
/// access log line.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct IdNumberLookup {
    #[schema(example = "11010519491231002X")]
    pub id_number: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationSummary {
    pub id: String,
    pub application_no: String,
    pub center_id: String,
    pub service_type: String,
    pub status: String,
    pub submitted_at: String,
    /// Masked.
    pub applicant: Applicant,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationHistory {
    /// Newest first; only the centers you see.
    pub applications: Vec<ApplicationSummary>,
}

/// A resident's history: their applications found by ID number (exact,
/// through a keyed hash), within your centers; masked. Each look-up is
/// written to the access log.
#[utoipa::path(post, path = "/api/v1/applications/by-id-number", tag = "applications", security(("bearer" = [])),
    request_body = IdNumberLookup,
    responses(
        (status = 200, body = ApplicationHistory),
        (status = 400, description = "malformed ID number", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "your role may not look residents up", body = ErrorBody),
    ))]
pub async fn by_id_number(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AppJson(body): AppJson<IdNumberLookup>,
) -> Result<Json<ApplicationHistory>, HttpError> {
    let r = super::client(&state)
        .pii_find_applications(state.grpc_request_as(
            &caller,
            pb::PiiFindApplicationsRequest {
                id_number: body.id_number,
            },
        ))
        .await?
        .into_inner();
    Ok(Json(ApplicationHistory {
        applications: r
            .applications
            .into_iter()
            .map(|a| {
                let p = a.applicant.unwrap_or_default();
                ApplicationSummary {
                    id: a.id,
                    application_no: a.application_no,
                    center_id: a.center_id,
                    service_type: a.service_type,
                    status: a.status,
                    submitted_at: a.submitted_at,
                    applicant: Applicant {
                        name: p.name,
                        id_number: p.id_number,
                        phone: p.phone,
                    },
                }
            })
            .collect(),
    }))
}

/// The answer to a supplement request (补正).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct SupplementAnswer {
    /// Every item review asked for (as listed in `missing_items`).
    #[schema(example = json!(["户口簿复印件", "收入证明"]))]
    pub supplied_items: Vec<String>,
    #[schema(example = "已补齐，收入证明为街道开具")]
    pub note: String,
}

/// Answer a supplement request: the applicant for their own application,
/// or the center's staff for them. Review resumes the case on the extended
/// limit. A retry of the same answer returns the application unchanged.
#[utoipa::path(post, path = "/api/v1/applications/{id}/supplement", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id (UUID)")),
    request_body = SupplementAnswer,
    responses(
        (status = 200, body = Application),
        (status = 400, description = "items missing, not requested, empty or duplicated", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such application, or not one you may answer for", body = ErrorBody),
        (status = 409, description = "no supplement is awaited", body = ErrorBody),
    ))]
pub async fn supplement(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    AppJson(body): AppJson<SupplementAnswer>,
) -> Result<Json<Application>, HttpError> {
    let application = super::client(&state)
        .supplement_application(state.grpc_request_as(
            &caller,
            pb::SupplementApplicationRequest {
                id,
                supplied_items: body.supplied_items,
                note: body.note,
            },
        ))
        .await?
        .into_inner();
    Ok(Json(application.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct Withdrawal {
    /// Required when staff withdraw for the applicant.
    #[schema(example = "申请人已获得其他渠道救助")]
    pub reason: String,
}

/// Withdraw an application before it is decided: the applicant, or the
/// center's staff on their behalf (with a reason). Review ends the case.
#[utoipa::path(post, path = "/api/v1/applications/{id}/withdraw", tag = "applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "application id (UUID)")),
    request_body = Withdrawal,
    responses(
        (status = 200, body = Application),
        (status = 400, description = "staff gave no reason", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such application, or not one you may withdraw", body = ErrorBody),
        (status = 409, description = "already withdrawn, or already decided", body = ErrorBody),
    ))]
pub async fn withdraw(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    AppJson(body): AppJson<Withdrawal>,
) -> Result<Json<Application>, HttpError> {
    let application = super::client(&state)
        .withdraw_application(state.grpc_request_as(
            &caller,
            pb::WithdrawApplicationRequest {
                id,
                reason: body.reason,
            },
        ))
        .await?
        .into_inner();
    Ok(Json(application.into()))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct PhoneQuery {
    /// The last four digits of the phone number given with the application.
    phone_last4: String,
}

/// What anyone with the application number and the phone's last digits
/// sees: masked, no personal data.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicProgress {
    pub application_no: String,
    pub status: String,
    pub center_id: String,
    pub service_type: String,
    pub submitted_at: String,
    #[schema(example = "张*兰")]
    pub applicant_name: String,
    pub timeline: Vec<TimelineEntry>,
    /// YYYY-MM-DD; empty while suspended or once decided.
    pub expected_date: String,
    /// Working days to the expected date; while suspended, those left once
    /// the clock runs again.
    pub working_days_left: Option<u32>,
    pub suspended: bool,
    pub suspension_reason: String,
    pub missing_items: Vec<String>,
}

/// Follow an application without logging in. A wrong number and a wrong
/// phone answer alike (404). Rate limited per client address, tighter than
/// other routes.
#[utoipa::path(get, path = "/api/v1/public/applications/{application_no}", tag = "applications",
    params(("application_no" = String, Path, description = "e.g. C01-20261124-000001"), PhoneQuery),
    responses(
        (status = 200, body = PublicProgress),
        (status = 400, description = "malformed number or phone digits", body = ErrorBody),
        (status = 404, description = "no application with this number and phone", body = ErrorBody),
        (status = 429, description = "too many look-ups from your address", body = ErrorBody),
    ))]
pub async fn public_progress(
    State(state): State<AppState>,
    Path(application_no): Path<String>,
    Query(q): Query<PhoneQuery>,
) -> Result<Json<PublicProgress>, HttpError> {
    let p = super::client(&state)
        .public_get_progress(state.grpc_request(pb::PublicGetProgressRequest {
            application_no,
            phone_last4: q.phone_last4,
        }))
        .await?
        .into_inner();
    Ok(Json(PublicProgress {
        application_no: p.application_no,
        status: p.status,
        center_id: p.center_id,
        service_type: p.service_type,
        submitted_at: p.submitted_at,
        applicant_name: p.applicant_name,
        timeline: p.timeline.into_iter().map(TimelineEntry::from).collect(),
        expected_date: p.expected_date,
        working_days_left: p.working_days_left,
        suspended: p.suspended,
        suspension_reason: p.suspension_reason,
        missing_items: p.missing_items,
    }))
}
