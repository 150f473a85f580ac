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

/// Violations carried in one answer at most; the rest are counted.
pub const MAX_VIOLATIONS: usize = 10;
/// Characters of a message (or a field path) carried at most. An error
/// travels in HTTP/2 headers between services: a message that quotes a
/// caller's long value, or many of them, must not outgrow the header limit.
pub const MAX_MESSAGE_CHARS: usize = 120;
/// Characters of a field path or a rule code carried at most.
pub const MAX_NAME_CHARS: usize = 80;

/// `text` cut to at most `max` characters (never inside a character), with
/// `…` when cut.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The violations an answer carries: each bounded, at most
/// [`MAX_VIOLATIONS`], and a last one saying how many more there were.
fn carried(violations: Vec<FieldViolation>) -> Vec<FieldViolation> {
    let total = violations.len();
    let mut out: Vec<FieldViolation> = violations
        .into_iter()
        .take(MAX_VIOLATIONS)
        .map(|v| FieldViolation {
            field: bounded(&v.field, MAX_NAME_CHARS),
            rule: bounded(&v.rule, MAX_NAME_CHARS),
            message: bounded(&v.message, MAX_MESSAGE_CHARS),
        })
        .collect();
    if total > MAX_VIOLATIONS {
        let more = total - MAX_VIOLATIONS;
        out.push(FieldViolation::new(
            "",
            "more_violations",
            format!("另有 {more} 处错误未列出，请先改正以上各项 ({more} more not listed)"),
        ));
    }
    out
}

/// The `reason` of a violation in gRPC details carries the rule code.
/// Every message is bounded (see [`MAX_MESSAGE_CHARS`]).
impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        let short = |m: String| bounded(&m, MAX_MESSAGE_CHARS);
        match e {
            ApiError::Invalid(violations) => {
                let violations = carried(violations);
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
                tonic::Status::with_error_details(
                    tonic::Code::InvalidArgument,
                    // The details carry every violation; the summary is
                    // for a log line.
                    bounded(&summary, MAX_MESSAGE_CHARS),
                    details,
                )
            }
            ApiError::NotFound(m) => tonic::Status::not_found(short(m)),
            ApiError::Conflict(m) => tonic::Status::already_exists(short(m)),
            ApiError::FailedPrecondition(m) => tonic::Status::failed_precondition(short(m)),
            ApiError::Unavailable(m) => tonic::Status::unavailable(short(m)),
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

    #[test]
    fn answers_stay_small_whatever_the_input() {
        let long = "长".repeat(5000);
        let many: Vec<FieldViolation> = (0..50)
            .map(|i| {
                FieldViolation::new(format!("materials[{i}].code"), "code_format", long.clone())
            })
            .collect();
        let status: tonic::Status = ApiError::Invalid(many).into();
        let back = violations(&status);
        assert_eq!(back.len(), MAX_VIOLATIONS + 1);
        assert_eq!(back[MAX_VIOLATIONS].rule, "more_violations");
        assert!(back[MAX_VIOLATIONS].message.contains("40"));
        assert!(
            back.iter()
                .all(|v| v.message.chars().count() <= MAX_MESSAGE_CHARS + 1)
        );
        // Everything that travels in headers (message and details, the
        // latter base64-encoded), a few KB at most.
        let size = status.message().len() + status.details().len() * 4 / 3;
        assert!(size < 8 * 1024, "{size} bytes of headers");
        let missing: tonic::Status = ApiError::NotFound(long.clone()).into();
        assert!(missing.message().chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn bounding_never_splits_a_character() {
        assert_eq!(bounded("张秀兰", 2), "张秀…");
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("", 0), "");
    }
}
