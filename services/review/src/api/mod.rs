//! The gRPC surface of review. Every call names its caller; center staff
//! see their own center, district admins every center, and a case of
//! another center answers NOT_FOUND so its existence does not leak.

pub mod convert;

use crate::domain::case::Stage;
use crate::domain::lifecycle::Refusal;
use crate::flow::{self, ActError, Deadlines};
use crate::policy;
use crate::store::{cases, measures};
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::policy::{Rule, Target};
use bianmin_common::auth::{self, Principal};
use bianmin_common::db;
use bianmin_common::error::{ApiError, FieldViolation};
use bianmin_common::grpc::Ready;
use bianmin_proto::review::v1::{
    self as pb, get_review_case_request::By, review_service_server::ReviewService,
};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub struct State {
    pub pool: PgPool,
    pub deadlines: Deadlines,
}

#[derive(Clone)]
pub struct ReviewApi {
    pub state: Ready<State>,
}

fn uuid(field: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ApiError::invalid(
            field,
            "uuid_format",
            format!("{field} 须为 UUID (must be a UUID)"),
        )
    })
}

fn not_found() -> Status {
    ApiError::NotFound("审核案件不存在 (review case not found)".into()).into()
}

/// The record a case is for the permission table: its center.
fn target(center_id: &str) -> Target<'_> {
    Target {
        center_id,
        owner: None,
    }
}

/// Applies the permission table to one case; refusals are audited, and a
/// case outside the caller's scope answers exactly like a missing one.
async fn allowed(
    pool: &PgPool,
    principal: &Principal,
    rule: &Rule,
    case: &cases::Stored,
) -> Result<(), Status> {
    audit::enforce(
        pool,
        principal,
        rule,
        &format!("review_case:{}", case.id),
        target(&case.center_id),
        Reads::RefusalsOnly,
        not_found,
    )
    .await
}

/// The case `key` as `principal` may see it, after the permission table.
/// Read under the caller's own scope (row-level security); a case of
/// another center is not there for it, and is then looked up across
/// centers only so the table refuses it and the refusal is audited, the
/// answer being the same "not found" as for a missing case.
async fn case_for(
    pool: &PgPool,
    principal: &Principal,
    rule: &Rule,
    key: cases::Key,
) -> Result<cases::Stored, Status> {
    let read = |scope: db::Scope| async move {
        let mut tx = db::begin(pool, &scope).await?;
        cases::get(&mut *tx, key).await
    };
    if let Some(found) = read(db::Scope::of(principal))
        .await
        .map_err(ApiError::from)?
    {
        allowed(pool, principal, rule, &found).await?;
        return Ok(found);
    }
    let hidden = read(db::Scope::AllCenters)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(not_found)?;
    allowed(pool, principal, rule, &hidden).await?;
    Err(not_found())
}

fn refused(e: ActError) -> Status {
    match e {
        ActError::NotFound => not_found(),
        ActError::Refused(Refusal::Invalid {
            field,
            rule,
            message,
        }) => ApiError::Invalid(vec![FieldViolation::new(field, rule, message)]).into(),
        ActError::Refused(Refusal::Forbidden(m)) => Status::permission_denied(m),
        ActError::Refused(Refusal::Illegal(m)) => ApiError::FailedPrecondition(m).into(),
        ActError::Database(e) => ApiError::from(e).into(),
    }
}

#[tonic::async_trait]
impl ReviewService for ReviewApi {
    async fn get_review_case(
        &self,
        request: Request<pb::GetReviewCaseRequest>,
    ) -> Result<Response<pb::ReviewCase>, Status> {
        let state = self.state.get()?;
        let principal = auth::principal(&request)?;
        audit::require_grant(
            &state.pool,
            &principal,
            &policy::READ_REVIEW_CASE,
            "review_case",
        )
        .await?;
        let key = match request.into_inner().by {
            Some(By::CaseId(id)) => cases::Key::Case(uuid("case_id", &id)?),
            Some(By::ApplicationId(id)) => cases::Key::Application(uuid("application_id", &id)?),
            None => {
                return Err(ApiError::invalid(
                    "by",
                    "required",
                    "请给出 case_id 或 application_id (case_id or application_id is required)",
                )
                .into());
            }
        };
        let found = case_for(&state.pool, &principal, &policy::READ_REVIEW_CASE, key).await?;
        Ok(Response::new(convert::review_case(&found)))
    }

