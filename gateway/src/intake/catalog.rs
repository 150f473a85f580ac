//! `/api/v1/centers` and `/api/v1/catalog/services`: what residents read
//! before they apply.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppJson, ErrorBody, HttpError};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bianmin_proto::intake::v1 as pb;
use serde::{Deserialize, Serialize};
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
    /// What to bring (办事指南): each item with its group (`basic_info`
    /// 基本信息, `needs_form` 需求表, `proof` 证明材料) and whether it is
    /// required.
    pub materials: Vec<ChecklistItem>,
    /// RFC 3339 when retired, else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
    /// 1 when created, +1 at each change.
    pub version: u32,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ChecklistItem {
    #[schema(example = "id_card")]
    pub code: String,
    #[schema(example = "居民身份证复印件")]
    pub name: String,
    /// basic_info, needs_form or proof.
    #[schema(example = "basic_info")]
    pub group: String,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Department {
    #[schema(example = "civil_affairs")]
    pub code: String,
    #[schema(example = "民政")]
    pub name: String,
}

impl From<pb::ServiceType> for ServiceType {
    fn from(t: pb::ServiceType) -> Self {
        Self {
            code: t.code,
            name: t.name,
            domain: t.domain,
            class: t.class,
            preliminary_review_days: t.preliminary_review_days,
            extended_review_days: t.extended_review_days,
            decision_days: t.decision_days,
            sensitive: t.sensitive,
            active: t.active,
            materials: t
                .materials
                .into_iter()
                .map(|i| ChecklistItem {
                    code: i.code,
                    name: i.name,
                    group: i.group,
                    required: i.required,
                })
                .collect(),
            retired_at: Some(t.retired_at).filter(|r| !r.is_empty()),
            version: t.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CenterList {
    pub centers: Vec<Center>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTypeList {
    pub services: Vec<ServiceType>,
    /// Departments an application may name (`departments`, 一窗受理).
    pub departments: Vec<Department>,
}

/// The district's service centers.
#[utoipa::path(get, path = "/api/v1/centers", tag = "catalog",
    responses((status = 200, body = CenterList), (status = 503, body = ErrorBody)))]
pub async fn centers(State(state): State<AppState>) -> Result<Json<CenterList>, HttpError> {
    let list = super::client(&state)
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
    let list = super::client(&state)
        .list_service_types(state.grpc_request(pb::ListServiceTypesRequest {}))
        .await?
        .into_inner();
    Ok(Json(ServiceTypeList {
        services: list.service_types.into_iter().map(Into::into).collect(),
        departments: list
            .departments
            .into_iter()
            .map(|d| Department {
                code: d.code,
                name: d.name,
            })
            .collect(),
    }))
}

/// A service type definition, as a district administrator writes it.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ServiceTypeInput {
    /// Lower-case letters, digits, `-`, `_`; ignored on PUT (the path names
    /// the type).
    #[schema(example = "elderly-meal-subsidy")]
    pub code: String,
    #[schema(example = "老年助餐补贴")]
    pub name: String,
    /// 社会救助, 社区养老, 便民服务, 文化教育, 医疗卫生, 法律援助, 就业援助,
    /// 心理疏导, 水电气, 通信, 公共交通, 污水, 垃圾, 绿化 or 应急保障.
    #[schema(example = "社区养老")]
    pub domain: String,
    /// 基础, 辅助 or 特色.
    #[schema(example = "基础")]
    pub class: String,
    /// Working days for the preliminary review (e.g. 5; utilities 2).
    #[schema(example = 5)]
    pub preliminary_review_days: u32,
    /// Working days when materials are supplemented (e.g. 10; utilities 3).
    #[schema(example = 10)]
    pub extended_review_days: u32,
    /// Working days to the decision (e.g. 30).
    #[schema(example = 30)]
    pub decision_days: u32,
    pub sensitive: bool,
    pub materials: Vec<ChecklistItem>,
}

impl ServiceTypeInput {
    fn into_pb(self, code: String) -> pb::ServiceType {
        pb::ServiceType {
            code,
            name: self.name,
            domain: self.domain,
            class: self.class,
            preliminary_review_days: self.preliminary_review_days,
            extended_review_days: self.extended_review_days,
            decision_days: self.decision_days,
            sensitive: self.sensitive,
            materials: self
                .materials
                .into_iter()
                .map(|i| pb::CatalogChecklistItem {
                    code: i.code,
                    name: i.name,
                    group: i.group,
                    required: i.required,
                })
                .collect(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct RetireInput {
    /// Why it is retired (kept in the history).
    #[schema(example = "政策调整，并入居家养老服务补贴")]
    pub reason: String,
}

/// 200 for a replay, `created` otherwise; a replay says so in a header.
fn answer(created: StatusCode, r: pb::CatalogServiceTypeResponse) -> Response {
    let t: ServiceType = r.service_type.unwrap_or_default().into();
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
    let code = body.code.clone();
    let r = super::client(&state)
        .catalog_create_service_type(state.grpc_request_as(
            &caller,
            pb::CatalogCreateServiceTypeRequest {
                service_type: Some(body.into_pb(code)),
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
                service_type: Some(body.into_pb(code)),
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
    body: axum::body::Bytes,
) -> Result<Response, HttpError> {
    // The body is optional: an empty one retires without a reason.
    let input: RetireInput = if body.iter().all(u8::is_ascii_whitespace) {
        RetireInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            HttpError::invalid(
                "body",
                "json_syntax",
                format!("请求体须为 JSON，如 {{\"reason\": \"…\"}} ({e})"),
            )
        })?
    };
    let r = super::client(&state)
        .catalog_retire_service_type(state.grpc_request_as(
            &caller,
            pb::CatalogRetireServiceTypeRequest {
                code,
                reason: input.reason,
            },
        ))
        .await?
        .into_inner();
    Ok(answer(StatusCode::OK, r))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub version: u32,
    /// seeded, created, updated or retired.
    pub change: String,
    pub actor: String,
    pub role: String,
    pub at: String,
    pub reason: String,
    /// The type as it stood after the change.
    pub service_type: ServiceType,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
}

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
    Ok(Json(History {
        entries: r
            .entries
            .into_iter()
            .map(|e| HistoryEntry {
                version: e.version,
                change: e.change,
                actor: e.actor,
                role: e.role,
                at: e.at,
                reason: e.reason,
                service_type: e.service_type.unwrap_or_default().into(),
            })
            .collect(),
    }))
}
