//! W3C trace context across every hop: gRPC metadata (HTTP/2 headers) and
//! NATS message headers, in both directions, plus the `traceparent` string
//! an outbox row keeps so the relay can continue the trace it was written in.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct HttpHeaders<'a>(&'a mut http::HeaderMap);

impl Injector for HttpHeaders<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HttpHeadersRef<'a>(&'a http::HeaderMap);

impl Extractor for HttpHeadersRef<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct NatsHeaders<'a>(&'a mut async_nats::HeaderMap);

impl Injector for NatsHeaders<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct NatsHeadersRef<'a>(&'a async_nats::HeaderMap);

impl Extractor for NatsHeadersRef<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

/// A map holding just `traceparent` / `tracestate`, for storing with a row.
struct StringMap<'a>(&'a mut std::collections::HashMap<String, String>);

impl Injector for StringMap<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

struct StringMapRef<'a>(&'a std::collections::HashMap<String, String>);

impl Extractor for StringMapRef<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

fn inject(injector: &mut dyn Injector) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, injector));
}

fn extract(extractor: &dyn Extractor) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(extractor))
}

/// Writes the current span's context into HTTP/gRPC headers.
pub fn inject_http(headers: &mut http::HeaderMap) {
    inject(&mut HttpHeaders(headers));
}

/// Makes `span` a child of the context carried by HTTP/gRPC headers.
pub fn set_parent_from_http(span: &tracing::Span, headers: &http::HeaderMap) {
    let _ = span.set_parent(extract(&HttpHeadersRef(headers)));
}

/// Writes the current span's context into NATS message headers.
pub fn inject_nats(headers: &mut async_nats::HeaderMap) {
    inject(&mut NatsHeaders(headers));
}

/// Makes `span` a child of the context carried by NATS message headers.
pub fn set_parent_from_nats(span: &tracing::Span, headers: &async_nats::HeaderMap) {
    let _ = span.set_parent(extract(&NatsHeadersRef(headers)));
}

/// The current span's `traceparent`, to store beside an outbox row.
pub fn current_traceparent() -> Option<String> {
    let mut map = std::collections::HashMap::new();
    inject(&mut StringMap(&mut map));
    map.remove("traceparent")
}

/// Makes `span` a child of a stored `traceparent`.
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) {
    let map =
        std::collections::HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let _ = span.set_parent(extract(&StringMapRef(&map)));
}

/// A tonic client interceptor: puts the current trace context into the
/// request metadata, and passes on what is left of the caller's own gRPC
/// deadline (see [`crate::deadline`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientContext;

impl tonic::service::Interceptor for ClientContext {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let mut headers = std::mem::take(request.metadata_mut()).into_headers();
        inject_http(&mut headers);
        *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
        if let Some(left) = crate::deadline::remaining() {
            if left.is_zero() {
                return Err(tonic::Status::deadline_exceeded(
                    "the caller's deadline has passed",
                ));
            }
            request.set_timeout(left);
        }
        Ok(request)
    }
}
