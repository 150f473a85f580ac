//! Applications: submitting, reading, supplementing, withdrawing, and the
//! public progress page.

use super::convert::{self, application_not_found};
use super::partner::Exchange;
use super::{State, authorize, authorize_owned, parse_id, read, reread};
use crate::domain::status;
use crate::domain::{answers, progress, submission};
use crate::flow;
use crate::policy;
use crate::store::{applications as store, public};
use bianmin_common::auth::{self, Principal};
use bianmin_common::calendar;
use bianmin_common::db;
use bianmin_common::error::ApiError;
use bianmin_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

/// The submission as the domain reads it.
fn draft<'a>(r: &'a pb::SubmitApplicationRequest, caller: &'a Principal) -> submission::Draft<'a> {
    let applicant = r.applicant.as_ref();
    // Staff (center staff, district administrators) receive applications
    // on the staff channels; residents and partners may not claim them.
    let staff = (caller.is_center_staff() || caller.role == auth::Role::DistrictAdmin)
        .then_some(caller.subject.as_str());
    submission::Draft {
        departments: &r.departments,
        staff,
        center_id: &r.center_id,
        service_type: &r.service_type,
        channel: &r.channel,
        name: applicant.map(|a| a.name.as_str()).unwrap_or_default(),
        id_number: applicant.map(|a| a.id_number.as_str()).unwrap_or_default(),
        phone: applicant.map(|a| a.phone.as_str()).unwrap_or_default(),
        reason: &r.reason,
        urgent: r.urgent,
        urgent_reason: &r.urgent_reason,
    }
}

/// `SubmitApplication`: authorize, validate, store with its event, answer.
pub async fn submit(
    state: &State,
    request: Request<pb::SubmitApplicationRequest>,
) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
    let caller = auth::principal(&request)?;
    let exchange = Exchange::of(&caller, &request);
    let r = request.into_inner();
    // The center first (authorization depends on it: a missing or
    // malformed one is the caller's mistake, 400, not a refusal); then
    // refuse before validating the rest: a caller who may not submit here
    // learns nothing from our validation messages.
    let center = submission::center_id(&r.center_id).map_err(|v| ApiError::Invalid(vec![v]))?;
    exchange
        .authorize_submission(state, &caller, center)
        .await?;
    let today = calendar::local_date(chrono::Utc::now());
    let valid = submission::validate(&draft(&r, &caller), today).map_err(ApiError::Invalid)?;
    let key = bianmin_common::error::idempotency_key(&r.idempotency_key)?;
    let submitted = flow::submit(&state.pool, &state.keys, &valid, &caller.subject, key)
        .await
        .map_err(ApiError::from)?;
    // A new application is answered from what was written; a replay
    // answers the same, read back from the stored one.
    let application = match submitted.first {
        Some(first) => convert::first_view(first),
        None => convert::as_first_answered(reread(state, &caller, submitted.id).await?),
    };
    exchange
        .record_submitted(state, &caller, &application, submitted.replayed)
        .await;
    tracing::info!(application_id = %submitted.id, replayed = submitted.replayed, "application submitted");
    Ok(Response::new(pb::SubmitApplicationResponse {
        application: Some(convert::as_seen_by(&caller, application)),
        replayed: submitted.replayed,
    }))
}

/// `GetApplication`: the masked view.
pub async fn get(
    state: &State,
    request: Request<pb::GetApplicationRequest>,
) -> Result<Response<pb::Application>, Status> {
    let caller = auth::principal(&request)?;
    let id = parse_id(&request.into_inner().id)?;
    // This view is masked, so an allowed read is no access to personal
    // data and writes no audit row (the chain's single append lock would
    // otherwise serialize every read); refusals are still recorded. Full
    // views of the ID and phone number are audited where they happen.
    // Read first, in one round trip with its owner; nothing of it is
    // returned unless the caller may see it.
    // Under the caller's own scope (row-level security). Another center's
    // application is not there for it; the owner look-up then decides and
    // records the refusal, as for any record the caller may not see.
    let scope = db::Scope::of(&caller);
    let Some(stored) = store::read(&state.pool, &scope, id)
        .await
        .map_err(ApiError::from)?
    else {
        authorize(state, &caller, &policy::READ_APPLICATION, id).await?;
        return Err(application_not_found(id).into());
    };
    let owner = store::Owner {
        id,
        center_id: stored.center_id.clone(),
        submitted_by: stored.submitted_by.clone(),
    };
    authorize_owned(state, &caller, &policy::READ_APPLICATION, id, &owner).await?;
    let materials = crate::store::materials::list(&state.pool, &scope, id)
        .await
        .map_err(ApiError::from)?;
    Ok(Response::new(convert::as_seen_by(
        &caller,
        convert::application(stored, materials),
    )))
}

