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

/// `Json<T>` whose rejection is an [`HttpError`].
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(HttpError))]
pub struct AppJson<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

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
