//! The OpenAPI document's frame: title, tags, the bearer scheme. The paths
//! come from the routers themselves (each backend module's `routes!`, see
//! `crate::router`), so a route cannot be served undocumented.

use crate::error;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Bianmin 便民 API", description = "社区服务中心平台 REST API (community service center platform)", version = "1"),
    components(schemas(error::ErrorBody)),
    tags(
        (name = "applications", description = "申请与进度 (applications and progress)"),
        (name = "catalog", description = "服务中心与服务目录 (centers and the service catalog)"),
        (name = "reviews", description = "审核与服务流程：队列、案件、操作、指标 (review: queue, cases, lifecycle actions, measures)"),
        (name = "calendar", description = "工作日历 (working-day calendar)"),
        (name = "health", description = "探针 (probes)"),
        (name = "auth", description = "登录与公钥 (login and keys)"),
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme the protected paths refer to.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
