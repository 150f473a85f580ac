//! Contact phone numbers: a mainland mobile number (11 digits, 1[3-9]…) or
//! a landline with area code (0 + 2–3 digits, 7–8 digits, optional dash).

pub const RULE: &str = "phone_format";
pub const MESSAGE: &str = "联系电话格式不正确：手机号为 11 位，固定电话需含区号 (mobile: 11 digits; landline: area code + number)";

/// Validates and normalises (spaces and dashes removed; full-width digits
/// read as digits).
pub fn validate(raw: &str) -> Option<String> {
    let digits: String = crate::text::halfwidth(raw)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let b = digits.as_bytes();
    let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    let landline = b.len() >= 10 && b.len() <= 12 && b[0] == b'0' && b[1] != b'0';
    (mobile || landline).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_and_landlines() {
        assert_eq!(validate("138 1234 5678").as_deref(), Some("13812345678"));
        assert_eq!(validate("010-12345678").as_deref(), Some("01012345678"));
        assert_eq!(validate("0755-1234567").as_deref(), Some("07551234567"));
        assert_eq!(validate("12812345678"), None);
        assert_eq!(validate("1381234567"), None);
        assert_eq!(validate("13812345678a"), None);
        assert_eq!(validate(""), None);
        assert_eq!(
            validate("１３８１２３４５６７８").as_deref(),
            Some("13812345678")
        );
        assert_eq!(validate("١٣٨١٢٣٤٥٦٧٨"), None);
    }

    proptest::proptest! {
        /// Any text at all: an answer, never a panic.
        #[test]
        fn any_text_is_answered(raw in "\\PC{0,30}") {
            let _ = validate(&raw);
        }
    }
}
