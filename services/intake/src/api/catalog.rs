//! The service catalog: the public lists, and district administrators'
//! management of service types.

use super::{State, convert};
use crate::domain;
use crate::flow::{self, catalog::Changed};
use crate::policy;
use crate::store::catalog;
use bianmin_common::audit::{self, Reads};
use bianmin_common::auth::{self, Principal, policy::Target};
use bianmin_common::error::ApiError;
use bianmin_proto::intake::v1 as pb;
use tonic::{Request, Response, Status};

/// `ListCenters`: open to anyone.
pub async fn list_centers(
    state: &State,
    _: Request<pb::ListCentersRequest>,
) -> Result<Response<pb::ListCentersResponse>, Status> {
    let centers = catalog::centers(&state.pool)
        .await
        .map_err(ApiError::from)?;
    Ok(Response::new(pb::ListCentersResponse {
        centers: centers.into_iter().map(convert::center).collect(),
    }))
}

/// `ListServiceTypes`: the types and the department directory.
pub async fn list_service_types(
    state: &State,
    _: Request<pb::ListServiceTypesRequest>,
) -> Result<Response<pb::ListServiceTypesResponse>, Status> {
    let service_types = catalog::service_types(&state.pool)
        .await
        .map_err(ApiError::from)?;
    let departments = catalog::departments(&state.pool)
        .await
        .map_err(ApiError::from)?;
    Ok(Response::new(pb::ListServiceTypesResponse {
        service_types: service_types
            .into_iter()
            .map(convert::service_type)
            .collect(),
        departments: departments.into_iter().map(convert::department).collect(),
    }))
}

/// The caller of a catalog administration call, or its refusal (audited):
/// only district administrators manage the catalog.
async fn admin<T>(
    state: &State,
    request: &Request<T>,
    code: Option<&str>,
) -> Result<Principal, Status> {
    let caller = auth::principal(request)?;
    audit::enforce(
        &state.pool,
        &caller,
        &policy::MANAGE_CATALOG,
        &format!("service_type:{}", code.unwrap_or_default().trim()),
        Target {
            center_id: "",
            owner: None,
        },
        Reads::RefusalsOnly,
        || Status::not_found("服务事项不存在 (service type not found)"),
    )
    .await?;
    Ok(caller)
}

/// What a create or an update carries: its administrator (refused first,
/// audited) and the definition, validated.
async fn admin_and_definition<T>(
    state: &State,
    request: Request<T>,
    service_type: impl FnOnce(T) -> Option<pb::ServiceType>,
) -> Result<(Principal, domain::catalog::Definition), Status> {
    let (metadata, extensions, message) = request.into_parts();
    let t = service_type(message).unwrap_or_default();
    let request = Request::from_parts(metadata, extensions, ());
    let caller = admin(state, &request, Some(&t.code)).await?;
    let definition = convert::definition(t);
    let definition = domain::catalog::validate(&definition).map_err(ApiError::Invalid)?;
    Ok((caller, definition))
}

/// The type an administration call left, and whether it was a replay.
fn answer(changed: Result<Changed, flow::Error>) -> Result<(pb::ServiceType, bool), ApiError> {
    let changed = changed?;
    Ok((
        convert::service_type(changed.service_type),
        changed.replayed,
    ))
}

/// `CatalogCreateServiceType`.
pub async fn create_service_type(
    state: &State,
    request: Request<pb::CatalogCreateServiceTypeRequest>,
) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
    let (caller, definition) = admin_and_definition(state, request, |r| r.service_type).await?;
    let (t, replayed) = answer(flow::catalog::create(&state.pool, &definition, &caller).await)?;
    tracing::info!(code = %t.code, replayed, "service type created");
    Ok(Response::new(pb::CatalogServiceTypeResponse {
        service_type: Some(t),
        replayed,
    }))
}

/// `CatalogUpdateServiceType`: a new version of the definition.
pub async fn update_service_type(
    state: &State,
    request: Request<pb::CatalogUpdateServiceTypeRequest>,
) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
    let (caller, definition) = admin_and_definition(state, request, |r| r.service_type).await?;
    let (t, replayed) = answer(flow::catalog::update(&state.pool, &definition, &caller).await)?;
    tracing::info!(code = %t.code, version = t.version, replayed, "service type updated");
    Ok(Response::new(pb::CatalogServiceTypeResponse {
        service_type: Some(t),
        replayed,
    }))
}

/// `CatalogRetireServiceType`: no new applications under it.
pub async fn retire_service_type(
    state: &State,
    request: Request<pb::CatalogRetireServiceTypeRequest>,
) -> Result<Response<pb::CatalogServiceTypeResponse>, Status> {
    let code = request.get_ref().code.clone();
    let caller = admin(state, &request, Some(&code)).await?;
    let r = request.into_inner();
    let code = r.code.trim();
    let reason = r.reason.trim();
    if code.is_empty() {
        return Err(
            ApiError::invalid("code", "required", "请填写事项编码 (code is required)").into(),
        );
    }
    if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "reason",
            "reason_format",
            "停用原因不超过 200 个字且不含控制字符 (at most 200 characters)",
        )
        .into());
    }
    let (t, replayed) = answer(flow::catalog::retire(&state.pool, code, reason, &caller).await)?;
    tracing::info!(code = %t.code, replayed, "service type retired");
    Ok(Response::new(pb::CatalogServiceTypeResponse {
        service_type: Some(t),
        replayed,
    }))
}

/// `CatalogListServiceTypeHistory`: every version, oldest first.
pub async fn service_type_history(
    state: &State,
    request: Request<pb::CatalogListServiceTypeHistoryRequest>,
) -> Result<Response<pb::CatalogListServiceTypeHistoryResponse>, Status> {
    let code = request.get_ref().code.clone();
    admin(state, &request, Some(&code)).await?;
    let entries = flow::catalog::history(&state.pool, code.trim())
        .await
        .map_err(ApiError::from)?;
    Ok(Response::new(pb::CatalogListServiceTypeHistoryResponse {
        entries: entries.into_iter().map(convert::history_entry).collect(),
    }))
}
