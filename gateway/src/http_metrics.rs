//! The gateway's request figures: `bianmin_http_requests_total` by method,
//! route template and status, and `bianmin_http_request_duration_seconds`
//! by method and route template (the recorder and `/metrics` are the
//! shared ones, `bianmin_common::metrics`).
//!
//! Two layers, because the route is known only after routing and some
//! answers come before it (rate limits, timeouts, 404s): [`track`] wraps
//! the whole router and records every request; [`matched`], a route layer,
//! tells it which route template matched. A request no route matched is
//! `route="unmatched"`, so made-up paths cannot grow the label set, and a
//! path's ids never become labels (the template `/api/v1/applications/{id}`
//! is the label, not the path).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Where [`matched`] leaves the route template for [`track`].
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

pub const UNMATCHED: &str = "unmatched";

/// Outermost: counts and times every request.
pub async fn track(mut request: Request, next: Next) -> Response {
    let slot = RouteSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = slot
        .0
        .get()
        .cloned()
        .unwrap_or_else(|| UNMATCHED.to_string());
    let status = response.status().as_u16().to_string();
    metrics::counter!("bianmin_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status)
    .increment(1);
    metrics::histogram!("bianmin_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A route layer: the template of the route that matched.
pub async fn matched(request: Request, next: Next) -> Response {
    if let (Some(slot), Some(path)) = (
        request.extensions().get::<RouteSlot>(),
        request.extensions().get::<MatchedPath>(),
    ) {
        let _ = slot.0.set(path.as_str().to_string());
    }
    next.run(request).await
}

fn method_label(method: &http::Method) -> &'static str {
    use http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_a_bounded_set() {
        assert_eq!(method_label(&http::Method::POST), "POST");
        assert_eq!(
            method_label(&http::Method::from_bytes(b"BREW").unwrap()),
            "other"
        );
    }
}
