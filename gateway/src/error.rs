//! HTTP errors: one JSON shape for every failure, mapped from gRPC codes.
//!
//! ```json
//! {"error": {"code": "invalid_argument", "message": "...",
//!            "violations": [{"field": "applicant.id_number", "rule": "id_number_check_digit", "message": "..."}]}}
//! ```

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bianmin_common::error::{FieldViolation, violations};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: invalid_argument, not_found, conflict, unavailable, ...
    pub code: &'static str,
    /// For people, Chinese first.
    pub message: String,
    /// One entry per broken input rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Violation {
    pub field: String,
    pub rule: String,
    pub message: String,
}

#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub violations: Vec<FieldViolation>,
}

impl HttpError {
    pub fn invalid(field: &str, rule: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_argument",
            message: format!("{field}: {message}"),
            violations: vec![FieldViolation::new(field, rule, message)],
        }
    }
}

impl From<tonic::Status> for HttpError {
    fn from(status: tonic::Status) -> Self {
        use tonic::Code;
        let (http, code) = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => {
                (StatusCode::BAD_REQUEST, "invalid_argument")
            }
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::AlreadyExists | Code::Aborted => (StatusCode::CONFLICT, "conflict"),
            Code::FailedPrecondition => (StatusCode::CONFLICT, "failed_precondition"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            // No backend limits rates (the gateway does, before calling
            // one): from a backend this is the transport refusing a
            // message, too large or malformed, never a reason to retry later.
            Code::ResourceExhausted if status.message().contains("too large") => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            Code::ResourceExhausted => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded"),
            Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match status.code() {
            // tonic's transport messages are not for residents.
            Code::Unavailable
                if status.message().is_empty() || status.message().contains("transport") =>
            {
                "服务暂不可用，请稍后重试 (service unavailable, retry later)".to_string()
            }
            Code::ResourceExhausted if http == StatusCode::PAYLOAD_TOO_LARGE => {
                "请求或应答超出大小限制 (too large)".to_string()
            }
            Code::Unknown
            | Code::Internal
            | Code::DataLoss
            | Code::Unimplemented
            | Code::ResourceExhausted => {
                tracing::error!(code = ?status.code(), message = status.message(), "backend error");
                "内部错误，请稍后重试 (internal error)".to_string()
            }
            _ => status.message().to_string(),
        };
        Self {
            status: http,
            code,
            message,
            violations: violations(&status),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                violations: self
                    .violations
                    .into_iter()
                    .map(|v| Violation {
                        field: v.field,
                        rule: v.rule,
                        message: v.message,
                    })
                    .collect(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// JSON bodies that fail to parse answer in the same shape.
impl From<axum::extract::rejection::JsonRejection> for HttpError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection::*;
        let (rule, detail) = match &rejection {
            JsonDataError(e) => ("json_schema", e.body_text()),
            JsonSyntaxError(e) => ("json_syntax", e.body_text()),
            MissingJsonContentType(_) => (
                "content_type",
                "Content-Type 须为 application/json (expected application/json)".into(),
            ),
            other => ("json", other.body_text()),
        };
        let status = rejection.status();
        let mut e = HttpError::invalid(
            "body",
            rule,
            format!("请求体不是有效的 JSON 申请 ({detail})"),
        );
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            e.status = status;
            e.code = "payload_too_large";
        }
        e
    }
}

/// A query string read into `T`, or a JSON 400 naming the parameter that
/// is wrong (axum's own `Query` answers plain text, which no client of the
/// document expects).
pub struct AppQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for AppQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, HttpError> {
        let query = parts.uri.query().unwrap_or_default().as_bytes();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query));
        serde_path_to_error::deserialize(deserializer)
            .map(AppQuery)
            .map_err(|e| {
                let field = match e.path().to_string() {
                    p if p == "." || p.is_empty() => "query".to_string(),
                    p => p,
                };
                HttpError::invalid(
                    &field,
                    "query_parameter",
                    format!("查询参数有误 (bad query parameter: {})", e.inner()),
                )
            })
    }
}

/// A JSON body whose rejection is an [`HttpError`], and whose text holds no
/// control character but tab and line breaks: a NUL would only fail later
/// in a database, a terminal escape in a staff member's screen or log.
pub struct AppJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = HttpError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, HttpError> {
        let axum::Json(value) =
            axum::Json::<serde_json::Value>::from_request(request, state).await?;
        json_value(value).map(AppJson)
    }
}

/// The longest text any field of a JSON body may hold, in characters; a
/// service's own rule for a field may be tighter.
pub const MAX_TEXT_CHARS: usize = 2000;
/// The most items any list in a JSON body may hold.
pub const MAX_LIST_ITEMS: usize = 100;

