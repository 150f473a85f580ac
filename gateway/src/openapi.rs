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

/// What the edge answers on any route, documented once for every
/// operation so that none can forget them (and a generated client or a
/// fuzzer knows them): `429` with `Retry-After` and `414` everywhere;
/// `400` wherever a body or a parameter is read, `413` wherever a body
/// may be sent. And the edge's bounds
/// (`error::MAX_TEXT_CHARS`, `error::MAX_LIST_ITEMS`) on every string and
/// list of a request body's schema that states no tighter bound of its
/// own (`proto/bounds.rs`).
pub fn with_edge_answers(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use serde_json::{Value, json};
    let mut v = serde_json::to_value(&doc).expect("the document serializes");
    let error_body = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}});
    let answer = |description: &str| {
        let mut a = error_body.clone();
        a["description"] = json!(description);
        a
    };
    let mut body_schemas = Vec::new();
    if let Some(paths) = v["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for method in ["get", "put", "post", "delete", "patch"] {
                let Some(op) = item.get_mut(method) else {
                    continue;
                };
                let body = op.get("requestBody").cloned();
                let has_parameters = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|p| !p.is_empty());
                let responses = op["responses"].as_object_mut().expect("responses");
                let limited = responses.entry("429").or_insert_with(|| {
                    answer("请求过于频繁，请按 Retry-After 稍后再试 (rate limited; retry after Retry-After seconds)")
                });
                limited["headers"]["Retry-After"] =
                    json!({"description": "秒 (seconds)", "schema": {"type": "integer"}});
                responses
                    .entry("414")
                    .or_insert_with(|| answer("地址过长 (URI too long)"));
                // A body may be sent to any POST or PUT (an optional one
                // is read when present), and query and path parameters are
                // parsed too: each refusal is a 400 naming what was wrong.
                let sends_body = matches!(method, "post" | "put" | "patch");
                if sends_body || has_parameters || body.is_some() {
                    responses.entry("400").or_insert_with(|| {
                        answer("请求有误，error.details 列出字段与规则 (bad input; error.details names each field and rule)")
                    });
                }
                if sends_body || body.is_some() {
                    responses
                        .entry("413")
                        .or_insert_with(|| answer("请求体过大 (request body too large)"));
                }
                if let Some(body) = body {
                    collect_refs(&body, &mut body_schemas);
                }
            }
        }
    }
    // Every schema a request body reaches, following references.
    let schemas = v["components"]["schemas"].clone();
    let mut reached: Vec<String> = Vec::new();
    while let Some(name) = body_schemas.pop() {
        if reached.contains(&name) {
            continue;
        }
        collect_refs(&schemas[&name], &mut body_schemas);
        reached.push(name);
    }
    for name in reached {
        bound(&mut v["components"]["schemas"][&name]);
    }
    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    if let Some(name) = r.strip_prefix("#/components/schemas/") {
                        out.push(name.to_string());
                    }
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
    fn is(schema: &Value, ty: &str) -> bool {
        match &schema["type"] {
            Value::String(t) => t == ty,
            Value::Array(ts) => ts.iter().any(|t| t == ty),
            _ => false,
        }
    }
    fn bound(schema: &mut Value) {
        if is(schema, "string")
            && schema.get("maxLength").is_none()
            && schema.get("format").is_none_or(|f| f != "binary")
        {
            schema["maxLength"] = json!(crate::error::MAX_TEXT_CHARS);
        }
        if is(schema, "array") && schema.get("maxItems").is_none() {
            schema["maxItems"] = json!(crate::error::MAX_LIST_ITEMS);
        }
        if let Some(items) = schema.get_mut("items") {
            bound(items);
        }
        if let Some(Value::Object(props)) = schema.get_mut("properties") {
            props.values_mut().for_each(bound);
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(Value::Array(alts)) = schema.get_mut(key) {
                alts.iter_mut().for_each(bound);
            }
        }
    }
    serde_json::from_value(v).expect("the document reads back")
}
