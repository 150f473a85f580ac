//! The gRPC surface: decode, authorize (the policy's rule, audited), call
//! the flow, encode. A complaint of another center (or, for a resident,
//! someone else's) answers NOT_FOUND, exactly like a missing one.

pub mod convert;

use crate::domain::complaint::{Actor, Command, Refusal, Status};
use crate::domain::input;
use crate::flow::{self, Clock, Error};
use crate::policy;
use crate::store::complaints::{self, Filter, Stored};
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::policy::{Rule, Target};
use bianmin_common::auth::{self, Principal, Role};
use bianmin_common::calendar;
use bianmin_common::db::{self, Scope};
use bianmin_common::error::ApiError;
use bianmin_common::grpc::Ready;
use bianmin_common::pii::PiiKeys;
use bianmin_proto::complaint::v1::{self as pb, complaint_service_server::ComplaintService};
use sqlx::PgPool;
use std::sync::Arc;
use tonic::{Request, Response, Status as GrpcStatus};
use uuid::Uuid;

pub struct State {
    pub pool: PgPool,
    pub keys: Arc<PiiKeys>,
    pub clock: Clock,
}

#[derive(Clone)]
pub struct ComplaintApi {
    pub state: Ready<State>,
}

fn uuid(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| ApiError::invalid("id", "uuid_format", "id 须为 UUID (must be a UUID)"))
}

fn not_found() -> GrpcStatus {
    ApiError::NotFound("投诉不存在 (complaint not found)".into()).into()
}

fn error(e: Error) -> GrpcStatus {
    match e {
        Error::NotFound => not_found(),
        Error::Refused(Refusal::Invalid(v)) => ApiError::Invalid(v).into(),
        Error::Refused(Refusal::Forbidden(m)) => GrpcStatus::permission_denied(m),
        Error::Refused(Refusal::Illegal(m)) => ApiError::FailedPrecondition(m).into(),
        Error::KeyReused => ApiError::Conflict(
            "Idempotency-Key 已用于另一份投诉 (this key was used for another filing; use a new key)".into(),
        )
        .into(),
        Error::Database(e) => ApiError::from(e).into(),
        Error::Internal(e) => ApiError::Internal(e).into(),
    }
}

fn actor(p: &Principal) -> Actor {
    Actor {
        subject: p.subject.clone(),
        staff: p.is_center_staff(),
    }
}