/// Reads `T` from a JSON value already parsed, refusing (400 naming the
/// field) control characters in any string, a string longer than
/// [`MAX_TEXT_CHARS`] and a list longer than [`MAX_LIST_ITEMS`]: bounds
/// every field of every body has, whatever its service adds.
pub fn json_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, HttpError> {
    if let Some((field, broken)) = out_of_bounds(&value, String::new()) {
        let (rule, message) = match broken {
            Broken::Control => (
                "control_character",
                "不得含控制字符 (no control characters; tab and line breaks are allowed)"
                    .to_string(),
            ),
            Broken::TooLong => (
                "too_long",
                format!("不超过 {MAX_TEXT_CHARS} 个字 (at most {MAX_TEXT_CHARS} characters)"),
            ),
            Broken::TooMany => (
                "too_many",
                format!("不超过 {MAX_LIST_ITEMS} 项 (at most {MAX_LIST_ITEMS} items)"),
            ),
        };
        return Err(HttpError::invalid(&field, rule, message));
    }
    serde_json::from_value(value).map_err(|e| {
        HttpError::invalid(
            "body",
            "json_schema",
            format!(
                "请求体字段类型不符 ({})",
                crate::error::bounded_detail(&e.to_string())
            ),
        )
    })
}

/// A JSON body that may be left out (an action without fields): none at
/// all is `{}`; one that is sent must say `Content-Type: application/json`,
/// like every other body, and is checked like [`AppJson`].
pub struct OptionalJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = HttpError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, HttpError> {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || m.ends_with("+json")
            });
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| {
                let mut error = HttpError::invalid("body", "body", bounded_detail(&e.body_text()));
                error.status = e.status();
                error
            })?;
        if !bytes.iter().all(u8::is_ascii_whitespace) && json != Some(true) {
            return Err(HttpError::invalid(
                "body",
                "content_type",
                "Content-Type 须为 application/json (expected application/json)",
            ));
        }
        json_body(&bytes).map(OptionalJson)
    }
}

/// A JSON body from raw bytes (an empty body is `{}`), checked like
/// [`AppJson`].
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        HttpError::invalid(
            "body",
            "json_syntax",
            format!("请求体不是有效的 JSON ({})", bounded_detail(&e.to_string())),
        )
    })?;
    json_value(value)
}

/// A parser's complaint, cut short (it may quote the input).
pub fn bounded_detail(detail: &str) -> String {
    bianmin_common::error::bounded(detail, bianmin_common::error::MAX_MESSAGE_CHARS)
}

/// What a body's value breaks.
enum Broken {
    Control,
    TooLong,
    TooMany,
}

/// The path (`applicant.name`, `materials[3].code`) of the first value out
/// of bounds, and how.
fn out_of_bounds(value: &serde_json::Value, path: String) -> Option<(String, Broken)> {
    use serde_json::Value;
    let named = |path: &str| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.to_string()
        }
    };
    match value {
        Value::String(s) if bianmin_common::text::has_control_characters(s) => {
            Some((named(&path), Broken::Control))
        }
        Value::String(s) if s.chars().count() > MAX_TEXT_CHARS => {
            Some((named(&path), Broken::TooLong))
        }
        Value::Array(items) if items.len() > MAX_LIST_ITEMS => {
            Some((named(&path), Broken::TooMany))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| out_of_bounds(v, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            if bianmin_common::text::has_control_characters(k) || k.chars().count() > MAX_TEXT_CHARS
            {
                return Some((named(&path), Broken::Control));
            }
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            out_of_bounds(v, at)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_by_field_and_line_breaks_kept() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            reason: String,
            items: Vec<String>,
        }
        let ok: Body = json_body(br#"{"reason":"line one\nline two\ttab","items":["a"]}"#).unwrap();
        assert_eq!(ok.reason, "line one\nline two\ttab");
        let nul = json_body::<Body>(br#"{"reason":"ok","items":["a","b\u0000c"]}"#).unwrap_err();
        assert_eq!(nul.status, StatusCode::BAD_REQUEST);
        assert_eq!(nul.violations[0].field, "items[1]");
        assert_eq!(nul.violations[0].rule, "control_character");
        let escape = json_body::<Body>(br#"{"reason":"\u001b[31mred","items":[]}"#).unwrap_err();
        assert_eq!(escape.violations[0].field, "reason");
        let long = format!(
            r#"{{"reason":"{}","items":[]}}"#,
            "长".repeat(MAX_TEXT_CHARS + 1)
        );
        let too_long = json_body::<Body>(long.as_bytes()).unwrap_err();
        assert_eq!(too_long.violations[0].rule, "too_long");
        let many = format!(
            r#"{{"reason":"","items":[{}]}}"#,
            vec!["\"x\""; MAX_LIST_ITEMS + 1].join(",")
        );
        let too_many = json_body::<Body>(many.as_bytes()).unwrap_err();
        assert_eq!(
            (
                too_many.violations[0].field.as_str(),
                too_many.violations[0].rule.as_str()
            ),
            ("items", "too_many")
        );
        let empty = json_body::<serde_json::Value>(b"  ").unwrap();
        assert_eq!(empty, serde_json::json!({}));
    }

    #[test]
    fn a_transport_refusal_is_never_a_rate_limit() {
        let h2 = HttpError::from(tonic::Status::resource_exhausted(
            "h2 protocol error: header too big",
        ));
        assert_ne!(h2.status, StatusCode::TOO_MANY_REQUESTS);
        let big = HttpError::from(tonic::Status::resource_exhausted(
            "decoded message length too large: found 20000000 bytes, the limit is: 4194304 bytes",
        ));
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
        let other = HttpError::from(tonic::Status::resource_exhausted("anything"));
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !other.message.contains("anything"),
            "internals stay in the log"
        );
    }
}
