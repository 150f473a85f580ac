//! The gRPC surface of intake: decode, authorize, call the flow or the
//! store, encode. One file per capability: applications (submit, read,
//! supplement, withdraw, the public progress page), the applicant's
//! personal data, the catalog, materials, and partners' calls.

pub mod applicant;
pub mod applications;
pub mod catalog;
pub mod convert;
pub mod materials;
pub mod partner;

use crate::store::applications as store;
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::Principal;
use bianmin_common::auth::policy::{Rule, Target};
use bianmin_common::calendar::WorkingCalendar;
use bianmin_common::db;
use bianmin_common::error::ApiError;
use bianmin_common::grpc::Ready;
use bianmin_common::pii::PiiKeys;
use bianmin_proto::intake::v1::{self as pb, intake_service_server::IntakeService};
use convert::application_not_found;
use sqlx::PgPool;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// What the handlers need once the service is ready.
pub struct State {
    pub pool: PgPool,
    pub keys: Arc<PiiKeys>,
    pub calendar: Arc<WorkingCalendar>,
    pub materials: Arc<dyn object_store::ObjectStore>,
    pub material_max_bytes: usize,
}

#[derive(Clone)]
pub struct IntakeApi {
    pub state: Ready<State>,
}

fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ApiError::invalid(
            "id",
            "uuid_format",
            "申请编号格式不正确 (id must be a UUID)",
        )
    })
}

/// Applies the permission table to `rule` on application `id`: a record
/// the caller may not see answers exactly like a missing one. Refusals are
/// audited; allowed calls are left to the caller.
async fn authorize(state: &State, caller: &Principal, rule: &Rule, id: Uuid) -> Result<(), Status> {
    let owner = store::owner(&state.pool, id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| application_not_found(id))?;
    authorize_owned(state, caller, rule, id, &owner).await
}

/// [`authorize`] for an application whose owner was read already.
async fn authorize_owned(
    state: &State,
    caller: &Principal,
    rule: &Rule,
    id: Uuid,
    owner: &store::Owner,
) -> Result<(), Status> {
    audit::enforce(
        &state.pool,
        caller,
        rule,
        &format!("application:{id}"),
        owned(owner),
        Reads::RefusalsOnly,
        || application_not_found(id).into(),
    )
    .await
}

/// The application as it is now, with its materials; `None` when unknown.
/// Read under `caller`'s scope (row-level security), after the permission
/// table allowed it.
async fn read(
    state: &State,
    caller: &Principal,
    id: Uuid,
) -> Result<Option<pb::Application>, ApiError> {
    let scope = db::Scope::of(caller);
    let Some(stored) = store::read(&state.pool, &scope, id).await? else {
        return Ok(None);
    };
    let materials = crate::store::materials::list(&state.pool, &scope, id).await?;
    Ok(Some(convert::application(stored, materials)))
}

/// The application as it is now, after a change committed.
async fn reread(state: &State, caller: &Principal, id: Uuid) -> Result<pb::Application, ApiError> {
    read(state, caller, id).await?.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("application {id} vanished after commit"))
    })
}

/// The record an application is for the permission table.
fn owned(owner: &store::Owner) -> Target<'_> {
    Target {
        center_id: &owner.center_id,
        owner: Some(&owner.submitted_by),
    }
}

/// The record a center is for the permission table.
fn center(center_id: &str) -> Target<'_> {
    Target {
        center_id,
        owner: None,
    }
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        applications::submit(self.state.get()?, request).await
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        applications::get(self.state.get()?, request).await
    }

    async fn partner_get_application(
        &self,
        request: Request<pb::PartnerGetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        partner::get_application(self.state.get()?, request).await
    }

    async fn list_centers(
        &self,
        request: Request<pb::ListCentersRequest>,
    ) -> Result<Response<pb::ListCentersResponse>, Status> {
        catalog::list_centers(self.state.get()?, request).await
    }

    async fn list_service_types(
        &self,
        request: Request<pb::ListServiceTypesRequest>,
    ) -> Result<Response<pb::ListServiceTypesResponse>, Status> {
        catalog::list_service_types(self.state.get()?, request).await
    }

    async fn catalog_create_service_type(
        &self,
        request: Request<pb::CatalogCreateServiceTypeRequest>,
    ) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
        catalog::create_service_type(self.state.get()?, request).await
    }

    async fn catalog_update_service_type(
        &self,
        request: Request<pb::CatalogUpdateServiceTypeRequest>,
    ) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
        catalog::update_service_type(self.state.get()?, request).await
    }

    async fn catalog_retire_service_type(
        &self,
        request: Request<pb::CatalogRetireServiceTypeRequest>,
    ) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
        catalog::retire_service_type(self.state.get()?, request).await
    }

    async fn catalog_list_service_type_history(
        &self,
        request: Request<pb::CatalogListServiceTypeHistoryRequest>,
    ) -> Result<Response<pb::CatalogListServiceTypeHistoryResponse>, Status> {
        catalog::service_type_history(self.state.get()?, request).await
    }

    async fn materials_upload(
        &self,
        request: Request<pb::MaterialsUploadRequest>,
    ) -> Result<Response<pb::MaterialsUploadResponse>, Status> {
        materials::upload(self.state.get()?, request).await
    }

    async fn materials_download(
        &self,
        request: Request<pb::MaterialsDownloadRequest>,
    ) -> Result<Response<pb::MaterialsDownloadResponse>, Status> {
        materials::download(self.state.get()?, request).await
    }

    async fn pii_get_applicant(
        &self,
        request: Request<pb::PiiGetApplicantRequest>,
    ) -> Result<Response<pb::PiiGetApplicantResponse>, Status> {
        applicant::get_in_full(self.state.get()?, request).await
    }

    async fn pii_find_applications(
        &self,
        request: Request<pb::PiiFindApplicationsRequest>,
    ) -> Result<Response<pb::PiiFindApplicationsResponse>, Status> {
        applicant::find_applications(self.state.get()?, request).await
    }

    async fn supplement_application(
        &self,
        request: Request<pb::SupplementApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        applications::supplement(self.state.get()?, request).await
    }

    async fn withdraw_application(
        &self,
        request: Request<pb::WithdrawApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        applications::withdraw(self.state.get()?, request).await
    }

    async fn public_get_progress(
        &self,
        request: Request<pb::PublicGetProgressRequest>,
    ) -> Result<Response<pb::PublicProgress>, Status> {
        applications::public_progress(self.state.get()?, request).await
    }
}