    async fn list_review_cases(
        &self,
        request: Request<pb::ListReviewCasesRequest>,
    ) -> Result<Response<pb::ListReviewCasesResponse>, Status> {
        let state = self.state.get()?;
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let center = audit::enforce_listing(
            &state.pool,
            &principal,
            &policy::READ_REVIEW_CASE,
            &r.center_id,
        )
        .await?;
        let stage = match r.stage.trim() {
            "" => None,
            s => Some(Stage::parse(s).ok_or_else(|| {
                let known: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid(
                    "stage",
                    "stage",
                    format!("未知阶段 {s} (unknown stage; one of {})", known.join(", ")),
                )
            })?),
        };
        let text = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let filter = cases::QueueFilter {
            center,
            service_type: text(r.service_type),
            stage,
            assignee: text(r.assignee),
            limit: if r.limit == 0 { 200 } else { r.limit.min(1000) } as i64,
        };
        let (items, counts) = cases::queue(&state.pool, &db::Scope::of(&principal), &filter)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListReviewCasesResponse {
            cases: items
                .into_iter()
                .map(|q| pb::QueueItem {
                    id: q.id.to_string(),
                    application_id: q.application_id.to_string(),
                    application_no: q.application_no,
                    center_id: q.center_id,
                    service_type: q.service_type,
                    stage: q.stage,
                    due_date: q.due_date.map(|d| d.to_string()).unwrap_or_default(),
                    urgent: q.urgent,
                    overdue: q.overdue,
                    assignee: q.assignee,
                    suspended: q.suspended,
                })
                .collect(),
            counts: counts
                .into_iter()
                .map(|(stage, n)| pb::StageCount {
                    stage,
                    count: n as u32,
                })
                .collect(),
        }))
    }

    async fn act_on_review_case(
        &self,
        request: Request<pb::ActOnReviewCaseRequest>,
    ) -> Result<Response<pb::ActOnReviewCaseResponse>, Status> {
        let state = self.state.get()?;
        let principal = auth::principal(&request)?;
        let r = request.into_inner();
        let case_id = uuid("case_id", &r.case_id)?;
        let record = format!("review_case:{case_id}");
        audit::require_grant(
            &state.pool,
            &principal,
            &policy::ACT_ON_REVIEW_CASE,
            &record,
        )
        .await?;
        // The table first (who may act on this center's cases at all); the
        // lifecycle then says which role takes which step.
        case_for(
            &state.pool,
            &principal,
            &policy::ACT_ON_REVIEW_CASE,
            cases::Key::Case(case_id),
        )
        .await?;
        let key = bianmin_common::error::idempotency_key(&r.idempotency_key)?.map(str::to_string);
        let command = convert::command(r.action)?;
        let acted = flow::act(
            &state.pool,
            &state.deadlines,
            &principal,
            case_id,
            key.as_deref(),
            command,
        )
        .await
        .map_err(refused)?;
        Ok(Response::new(pb::ActOnReviewCaseResponse {
            review_case: Some(convert::review_case(&acted.stored)),
            replayed: acted.replayed,
        }))
    }

    async fn get_review_measures(
        &self,
        request: Request<pb::GetReviewMeasuresRequest>,
    ) -> Result<Response<pb::ReviewMeasures>, Status> {
        let state = self.state.get()?;
        let principal = auth::principal(&request)?;
        let center = audit::enforce_listing(
            &state.pool,
            &principal,
            &policy::READ_REVIEW_MEASURES,
            &request.get_ref().center_id,
        )
        .await?;
        let rows = measures::measures(&state.pool, &db::Scope::of(&principal), center.as_deref())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ReviewMeasures {
            rows: rows
                .into_iter()
                .map(|m| pb::MeasureRow {
                    on_time_rate: if m.decided == 0 {
                        0.0
                    } else {
                        m.decided_on_time as f64 / m.decided as f64
                    },
                    center_id: m.center_id,
                    service_type: m.service_type,
                    cases: m.cases as u32,
                    decided: m.decided as u32,
                    decided_on_time: m.decided_on_time as u32,
                    average_working_days_to_decision: m.average_working_days_to_decision,
                    overdue_now: m.overdue_now as u32,
                    breaches: m.breaches as u32,
                })
                .collect(),
        }))
    }
}
