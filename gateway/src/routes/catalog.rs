//! `/api/v1/centers` and `/api/v1/catalog/services`: what residents read
//! before they apply.

use crate::AppState;
use crate::error::{ErrorBody, HttpError};
use axum::Json;
use axum::extract::State;
use bianmin_proto::intake::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Center {
    #[schema(example = "C01")]
    pub id: String,
    pub name: String,
    pub district: String,
    pub address: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceType {
    #[schema(example = "elderly-care-subsidy")]
    pub code: String,
    pub name: String,
    /// 社会救助, 社区养老, 便民服务, ...
    pub domain: String,
    /// 基础, 辅助 or 特色.
    pub class: String,
    pub preliminary_review_days: u32,
    pub extended_review_days: u32,
    pub decision_days: u32,
    /// Handles sensitive data (medical, elderly care).
    pub sensitive: bool,
    /// Retired types take no new applications.
    pub active: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CenterList {
    pub centers: Vec<Center>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTypeList {
    pub services: Vec<ServiceType>,
}

/// The district's service centers.
#[utoipa::path(get, path = "/api/v1/centers", tag = "catalog",
    responses((status = 200, body = CenterList), (status = 503, body = ErrorBody)))]
pub async fn centers(State(state): State<AppState>) -> Result<Json<CenterList>, HttpError> {
    let list = state
        .intake
        .clone()
        .list_centers(state.grpc_request(pb::ListCentersRequest {}))
        .await?
        .into_inner();
    Ok(Json(CenterList {
        centers: list
            .centers
            .into_iter()
            .map(|c| Center {
                id: c.id,
                name: c.name,
                district: c.district,
                address: c.address,
            })
            .collect(),
    }))
}

/// The service catalog with each type's time limits in working days.
#[utoipa::path(get, path = "/api/v1/catalog/services", tag = "catalog",
    responses((status = 200, body = ServiceTypeList), (status = 503, body = ErrorBody)))]
pub async fn services(State(state): State<AppState>) -> Result<Json<ServiceTypeList>, HttpError> {
    let list = state
        .intake
        .clone()
        .list_service_types(state.grpc_request(pb::ListServiceTypesRequest {}))
        .await?
        .into_inner();
    Ok(Json(ServiceTypeList {
        services: list
            .service_types
            .into_iter()
            .map(|t| ServiceType {
                code: t.code,
                name: t.name,
                domain: t.domain,
                class: t.class,
                preliminary_review_days: t.preliminary_review_days,
                extended_review_days: t.extended_review_days,
                decision_days: t.decision_days,
                sensitive: t.sensitive,
                active: t.active,
            })
            .collect(),
    }))
}
