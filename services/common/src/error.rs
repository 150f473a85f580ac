//! One error vocabulary for every service, mapped to gRPC codes here and to
//! HTTP statuses at the gateway. Messages are for people: Chinese first,
//! English after, saying what to fix. Internals never reach a caller.

use tonic_types::{ErrorDetails, StatusExt as _};

/// A violation of one input rule: which field, which rule, what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `applicant.id_number`.
    pub field: String,
    /// Stable rule code, e.g. `id_number_check_digit`.
    pub rule: String,
    /// What a person reads, Chinese first.
    pub message: String,
}

impl FieldViolation {
    pub fn new(
        field: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
            message: message.into(),
        }
    }
}

/// The error kinds callers can tell apart.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unavailable(String),
    /// Logged with its cause; the caller sees only a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(
        field: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Invalid(vec![FieldViolation::new(field, rule, message)])
    }
}

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// A creating call's idempotency key: `None` when absent (blank), else
/// printable ASCII of at most [`MAX_IDEMPOTENCY_KEY`] characters; anything
/// else is refused naming the field. Every service reads keys this way.
pub fn idempotency_key(raw: &str) -> Result<Option<&str>, ApiError> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > MAX_IDEMPOTENCY_KEY || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "idempotency_key",
            "idempotency_key_format",
            "幂等键须为不超过 200 个可见 ASCII 字符 (at most 200 printable ASCII characters)",
        ));
    }
    Ok(Some(key))
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => ApiError::Unavailable(
                "数据库暂不可用，请稍后重试 (database unavailable, retry later)".into(),
            ),
            other => ApiError::Internal(other.into()),
        }
    }
}

/// The `reason` of a violation in gRPC details carries the rule code.
impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Invalid(violations) => {
                let summary = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(
                        v.field.clone(),
                        format!("{}|{}", v.rule, v.message),
                    );
                }
                tonic::Status::with_error_details(tonic::Code::InvalidArgument, summary, details)
            }
            ApiError::NotFound(m) => tonic::Status::not_found(m),
            ApiError::Conflict(m) => tonic::Status::already_exists(m),
            ApiError::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
            ApiError::Unavailable(m) => tonic::Status::unavailable(m),
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                tonic::Status::internal("内部错误，请稍后重试 (internal error)")
            }
        }
    }
}

/// Reads the field violations back out of a status (used by the gateway).
pub fn violations(status: &tonic::Status) -> Vec<FieldViolation> {
    let Some(bad_request) = status.get_details_bad_request() else {
        return Vec::new();
    };
    bad_request
        .field_violations
        .into_iter()
        .map(|v| {
            let (rule, message) = v
                .description
                .split_once('|')
                .unwrap_or(("invalid", &v.description));
            FieldViolation {
                field: v.field,
                rule: rule.to_string(),
                message: message.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_survive_the_grpc_round_trip() {
        let status: tonic::Status = ApiError::Invalid(vec![
            FieldViolation::new(
                "applicant.id_number",
                "id_number_check_digit",
                "身份证号校验位错误",
            ),
            FieldViolation::new("reason", "required", "请填写申请事由"),
        ])
        .into();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let back = violations(&status);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].field, "applicant.id_number");
        assert_eq!(back[0].rule, "id_number_check_digit");
        assert_eq!(back[1].message, "请填写申请事由");
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let status: tonic::Status = ApiError::Internal(anyhow::anyhow!("password=secret")).into();
        assert!(!status.message().contains("secret"));
    }

    #[test]
    fn idempotency_keys_are_short_printable_ascii() {
        assert_eq!(idempotency_key("").unwrap(), None);
        assert_eq!(idempotency_key("  demo-1 ").unwrap(), Some("demo-1"));
        for bad in ["has space", "幂等", &"a".repeat(201)] {
            let Err(ApiError::Invalid(v)) = idempotency_key(bad) else {
                panic!("{bad:?} accepted");
            };
            assert_eq!(v[0].field, "idempotency_key");
        }
    }
}
