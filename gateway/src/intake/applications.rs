//! `/api/v1/applications`: a resident's application and its progress.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppJson, AppQuery, ErrorBody, HttpError};
use crate::idempotency::IdempotencyKey;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bianmin_proto::intake::v1 as pb;
use serde::Deserialize;
use utoipa::IntoParams;

/// A new application: intake's `SubmitApplicationRequest` as JSON (the
/// idempotency key travels in the header). Every field is checked and every
/// problem reported.
pub type NewApplication = pb::SubmitApplicationRequest;
/// An application as intake answers it: masked, with its timeline.
pub type Application = pb::Application;

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
        idempotency_key,
        ..body
    };
    let answer = super::client(&state)
        .submit_application(state.grpc_request_as(&caller, request))
        .await?
        .into_inner();
    let application: Application = answer.application.unwrap_or_default();
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
    Ok(Json(application))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct PurposeQuery {
    /// Why you need the numbers in full (required; written to the access log).
    purpose: String,
}

/// The applicant in full: ID and phone number unmasked.
pub type ApplicantInFull = pb::PiiGetApplicantResponse;

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
    AppQuery(q): AppQuery<PurposeQuery>,
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
    Ok(Json(r))
}

/// An ID number to look up; in the body, so it never lands in a URL or an
/// access log line.
pub type IdNumberLookup = pb::PiiFindApplicationsRequest;
/// The applications found, newest first, masked.
pub type ApplicationHistory = pb::PiiFindApplicationsResponse;

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
        .pii_find_applications(state.grpc_request_as(&caller, body))
        .await?
        .into_inner();
    Ok(Json(r))
}

/// The answer to a supplement request (补正): every item review asked for
/// (as listed in `missing_items`), and a note.
pub type SupplementAnswer = pb::SupplementApplicationRequest;

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
        .supplement_application(
            state.grpc_request_as(&caller, pb::SupplementApplicationRequest { id, ..body }),
        )
        .await?
        .into_inner();
    Ok(Json(application))
}

/// Why the application is withdrawn (required when staff withdraw for the
/// applicant).
pub type Withdrawal = pb::WithdrawApplicationRequest;

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
        .withdraw_application(
            state.grpc_request_as(&caller, pb::WithdrawApplicationRequest { id, ..body }),
        )
        .await?
        .into_inner();
    Ok(Json(application))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
pub struct PhoneQuery {
    /// The last four digits of the phone number given with the application.
    phone_last4: String,
}

/// What anyone with the application number and the phone's last digits
/// sees: masked, no personal data.
pub type PublicProgress = pb::PublicProgress;

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
    AppQuery(q): AppQuery<PhoneQuery>,
) -> Result<Json<PublicProgress>, HttpError> {
    let p = super::client(&state)
        .public_get_progress(state.grpc_request(pb::PublicGetProgressRequest {
            application_no,
            phone_last4: q.phone_last4,
        }))
        .await?
        .into_inner();
    Ok(Json(p))
}
