//! The applicant's personal data in full, and look-ups by ID number: each
//! access recorded before anything is shown.

use super::convert::{self, application_not_found};
use super::{State, authorize, center, parse_id};
use crate::domain::{id_number, purpose};
use crate::policy;
use crate::store::personal;
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::{self, policy::Scope};
use bianmin_common::calendar;
use bianmin_common::db;
use bianmin_common::error::ApiError;
use bianmin_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

/// `PiiGetApplicant`: the ID and phone numbers in full, for a stated purpose.
pub async fn get_in_full(
    state: &State,
    request: Request<pb::PiiGetApplicantRequest>,
) -> Result<Response<pb::PiiGetApplicantResponse>, Status> {
    let caller = auth::principal(&request)?;
    let r = request.into_inner();
    let id = parse_id(&r.id)?;
    authorize(state, &caller, &policy::VIEW_APPLICANT_IN_FULL, id).await?;
    let purpose = purpose::validate(&r.purpose).map_err(|v| ApiError::Invalid(vec![v]))?;
    // The access log row comes first: no full view goes unrecorded.
    audit::record_access(
        &state.pool,
        &caller,
        &policy::VIEW_APPLICANT_IN_FULL,
        &format!("application:{id}"),
        &purpose,
    )
    .await
    .map_err(ApiError::from)?;
    let sealed = personal::applicant(&state.pool, &db::Scope::of(&caller), id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| application_not_found(id))?;
    let open = |value, column: &str| {
        state
            .keys
            .open(value, &format!("applications.{column}:{id}"))
            .map_err(|e| ApiError::Internal(e.into()))
    };
    Ok(Response::new(pb::PiiGetApplicantResponse {
        application_id: id.to_string(),
        application_no: sealed.application_no,
        applicant: Some(pb::Applicant {
            name: sealed.name,
            id_number: open(&sealed.id_number, "id_number")?,
            phone: open(&sealed.phone, "phone")?,
        }),
    }))
}

/// `PiiFindApplications`: a resident's applications by ID number, within
/// the caller's center (or every center, for district administrators).
pub async fn find_applications(
    state: &State,
    request: Request<pb::PiiFindApplicationsRequest>,
) -> Result<Response<pb::PiiFindApplicationsResponse>, Status> {
    let caller = auth::principal(&request)?;
    let raw = request.into_inner().id_number;
    // The caller's own center is the record: staff look within it.
    let own_center = caller.center_id.clone().unwrap_or_default();
    audit::enforce(
        &state.pool,
        &caller,
        &policy::FIND_APPLICANT_HISTORY,
        "applicant:lookup",
        center(&own_center),
        Reads::RefusalsOnly,
        || Status::not_found("未找到 (not found)"),
    )
    .await?;
    let today = calendar::local_date(chrono::Utc::now());
    let number = id_number::validate(&raw, today)
        .map_err(|e| ApiError::invalid("id_number", e.rule(), e.message()))?;
    let hash = state.keys.lookup_hash("id_number", &number);
    let center = match policy::FIND_APPLICANT_HISTORY.scope_of(caller.role) {
        Some(Scope::AllCenters) => None,
        _ => Some(own_center.as_str()),
    };
    // A look-up by ID number is a read of someone's history: logged,
    // naming the resident by a pseudonym (the keyed hash), never the number.
    let pseudonym: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let applications =
        personal::applications_by_id_number(&state.pool, &db::Scope::of(&caller), &hash, center)
            .await
            .map_err(ApiError::from)?;
    audit::record_access(
        &state.pool,
        &caller,
        &policy::FIND_APPLICANT_HISTORY,
        &format!("applicant:{pseudonym}"),
        &format!("{} 件 (hits)", applications.len()),
    )
    .await
    .map_err(ApiError::from)?;
    Ok(Response::new(pb::PiiFindApplicationsResponse {
        applications: applications
            .into_iter()
            .map(convert::application_summary)
            .collect(),
    }))
}
