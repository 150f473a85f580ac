//! The backend services behind the gateway, as one list. Each backend is a
//! module of this crate (`intake`, `review`) that declares its REST routes
//! with their OpenAPI documentation; this list is the one registration a
//! new service needs here. Names and ports are those of
//! `deploy/services.txt` (a test compares them).

use crate::AppState;
use bianmin_common::balance::Balance;
use bianmin_common::config::Env;
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use utoipa_axum::router::OpenApiRouter;

/// What a backend module declares.
pub struct Backend {
    /// As in `deploy/services.txt`; its URL setting is `<NAME>_GRPC_URL`.
    pub name: &'static str,
    /// Its gRPC port in `deploy/services.txt`: the URL's default is
    /// `http://127.0.0.1:<port>`.
    pub default_port: u16,
    /// Its REST routes: those behind a verified token, and the public ones.
    pub routes: fn(&RouteLayers) -> Routes,
}

/// What single routes' own layers need (a body limit, a rate limit), apart
/// from the state the handlers get: the OpenAPI document is built from the
/// same routes without a running gateway.
#[derive(Clone)]
pub struct RouteLayers {
    pub limits: crate::limits::Limits,
    pub material_max_bytes: usize,
}

/// A backend's REST routes, with their OpenAPI documentation.
pub struct Routes {
    /// Every route here needs a verified bearer token (the gateway adds the
    /// check); the service applies its own permission rules.
    pub protected: OpenApiRouter<AppState>,
    /// Reached without a token (the catalog, the public progress page).
    pub public: OpenApiRouter<AppState>,
}

/// Every backend, in the order of `deploy/services.txt`.
pub const BACKENDS: &[Backend] = &[
    crate::intake::BACKEND,
    crate::review::BACKEND,
    crate::complaint::BACKEND,
];

/// Where each backend is (`<NAME>_GRPC_URL`), read from the settings.
pub fn urls(env: &mut Env) -> Vec<(&'static str, String)> {
    BACKENDS
        .iter()
        .map(|b| {
            let key = format!("{}_GRPC_URL", b.name.to_uppercase());
            let default = format!("http://127.0.0.1:{}", b.default_port);
            (b.name, env.string(&key, &default))
        })
        .collect()
}

