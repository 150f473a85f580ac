//! The OpenAPI document, generated from the handlers' annotations.

use crate::{auth, error, routes};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Bianmin 便民 API", description = "社区服务中心平台 REST API (community service center platform)", version = "1"),
    paths(
        routes::applications::submit,
        routes::applications::get,
        routes::applications::applicant_in_full,
        routes::applications::by_id_number,
        routes::applications::supplement,
        routes::applications::withdraw,
        routes::applications::public_progress,
        routes::catalog::centers,
        routes::catalog::services,
        routes::catalog::create,
        routes::catalog::update,
        routes::catalog::retire,
        routes::catalog::history,
        routes::materials::upload,
        routes::materials::download,
        routes::reviews::list,
        routes::reviews::get,
        routes::reviews::measures,
        routes::reviews::act,
        routes::calendar::add_working_days,
        routes::health::healthz,
        routes::health::readyz,
        auth::idp::login,
        auth::idp::jwks,
    ),
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
