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
        routes::reviews::list,
        routes::reviews::get,
        routes::reviews::measures,
        routes::reviews::act,
        routes::calendar::add_working_days,
        routes::health::healthz,
        routes::health::readyz,
    ),
    components(schemas(error::ErrorBody)),
    tags(
        (name = "applications", description = "申请与进度 (applications and progress)"),
        (name = "catalog", description = "服务中心与服务目录 (centers and the service catalog)"),
        (name = "reviews", description = "审核与服务流程：队列、案件、操作、指标 (review: queue, cases, lifecycle actions, measures)"),
        (name = "calendar", description = "工作日历 (working-day calendar)"),
        (name = "health", description = "探针 (probes)"),
    )
)]
pub struct ApiDoc;