/// The channels to the backends, by name. A channel connects lazily, so
/// the gateway starts before its backends; calls fail UNAVAILABLE until
/// they answer.
#[derive(Clone, Debug)]
pub struct Channels(Vec<(&'static str, Channel)>);

impl Channels {
    pub fn connect(urls: &[(&'static str, String)], balance: Balance) -> anyhow::Result<Self> {
        urls.iter()
            .map(|(name, url)| Ok((*name, bianmin_common::grpc::channel(url, balance)?)))
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    /// The channel to backend `name`, one of [`BACKENDS`].
    pub fn get(&self, name: &str) -> Channel {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("{name} is not in the gateway's BACKENDS"))
    }

    /// Whether each backend reports SERVING, asked at once, each within
    /// two seconds.
    pub async fn serving(&self) -> Vec<(&'static str, bool)> {
        let checks = self.0.iter().map(|(name, channel)| async move {
            let mut client = HealthClient::new(channel.clone());
            let mut request = tonic::Request::new(HealthCheckRequest {
                service: String::new(),
            });
            request.set_timeout(std::time::Duration::from_secs(2));
            let serving = matches!(client.check(request).await,
                Ok(r) if r.get_ref().status() == ServingStatus::Serving);
            (*name, serving)
        });
        futures::future::join_all(checks).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backends_are_those_of_the_services_list() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/services.txt");
        let listed: Vec<(String, u16)> = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut cols = l.split_whitespace();
                let name = cols.next().unwrap().to_string();
                (name, cols.next().unwrap().parse().unwrap())
            })
            .collect();
        let here: Vec<(String, u16)> = BACKENDS
            .iter()
            .map(|b| (b.name.to_string(), b.default_port))
            .collect();
        assert_eq!(
            here, listed,
            "gateway BACKENDS and deploy/services.txt differ"
        );
    }
}

#[cfg(test)]
mod document_tests {
    use serde_json::Value;

    #[test]
    fn every_operation_is_its_own_documented_route() {
        let doc: Value = serde_json::to_value(crate::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (action, schema) in [
            ("accept", "Accept"),
            ("request_supplement", "RequestSupplement"),
            ("resume", "Resume"),
            ("extend", "Extend"),
            ("start_joint_review", "StartJointReview"),
            ("sign_off", "SignOffJoint"),
            ("decide", "Decide"),
            ("plan", "ServicePlan"),
            ("complete_task", "CompleteTask"),
            ("record_feedback", "RecordFeedback"),
            ("check_acceptance", "CheckAcceptance"),
            ("close", "Close"),
            ("assign", "Assign"),
        ] {
            let op = &paths[&format!("/api/v1/reviews/{{id}}/{action}")]["post"];
            let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{action} has no request schema: {op}"));
            assert!(body.ends_with(&format!("/{schema}")), "{action}: {body}");
            assert!(
                doc["components"]["schemas"][schema].is_object(),
                "{schema} is not in the document's schemas"
            );
        }
        assert!(!paths.contains_key("/api/v1/reviews/{id}/{action}"));
        // The backends' routes, public and protected, and the gateway's own.
        for path in [
            "/api/v1/applications",
            "/api/v1/applications/{id}/materials",
            "/api/v1/catalog/services",
            "/api/v1/centers",
            "/api/v1/public/applications/{application_no}",
            "/api/v1/reviews",
            "/api/v1/reviews/measures",
            "/api/v1/calendar/add-working-days",
            "/api/v1/auth/login",
            "/.well-known/jwks.json",
            "/healthz",
            "/readyz",
        ] {
            assert!(paths.contains_key(path), "{path} missing from the document");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        // Every operation behind a token says so; the open ones do not.
        let open = [
            "/api/v1/centers",
            "/api/v1/catalog/services",
            "/api/v1/public/applications/{application_no}",
            "/api/v1/calendar/add-working-days",
            "/api/v1/auth/login",
            "/.well-known/jwks.json",
            "/healthz",
            "/readyz",
        ];
        for (path, operations) in paths {
            for (method, op) in operations.as_object().unwrap() {
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                let public = open.contains(&path.as_str())
                    && !(path == "/api/v1/catalog/services" && method == "post");
                assert_eq!(
                    secured, !public,
                    "{method} {path}: security {}",
                    op["security"]
                );
            }
        }
        // A file is binary, not a list of numbers.
        let upload = &paths["/api/v1/applications/{id}/materials"]["post"]["requestBody"];
        let schema = upload["content"]["application/octet-stream"]["schema"]["$ref"]
            .as_str()
            .unwrap();
        let name = schema.rsplit('/').next().unwrap();
        assert_eq!(doc["components"]["schemas"][name]["format"], "binary");
    }

    #[test]
    fn edge_answers_are_documented_on_every_operation() {
        let doc: Value = serde_json::to_value(crate::document()).unwrap();
        for (path, operations) in doc["paths"].as_object().unwrap() {
            for (method, op) in operations.as_object().unwrap() {
                let responses = &op["responses"];
                for status in ["429", "414"] {
                    assert!(
                        responses[status].is_object(),
                        "{method} {path}: no {status}"
                    );
                }
                assert!(
                    responses["429"]["headers"]["Retry-After"].is_object(),
                    "{method} {path}: 429 without Retry-After"
                );
                if op.get("requestBody").is_some() || method == "post" || method == "put" {
                    for status in ["400", "413"] {
                        assert!(
                            responses[status].is_object(),
                            "{method} {path}: no {status}"
                        );
                    }
                }
            }
        }
        // A field's own bound where the service has one, the edge's elsewhere.
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Accept"]["properties"]["reason"]["maxLength"], 500);
        assert_eq!(
            schemas["RequestSupplement"]["properties"]["missing_items"]["maxItems"],
            50
        );
        assert_eq!(schemas["Close"]["properties"]["results"]["maxLength"], 2000);
        assert_eq!(
            schemas["SubmitApplicationRequest"]["properties"]["reason"]["maxLength"],
            1000
        );
        assert_eq!(
            schemas["SubmitApplicationRequest"]["properties"]["service_type"]["maxLength"],
            crate::error::MAX_TEXT_CHARS
        );
        // Every string and list of every request body is bounded.
        fn unbounded(v: &Value, at: &str, out: &mut Vec<String>) {
            let ty = v["type"].as_str().unwrap_or_default();
            if ty == "string"
                && v["maxLength"].is_null()
                && v["format"] != "binary"
                && v["enum"].is_null()
            {
                out.push(at.to_string());
            }
            if ty == "array" && v["maxItems"].is_null() {
                out.push(at.to_string());
            }
            if let Some(props) = v["properties"].as_object() {
                for (k, p) in props {
                    unbounded(p, &format!("{at}.{k}"), out);
                }
            }
        }
        let mut missing = Vec::new();
        for name in [
            "SubmitApplicationRequest",
            "Accept",
            "ServicePlan",
            "Assign",
            "Close",
        ] {
            unbounded(&schemas[name], name, &mut missing);
        }
        assert!(missing.is_empty(), "unbounded: {missing:?}");
    }
}
