//! The OpenAPI document, generated from the handlers' annotations.

use crate::{error, routes};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Bianmin 便民 API", description = "社区服务中心平台 REST API (community service center platform)", version = "1"),
    paths(
        routes::applications::submit,
        routes::applications::get,
        routes::catalog::centers,
        routes::catalog::services,
        routes::calendar::add_working_days,
        routes::health::healthz,
        routes::health::readyz,
    ),
    components(schemas(error::ErrorBody)),
    tags(
        (name = "applications", description = "申请与进度 (applications and progress)"),
        (name = "catalog", description = "服务中心与服务目录 (centers and the service catalog)"),
        (name = "calendar", description = "工作日历 (working-day calendar)"),
        (name = "health", description = "探针 (probes)"),
    )
)]
pub struct ApiDoc;
