//! The gRPC surface of review.

use crate::store::{self, CaseKey};
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::{self, permissions::{Action, Target}};
use bianmin_common::error::ApiError;
use bianmin_common::grpc::Ready;
use bianmin_proto::review::v1::{self as pb, get_review_case_request::By, review_service_server::ReviewService};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub struct State {
    pub pool: PgPool,
}

#[derive(Clone)]
pub struct ReviewApi {
    pub state: Ready<State>,
}

fn uuid(field: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| ApiError::invalid(field, "uuid_format", format!("{field} 须为 UUID (must be a UUID)")))
}

#[tonic::async_trait]
impl ReviewService for ReviewApi {
    async fn get_review_case(&self, request: Request<pb::GetReviewCaseRequest>) -> Result<Response<pb::ReviewCase>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let key = match request.into_inner().by {
            Some(By::CaseId(id)) => CaseKey::Case(uuid("case_id", &id)?),
            Some(By::ApplicationId(id)) => CaseKey::Application(uuid("application_id", &id)?),
            None => return Err(ApiError::invalid("by", "required", "请给出 case_id 或 application_id (case_id or application_id is required)").into()),
        };
        let not_found = || ApiError::NotFound("审核案件不存在 (review case not found)".into());
        let case = store::get(&state.pool, key).await.map_err(ApiError::from)?.ok_or_else(not_found)?;
        let target = Target { center_id: &case.center_id, owner: None };
        let record = format!("review_case:{}", case.id);
        audit::enforce(&state.pool, &caller, Action::ReadReviewCase, &record, target, Reads::RefusalsOnly, || not_found().into()).await?;
        Ok(Response::new(case))
    }
}
