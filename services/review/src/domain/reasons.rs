//! Rejection reasons (不予受理/不予批准的理由): a fixed list a resident can act
//! on, plus free text. DOMAIN.md: always with reasons when rejected.

/// (code, what the resident reads)
pub const REASONS: &[(&str, &str)] = &[
    (
        "materials_incomplete",
        "申请材料不齐全 (materials incomplete)",
    ),
    (
        "policy_mismatch",
        "不符合政策规定 (does not match the policy)",
    ),
    (
        "eligibility_not_met",
        "不符合申请条件 (eligibility not met)",
    ),
    (
        "information_false",
        "申请信息不实 (information not truthful)",
    ),
    ("duplicate_application", "重复申请 (duplicate application)"),
    (
        "outside_service_area",
        "不属于本中心服务范围 (outside the center's service area)",
    ),
    ("other", "其他原因 (other, see the text)"),
];

pub fn label(code: &str) -> Option<&'static str> {
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// What the resident reads: the labels, then the free text.
pub fn describe(codes: &[String], text: &str) -> String {
    let mut parts: Vec<String> = codes
        .iter()
        .map(|c| label(c).unwrap_or(c).to_string())
        .collect();
    if !text.trim().is_empty() {
        parts.push(text.trim().to_string());
    }
    parts.join("；")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_codes_then_text() {
        let s = describe(&["materials_incomplete".into()], "缺少户口簿");
        assert_eq!(s, "申请材料不齐全 (materials incomplete)；缺少户口簿");
        assert!(label("nonsense").is_none());
    }
}
