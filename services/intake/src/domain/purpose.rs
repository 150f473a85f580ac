//! Why a staff member opens personal data in full: required, short, and
//! recorded in the access log as given.

use bianmin_common::error::FieldViolation;

pub const MAX_PURPOSE_CHARS: usize = 200;

pub fn validate(raw: &str) -> Result<String, FieldViolation> {
    let purpose = raw.trim();
    if purpose.chars().count() < 2 {
        return Err(FieldViolation::new(
            "purpose",
            "required",
            "查看完整身份信息须写明用途 (purpose is required for a full view)",
        ));
    }
    if purpose.chars().count() > MAX_PURPOSE_CHARS || purpose.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            "purpose",
            "purpose_format",
            format!(
                "用途不超过 {MAX_PURPOSE_CHARS} 个字且不含控制字符 (at most {MAX_PURPOSE_CHARS} characters, no control characters)"
            ),
        ));
    }
    Ok(purpose.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_purpose_is_required_and_bounded() {
        assert_eq!(validate("  ").unwrap_err().rule, "required");
        assert_eq!(validate("核").unwrap_err().rule, "required");
        assert_eq!(
            validate(&"核".repeat(MAX_PURPOSE_CHARS + 1))
                .unwrap_err()
                .rule,
            "purpose_format"
        );
        assert_eq!(validate(" 核对身份证件 ").unwrap(), "核对身份证件");
    }
}
