//! The gRPC surface of intake.

use crate::domain::submission;
use crate::store::{applications, catalog};
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::{
    self,
    permissions::{Action, Target},
};
use bianmin_common::calendar;
use bianmin_common::error::ApiError;
use bianmin_common::grpc::Ready;
use bianmin_common::pii::PiiKeys;
use bianmin_proto::intake::v1::{self as pb, intake_service_server::IntakeService};
use sqlx::PgPool;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// What the handlers need once the service is ready.
pub struct State {
    pub pool: PgPool,
    pub keys: Arc<PiiKeys>,
}

#[derive(Clone)]
pub struct IntakeApi {
    pub state: Ready<State>,
}

/// Idempotency keys: printable ASCII, at most 200 characters.
fn idempotency_key(raw: &str) -> Result<Option<&str>, ApiError> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "idempotency_key",
            "idempotency_key_format",
            "幂等键须为不超过 200 个可见 ASCII 字符 (at most 200 printable ASCII characters)",
        ));
    }
    Ok(Some(key))
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let purpose = crate::partner::stated_purpose(&caller, &request);
        let r = request.into_inner();
        // Refuse before validating: a caller who may not submit here learns
        // nothing from our validation messages.
        let target = Target {
            center_id: r.center_id.trim(),
            owner: Some(&caller.subject),
        };
        let record = format!("center:{}", target.center_id);
        // Submitting is never hidden (the centers are public), only denied.
        // Every partner exchange is audited, allowed ones too.
        let reads = if caller.role == auth::Role::Partner {
            Reads::Sensitive
        } else {
            Reads::RefusalsOnly
        };
        audit::enforce_with_detail(
            &state.pool,
            &caller,
            Action::SubmitApplication,
            &record,
            target,
            reads,
            &purpose,
            || Status::not_found("中心不存在 (center not found)"),
        )
        .await?;
        let applicant = r.applicant.unwrap_or_default();
        let draft = submission::Draft {
            center_id: &r.center_id,
            service_type: &r.service_type,
            channel: &r.channel,
            name: &applicant.name,
            id_number: &applicant.id_number,
            phone: &applicant.phone,
            reason: &r.reason,
        };
        let today = calendar::local_date(chrono::Utc::now());
        let valid = submission::validate(&draft, today).map_err(ApiError::Invalid)?;
        let key = idempotency_key(&r.idempotency_key)?;
        let submitted =
            applications::submit(&state.pool, &state.keys, &valid, &caller.subject, key).await?;
        let application = applications::get(&state.pool, submitted.id)
            .await?
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "application {} vanished after commit",
                    submitted.id
                ))
            })?;
        crate::partner::record_submitted(
            state,
            &caller,
            &application,
            submitted.replayed,
            &purpose,
        )
        .await;
        tracing::info!(application_id = %submitted.id, replayed = submitted.replayed, "application submitted");
        Ok(Response::new(pb::SubmitApplicationResponse {
            application: Some(application),
            replayed: submitted.replayed,
        }))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let state = self.state.get()?;
        let caller = auth::principal(&request)?;
        let raw = request.into_inner().id;
        let id = Uuid::parse_str(raw.trim()).map_err(|_| {
            ApiError::invalid(
                "id",
                "uuid_format",
                "申请编号格式不正确 (id must be a UUID)",
            )
        })?;
        let not_found = || ApiError::NotFound(format!("申请 {id} 不存在 (application not found)"));
        let (center_id, submitted_by) = applications::owner(&state.pool, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        let target = Target {
            center_id: &center_id,
            owner: Some(&submitted_by),
        };
        // Applications hold personal data: every read is audited.
        let record = format!("application:{id}");
        audit::enforce(
            &state.pool,
            &caller,
            Action::ReadApplication,
            &record,
            target,
            Reads::Sensitive,
            || not_found().into(),
        )
        .await?;
        let application = applications::get(&state.pool, id)
            .await?
            .ok_or_else(not_found)?;
        Ok(Response::new(application))
    }

    async fn partner_get_application(
        &self,
        request: Request<pb::PartnerGetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        crate::partner::get_application(self.state.get()?, request).await
    }

    async fn list_centers(
        &self,
        _: Request<pb::ListCentersRequest>,
    ) -> Result<Response<pb::ListCentersResponse>, Status> {
        let state = self.state.get()?;
        let centers = catalog::centers(&state.pool)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListCentersResponse { centers }))
    }

    async fn list_service_types(
        &self,
        _: Request<pb::ListServiceTypesRequest>,
    ) -> Result<Response<pb::ListServiceTypesResponse>, Status> {
        let state = self.state.get()?;
        let service_types = catalog::service_types(&state.pool)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListServiceTypesResponse {
            service_types,
        }))
    }
}