/// `SupplementApplication`: the applicant's answer to review's request.
pub async fn supplement(
    state: &State,
    request: Request<pb::SupplementApplicationRequest>,
) -> Result<Response<pb::Application>, Status> {
    let caller = auth::principal(&request)?;
    let r = request.into_inner();
    let id = parse_id(&r.id)?;
    authorize(state, &caller, &policy::SUPPLEMENT_APPLICATION, id).await?;
    let answer = answers::supplement(&r.supplied_items, &r.note).map_err(ApiError::Invalid)?;
    flow::supplement(&state.pool, id, &answer, &caller)
        .await
        .map_err(ApiError::from)?;
    Ok(Response::new(convert::as_seen_by(
        &caller,
        reread(state, &caller, id).await?,
    )))
}

/// `WithdrawApplication`: before review decides.
pub async fn withdraw(
    state: &State,
    request: Request<pb::WithdrawApplicationRequest>,
) -> Result<Response<pb::Application>, Status> {
    let caller = auth::principal(&request)?;
    let r = request.into_inner();
    let id = parse_id(&r.id)?;
    authorize(state, &caller, &policy::WITHDRAW_APPLICATION, id).await?;
    let reason = answers::withdrawal_reason(&r.reason, answers::on_behalf(caller.role))
        .map_err(|v| ApiError::Invalid(vec![v]))?;
    flow::withdraw(&state.pool, id, &reason, &caller)
        .await
        .map_err(ApiError::from)?;
    Ok(Response::new(convert::as_seen_by(
        &caller,
        reread(state, &caller, id).await?,
    )))
}

/// `PublicGetProgress`: by number and the phone's last four digits, open
/// to anyone; an unknown number and a wrong phone answer alike.
pub async fn public_progress(
    state: &State,
    request: Request<pb::PublicGetProgressRequest>,
) -> Result<Response<pb::PublicProgress>, Status> {
    let r = request.into_inner();
    let (number, last4) =
        progress::lookup(&r.application_no, &r.phone_last4).map_err(ApiError::Invalid)?;
    let today = calendar::local_date(chrono::Utc::now());
    let not_found = || ApiError::NotFound(progress::NOT_FOUND.into());
    let found = public::by_number(&state.pool, &number)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(not_found)?;
    // A number guessed at too often answers like one that does not exist,
    // whatever the digits, for a while: every path to the page (REST,
    // gRPC) comes through here.
    let now = chrono::Utc::now();
    let guesses = public::guesses(&state.pool, &number)
        .await
        .map_err(ApiError::from)?;
    if guesses.is_some_and(|g| g.locked(now)) {
        tracing::info!(application_no = %number, "public look-up of a locked number");
        return Err(not_found().into());
    }
    let phone = state
        .keys
        .open(&found.phone, &format!("applications.phone:{}", found.id))
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !phone.ends_with(&last4) {
        let after = public::record_wrong_guess(&state.pool, &number, now)
            .await
            .map_err(ApiError::from)?;
        if after.locked(now) {
            tracing::warn!(application_no = %number, failures = after.failures, "public look-up locked after repeated wrong digits");
        }
        return Err(not_found().into());
    }
    let expected = progress::expected(
        status::Status::parse(&found.status),
        found.review_due_date,
        found.supplement_remaining_days,
        &state.calendar,
        today,
    );
    // The public look-up checked the number and the phone's digits; no one
    // is signed in, so it reads for the system, only this application.
    let timeline = store::timeline_of(&state.pool, &db::Scope::AllCenters, found.id)
        .await
        .map_err(ApiError::from)?;
    let suspended = expected.suspended;
    Ok(Response::new(pb::PublicProgress {
        application_no: found.application_no,
        center_id: found.center_id,
        service_type: found.service_type,
        submitted_at: found.submitted_at.to_rfc3339(),
        applicant_name: progress::mask_name(&found.applicant_name),
        timeline: timeline.into_iter().map(convert::timeline_entry).collect(),
        expected_date: expected.date,
        working_days_left: expected.working_days_left,
        suspended,
        suspension_reason: if suspended {
            found.supplement_reason
        } else {
            String::new()
        },
        missing_items: if suspended {
            found.missing_items
        } else {
            Vec::new()
        },
        status: found.status,
    }))
}

/// An application read whole, for the partner's look-up.
pub(super) async fn application(
    state: &State,
    caller: &Principal,
    id: uuid::Uuid,
) -> Result<Option<pb::Application>, ApiError> {
    read(state, caller, id).await
}
