//! `/api/v1/centers` and `/api/v1/catalog/services`: what residents read
//! before they apply.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppJson, ErrorBody, HttpError, OptionalJson};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bianmin_proto::intake::v1 as pb;

/// The district's centers, as intake answers them.
pub type CenterList = pb::ListCentersResponse;
/// The service catalog (`services`) and the departments an application may
/// name (`departments`, 一窗受理).
pub type ServiceTypeList = pb::ListServiceTypesResponse;
/// A service type: its policy in working days and its materials checklist.
pub type ServiceType = pb::ServiceType;

/// The district's service centers.
#[utoipa::path(get, path = "/api/v1/centers", tag = "catalog",
    responses((status = 200, body = CenterList), (status = 503, body = ErrorBody)))]
pub async fn centers(State(state): State<AppState>) -> Result<Json<CenterList>, HttpError> {
    let list = super::client(&state)
        .list_centers(state.grpc_request(pb::ListCentersRequest {}))
        .await?
        .into_inner();
    Ok(Json(list))
}

/// The service catalog with each type's time limits in working days.
#[utoipa::path(get, path = "/api/v1/catalog/services", tag = "catalog",
    responses((status = 200, body = ServiceTypeList), (status = 503, body = ErrorBody)))]
pub async fn services(State(state): State<AppState>) -> Result<Json<ServiceTypeList>, HttpError> {
    let list = super::client(&state)
        .list_service_types(state.grpc_request(pb::ListServiceTypesRequest {}))
        .await?
        .into_inner();
    Ok(Json(list))
}

/// A service type definition, as a district administrator writes it: a
/// `ServiceType` whose `active`, `retired_at` and `version` are the
/// catalog's to set (ignored here); on PUT the path names the type. Each
/// checklist item is required unless it says `"required": false`.
pub type ServiceTypeInput = pb::ServiceType;

/// Why a type is retired (kept in the history); the body is optional.
pub type RetireInput = pb::CatalogRetireServiceTypeRequest;

/// What an administrator may set of a type: the catalog keeps the rest.
fn definition(input: ServiceTypeInput) -> pb::ServiceType {
    pb::ServiceType {
        active: false,
        retired_at: String::new(),
        version: 0,
        ..input
    }
}

/// 200 for a replay, `created` otherwise; a replay says so in a header.
fn answer(created: StatusCode, r: pb::CatalogServiceTypeResponse) -> Response {
    let t: ServiceType = r.service_type.unwrap_or_default();
    let status = if r.replayed { StatusCode::OK } else { created };
    let mut response = (status, Json(t)).into_response();
    if r.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Create a service type (district administrators). Idempotent on the code:
/// the same definition again answers 200 with the stored type; another
/// definition under a taken code is 409.
#[utoipa::path(post, path = "/api/v1/catalog/services", tag = "catalog", security(("bearer" = [])),
    request_body = ServiceTypeInput,
    responses(
        (status = 201, description = "created", body = ServiceType),
        (status = 200, description = "the same definition was already created", body = ServiceType),
        (status = 400, description = "every broken rule", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "only district administrators manage the catalog", body = ErrorBody),
        (status = 409, description = "the code is taken by another definition", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AppJson(body): AppJson<ServiceTypeInput>,
) -> Result<Response, HttpError> {
    let r = super::client(&state)
        .catalog_create_service_type(state.grpc_request_as(
            &caller,
            pb::CatalogCreateServiceTypeRequest {
                service_type: Some(definition(body)),
            },
        ))
        .await?
        .into_inner();
    Ok(answer(StatusCode::CREATED, r))
}

/// Change a service type (district administrators). Applications already
/// submitted keep the policy and checklist they were submitted under.
#[utoipa::path(put, path = "/api/v1/catalog/services/{code}", tag = "catalog", security(("bearer" = [])),
    params(("code" = String, Path, description = "service type code")),
    request_body = ServiceTypeInput,
    responses(
        (status = 200, body = ServiceType),
        (status = 400, description = "every broken rule", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "no such service type", body = ErrorBody),
        (status = 409, description = "the type is retired", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    AppJson(body): AppJson<ServiceTypeInput>,
) -> Result<Response, HttpError> {
    let r = super::client(&state)
        .catalog_update_service_type(state.grpc_request_as(
            &caller,
            pb::CatalogUpdateServiceTypeRequest {
                service_type: Some(ServiceTypeInput {
                    code,
                    ..definition(body)
                }),
            },
        ))
        .await?
        .into_inner();
    Ok(answer(StatusCode::OK, r))
}

/// Retire a service type (district administrators): it takes no new
/// applications. Retiring a retired type changes nothing.
#[utoipa::path(post, path = "/api/v1/catalog/services/{code}/retire", tag = "catalog", security(("bearer" = [])),
    params(("code" = String, Path, description = "service type code")),
    request_body(content = RetireInput, description = "optional"),
    responses(
        (status = 200, body = ServiceType),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "no such service type", body = ErrorBody),
    ))]
pub async fn retire(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    // The body is optional: none retires without a reason.
    OptionalJson(input): OptionalJson<RetireInput>,
) -> Result<Response, HttpError> {
    let r = super::client(&state)
        .catalog_retire_service_type(state.grpc_request_as(
            &caller,
            pb::CatalogRetireServiceTypeRequest { code, ..input },
        ))
        .await?
        .into_inner();
    Ok(answer(StatusCode::OK, r))
}

/// Every change of a type: version, what changed (seeded, created, updated
/// or retired), who, when, why, and the type as it stood after.
pub type History = pb::CatalogListServiceTypeHistoryResponse;

/// Every change of a service type: who, when, what (district administrators).
#[utoipa::path(get, path = "/api/v1/catalog/services/{code}/history", tag = "catalog", security(("bearer" = [])),
    params(("code" = String, Path, description = "service type code")),
    responses(
        (status = 200, body = History),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn history(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
) -> Result<Json<History>, HttpError> {
    let r = super::client(&state)
        .catalog_list_service_type_history(
            state.grpc_request_as(&caller, pb::CatalogListServiceTypeHistoryRequest { code }),
        )
        .await?
        .into_inner();
    Ok(Json(r))
}