/// Reads complaint `id` and applies `rule` to it (refusals audited): a
/// complaint outside the caller's scope answers like a missing one.
async fn visible(
    state: &State,
    principal: &Principal,
    rule: &Rule,
    raw_id: &str,
) -> Result<Stored, GrpcStatus> {
    audit::require_grant(&state.pool, principal, rule, "complaint").await?;
    let id = uuid(raw_id)?;
    // The owner first, across centers (system work: the table must find
    // another center's complaint to refuse and audit it); only the center
    // and who filed it leave this read.
    let owner = {
        let mut tx = db::begin(&state.pool, &Scope::AllCenters)
            .await
            .map_err(ApiError::from)?;
        complaints::owner(&mut tx, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?
    };
    audit::enforce(
        &state.pool,
        principal,
        rule,
        &format!("complaint:{id}"),
        Target {
            center_id: &owner.center_id,
            owner: Some(&owner.filed_by),
        },
        Reads::RefusalsOnly,
        not_found,
    )
    .await?;
    // Then the complaint, under the caller's own scope.
    let mut tx = db::begin(&state.pool, &Scope::of(principal))
        .await
        .map_err(ApiError::from)?;
    complaints::get(&mut tx, id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(not_found)
}

impl ComplaintApi {
    /// One lifecycle step: the table first, then the domain.
    async fn step(
        &self,
        principal: Principal,
        rule: &Rule,
        id: &str,
        command: Command,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let state = self.state.get()?;
        let found = visible(state, &principal, rule, id).await?;
        let acted = flow::act(
            &state.pool,
            &state.clock,
            found.id,
            &principal,
            &actor(&principal),
            command,
        )
        .await
        .map_err(error)?;
        tracing::info!(complaint_id = %acted.id, action = rule.name, "complaint step");
        Ok(Response::new(convert::complaint(&acted)))
    }
}

#[tonic::async_trait]
impl ComplaintService for ComplaintApi {
    async fn file_complaint(
        &self,
        request: Request<pb::FileComplaintRequest>,
    ) -> Result<Response<pb::FileComplaintResponse>, GrpcStatus> {
        let state = self.state.get()?;
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        // The center first: authorization depends on it.
        let center = input::center_id(&r.center_id).map_err(|v| ApiError::Invalid(vec![v]))?;
        audit::enforce(
            &state.pool,
            &principal,
            &policy::FILE_COMPLAINT,
            &format!("center:{center}"),
            Target {
                center_id: center,
                owner: Some(&principal.subject),
            },
            Reads::RefusalsOnly,
            not_found,
        )
        .await?;
        let complainant = r.complainant.clone().unwrap_or_default();
        let party = r.party.clone().unwrap_or_default();
        let draft = input::Draft {
            center_id: &r.center_id,
            channel: &r.channel,
            name: &complainant.name,
            id_number: &complainant.id_number,
            phone: &complainant.phone,
            party_kind: &party.kind,
            party_id: &party.id,
            kind: &r.r#type,
            content: &r.content,
            demand: &r.demand,
            sensitive: r.sensitive,
            by_staff: principal.is_center_staff(),
        };
        let today = calendar::local_date(chrono::Utc::now());
        let valid = input::validate(&draft, today).map_err(ApiError::Invalid)?;
        let key = bianmin_common::error::idempotency_key(&r.idempotency_key)?;
        let filed = flow::file(
            &state.pool,
            &state.keys,
            &state.clock,
            &valid,
            &principal,
            &actor(&principal),
            key,
        )
        .await
        .map_err(error)?;
        tracing::info!(complaint_id = %filed.stored.id, replayed = filed.replayed, "complaint filed");
        Ok(Response::new(pb::FileComplaintResponse {
            complaint: Some(convert::complaint(&filed.stored)),
            replayed: filed.replayed,
        }))
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let state = self.state.get()?;
        let principal = auth::principal(&request)?;
        let found = visible(
            state,
            &principal,
            &policy::READ_COMPLAINT,
            &request.get_ref().id,
        )
        .await?;
        Ok(Response::new(convert::complaint(&found)))
    }

    async fn list_complaints(
        &self,
        request: Request<pb::ListComplaintsRequest>,
    ) -> Result<Response<pb::ListComplaintsResponse>, GrpcStatus> {
        let state = self.state.get()?;
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let (center, filed_by) = if principal.role == Role::Resident {
            (None, Some(principal.subject.clone()))
        } else {
            let center = audit::enforce_listing(
                &state.pool,
                &principal,
                &policy::READ_COMPLAINT,
                &r.center_id,
            )
            .await?;
            (center, None)
        };
        let status = match r.status.trim() {
            "" => None,
            s => Some(
                Status::parse(s)
                    .ok_or_else(|| {
                        let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                        ApiError::invalid(
                            "status",
                            "status",
                            format!("未知状态 {s} (unknown status; one of {})", known.join(", ")),
                        )
                    })?
                    .as_str()
                    .to_string(),
            ),
        };
        let filter = Filter {
            center,
            filed_by,
            status,
            limit: if r.limit == 0 { 200 } else { r.limit.min(1000) } as i64,
        };
        let mut tx = db::begin(&state.pool, &Scope::of(&principal))
            .await
            .map_err(ApiError::from)?;
        let items = complaints::list(&mut tx, &filter)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListComplaintsResponse {
            complaints: items.iter().map(convert::complaint).collect(),
        }))
    }

    async fn take_complaint(
        &self,
        request: Request<pb::TakeComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        self.step(principal, &policy::TAKE_COMPLAINT, &r.id, Command::Take)
            .await
    }

    async fn hand_over_complaint(
        &self,
        request: Request<pb::HandOverComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let command = Command::HandOver {
            to: r.to,
            reason: r.reason,
        };
        self.step(principal, &policy::HAND_OVER_COMPLAINT, &r.id, command)
            .await
    }

    async fn classify_complaint(
        &self,
        request: Request<pb::ClassifyComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let command = Command::Classify {
            nature: r.nature,
            severity: r.severity,
        };
        self.step(principal, &policy::CLASSIFY_COMPLAINT, &r.id, command)
            .await
    }

    async fn assign_investigators(
        &self,
        request: Request<pb::AssignInvestigatorsRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let command = Command::AssignInvestigators {
            investigators: r.investigators,
        };
        self.step(principal, &policy::ASSIGN_INVESTIGATORS, &r.id, command)
            .await
    }

    async fn record_finding(
        &self,
        request: Request<pb::RecordFindingRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let command = Command::RecordFinding {
            result: r.result,
            cause: r.cause,
        };
        self.step(principal, &policy::RECORD_FINDING, &r.id, command)
            .await
    }

    async fn answer_complaint(
        &self,
        request: Request<pb::AnswerComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let command = Command::Answer { answer: r.answer };
        self.step(principal, &policy::ANSWER_COMPLAINT, &r.id, command)
            .await
    }

    async fn close_complaint(
        &self,
        request: Request<pb::CloseComplaintRequest>,
    ) -> Result<Response<pb::Complaint>, GrpcStatus> {
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        self.step(principal, &policy::CLOSE_COMPLAINT, &r.id, Command::Close)
            .await
    }
}
