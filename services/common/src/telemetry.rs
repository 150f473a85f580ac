//! Logs and traces.
//!
//! Logs are structured (`LOG_FORMAT=json` or `text`, filtered by `RUST_LOG`)
//! and every line written inside a span carries its `trace_id`. Spans are
//! exported over OTLP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; `OTEL_EXPORTER_OTLP_PROTOCOL`
//! chooses `grpc` (default) or `http/protobuf`, and `OTEL_SERVICE_NAME`
//! overrides the service name. A level filter is always installed: without
//! one, hyper/h2 internals export dozens of spans per request.

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::fmt::FormatFields as _;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// Flushes buffered spans when dropped; keep it alive for the life of `main`.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans at exit failed: {e}");
        }
    }
}

fn otlp_configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()))
}

/// Always a provider, so every span has a trace id to log and propagate;
/// spans leave the process only when an OTLP endpoint is configured.
fn tracer_provider(service: &str) -> anyhow::Result<SdkTracerProvider> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(
            std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_string()),
        )
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    if !otlp_configured() {
        return Ok(builder.build());
    }
    let protocol = std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_else(|_| "grpc".into());
    let exporter = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match protocol.as_str() {
        "grpc" => exporter.with_tonic().build()?,
        "http/protobuf" => exporter.with_http().build()?,
        other => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other} is not supported; use grpc or http/protobuf"
        ),
    };
    Ok(builder.with_batch_exporter(exporter).build())
}

/// Installs the global subscriber and the W3C trace-context propagator.
/// `service` names the service in spans unless `OTEL_SERVICE_NAME` is set.
/// A panic is logged with where it happened, never with its message or a
/// backtrace: a message may quote what a request carried (an ID number, a
/// phone number), and the logs must never hold one. The place in the code
/// is enough to find the bug.
pub fn withhold_panic_messages() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic (its message is withheld: it may hold personal data)");
        eprintln!("panic at {location} (message withheld)");
    }));
}

pub fn init(service: &str) -> anyhow::Result<TelemetryGuard> {
    withhold_panic_messages();
    // The OTLP/HTTP exporter builds a reqwest client (see http_client).
    crate::http_client::install_crypto_provider();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let filter = || {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            EnvFilter::new("info,h2=warn,hyper=warn,tower=warn,sqlx=warn,async_nats=warn")
        })
    };
    let json = std::env::var("LOG_FORMAT")
        .map(|v| v == "json")
        .unwrap_or(false);
    // LOG_SPAN_CLOSE=1 logs every span's busy and idle time when it closes:
    // a cheap profile of where a request's time goes, without a collector.
    let span_events = if std::env::var("LOG_SPAN_CLOSE").is_ok_and(|v| v == "1") {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    let fmt_layer = tracing_subscriber::fmt::layer()
        .with_span_events(span_events)
        .event_format(TraceIdFormat { json })
        .with_filter(filter());

    let provider = tracer_provider(service)?;
    let tracer = provider.tracer(service.to_string());
    opentelemetry::global::set_tracer_provider(provider.clone());
    let guard = TelemetryGuard {
        provider: Some(provider),
    };
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(filter());

    tracing_subscriber::registry()
        .with(otel_layer)
        .with(fmt_layer)
        .try_init()?;
    Ok(guard)
}

/// The trace id of the current span, if it has a valid context.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// An event format that writes the current `trace_id` next to the message,
/// so a log line can be matched to its trace.
struct TraceIdFormat {
    json: bool,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for TraceIdFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let trace_id = current_trace_id();
        let mut fields = String::new();
        {
            let w = tracing_subscriber::fmt::format::Writer::new(&mut fields);
            if self.json {
                let mut visitor = JsonVisitor::default();
                event.record(&mut visitor);
                let mut map = visitor.0;
                map.insert("timestamp".into(), now.into());
                map.insert("level".into(), meta.level().as_str().into());
                map.insert("target".into(), meta.target().into());
                if let Some(id) = &trace_id {
                    map.insert("trace_id".into(), id.clone().into());
                }
                if let Some(scope) = ctx.event_scope() {
                    let spans: Vec<_> = scope.from_root().map(|s| s.name()).collect();
                    map.insert("spans".into(), spans.join(">").into());
                }
                return writeln!(writer, "{}", serde_json::Value::Object(map));
            }
            ctx.format_fields(w, event)?;
        }
        write!(writer, "{now} {:>5} {}", meta.level(), meta.target())?;
        if let Some(id) = trace_id {
            write!(writer, " trace_id={id}")?;
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, " {}", span.name())?;
            }
        }
        writeln!(writer, ": {fields}")
    }
}

#[derive(Default)]
struct JsonVisitor(serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonVisitor {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
