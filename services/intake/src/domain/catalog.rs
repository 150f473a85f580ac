//! The rules of a service type definition (服务目录): its domain, class,
//! materials checklist and time-limit policy. Pure: whether a code is taken
//! is the store's question.

use bianmin_common::error::FieldViolation;
use serde::{Deserialize, Serialize};

/// Service domains (DOMAIN.md "Service catalog"), the public-utility ones
/// last.
pub const DOMAINS: [&str; 15] = [
    "社会救助",
    "社区养老",
    "便民服务",
    "文化教育",
    "医疗卫生",
    "法律援助",
    "就业援助",
    "心理疏导",
    "水电气",
    "通信",
    "公共交通",
    "污水",
    "垃圾",
    "绿化",
    "应急保障",
];

/// Classes: basic, auxiliary, featured.
pub const CLASSES: [&str; 3] = ["基础", "辅助", "特色"];

/// Checklist groups and what residents read for each.
pub const GROUPS: [(&str, &str); 3] = [
    ("basic_info", "基本信息"),
    ("needs_form", "需求表"),
    ("proof", "证明材料"),
];

/// Bounds that keep a policy plausible; a typo like 300 preliminary days
/// is refused instead of silently stalling every case.
pub const MAX_REVIEW_DAYS: u32 = 60;
pub const MAX_DECISION_DAYS: u32 = 180;
pub const MAX_ITEMS: usize = 30;
pub const MAX_NAME_CHARS: usize = 50;

/// One item of a type's materials checklist, as stored (JSON) and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub code: String,
    pub name: String,
    pub group: String,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// A service type definition, as it arrives (from an administrator or the
/// seed) and, once valid, as it is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub code: String,
    pub name: String,
    pub domain: String,
    pub class: String,
    pub preliminary_review_days: u32,
    pub extended_review_days: u32,
    pub decision_days: u32,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub materials: Vec<ChecklistItem>,
}

/// Codes of types and items: lower-case ASCII letters, digits, `-` and
/// `_`, starting with a letter; they appear in URLs and event payloads.
pub fn code_ok(code: &str, max: usize) -> bool {
    let mut chars = code.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && code.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn text_ok(s: &str) -> bool {
    let n = s.chars().count();
    n > 0 && n <= MAX_NAME_CHARS && !s.chars().any(char::is_control)
}

/// Checks a definition and returns it normalised (trimmed), or every
/// broken rule at once.
pub fn validate(d: &Definition) -> Result<Definition, Vec<FieldViolation>> {
    let mut v = Vec::new();
    let mut out = d.clone();
    out.code = d.code.trim().to_string();
    out.name = d.name.trim().to_string();
    out.domain = d.domain.trim().to_string();
    out.class = d.class.trim().to_string();

    if out.code.is_empty() {
        v.push(FieldViolation::new(
            "code",
            "required",
            "请填写事项编码 (code is required)",
        ));
    } else if !code_ok(&out.code, 64) {
        v.push(FieldViolation::new(
            "code",
            "code_format",
            "事项编码须为小写字母开头、不超过 64 个字符的小写字母、数字、- 或 _ (lower-case letters, digits, - or _, starting with a letter, at most 64)",
        ));
    }
    if out.name.is_empty() {
        v.push(FieldViolation::new(
            "name",
            "required",
            "请填写事项名称 (name is required)",
        ));
    } else if !text_ok(&out.name) {
        v.push(FieldViolation::new(
            "name",
            "name_format",
            format!("事项名称不超过 {MAX_NAME_CHARS} 个字且不含控制字符 (at most {MAX_NAME_CHARS} characters)"),
        ));
    }
    if out.domain.is_empty() {
        v.push(FieldViolation::new(
            "domain",
            "required",
            "请填写服务领域 (domain is required)",
        ));
    } else if !DOMAINS.contains(&out.domain.as_str()) {
        v.push(FieldViolation::new(
            "domain",
            "domain_unknown",
            format!(
                "服务领域须为以下之一 (domain must be one of): {}",
                DOMAINS.join("、")
            ),
        ));
    }
    if out.class.is_empty() {
        v.push(FieldViolation::new(
            "class",
            "required",
            "请填写服务类别 (class is required)",
        ));
    } else if !CLASSES.contains(&out.class.as_str()) {
        v.push(FieldViolation::new(
            "class",
            "class_unknown",
            "服务类别须为 基础、辅助 或 特色 (class must be 基础, 辅助 or 特色)",
        ));
    }

    let (p, e, dd) = (
        d.preliminary_review_days,
        d.extended_review_days,
        d.decision_days,
    );
    if p == 0 || p > MAX_REVIEW_DAYS {
        v.push(FieldViolation::new(
            "preliminary_review_days",
            "days_range",
            format!(
                "初审时限须为 1 至 {MAX_REVIEW_DAYS} 个工作日 (1 to {MAX_REVIEW_DAYS} working days)"
            ),
        ));
    }
    if e < p || e > MAX_REVIEW_DAYS {
        v.push(FieldViolation::new(
            "extended_review_days",
            "extended_not_below_preliminary",
            format!("延长时限不得短于初审时限且不超过 {MAX_REVIEW_DAYS} 个工作日 (at least the preliminary days, at most {MAX_REVIEW_DAYS})"),
        ));
    }
    if dd == 0 || dd > MAX_DECISION_DAYS {
        v.push(FieldViolation::new(
            "decision_days",
            "days_range",
            format!("办结时限须为 1 至 {MAX_DECISION_DAYS} 个工作日 (1 to {MAX_DECISION_DAYS} working days)"),
        ));
    }

    if d.materials.len() > MAX_ITEMS {
        v.push(FieldViolation::new(
            "materials",
            "too_many_items",
            format!("材料清单不超过 {MAX_ITEMS} 项 (at most {MAX_ITEMS} items)"),
        ));
    }
    let mut seen = Vec::new();
    out.materials = Vec::new();
    for (i, item) in d.materials.iter().enumerate() {
        let field = |f: &str| format!("materials[{i}].{f}");
        let code = item.code.trim().to_string();
        let name = item.name.trim().to_string();
        let group = item.group.trim().to_string();
        if !code_ok(&code, 40) {
            v.push(FieldViolation::new(
                field("code"),
                "code_format",
                "材料编码须为小写字母开头、不超过 40 个字符的小写字母、数字、- 或 _ (lower-case letters, digits, - or _, at most 40)",
            ));
        } else if seen.contains(&code) {
            v.push(FieldViolation::new(
                field("code"),
                "code_duplicate",
                format!("材料编码 {code} 重复 (duplicate item code)"),
            ));
        }
        if !text_ok(&name) {
            v.push(FieldViolation::new(
                field("name"),
                "name_format",
                format!("请填写材料名称，不超过 {MAX_NAME_CHARS} 个字 (name required, at most {MAX_NAME_CHARS} characters)"),
            ));
        }
        if !GROUPS.iter().any(|(g, _)| *g == group) {
            v.push(FieldViolation::new(
                field("group"),
                "group_unknown",
                "材料分组须为 basic_info（基本信息）、needs_form（需求表）或 proof（证明材料） (group must be basic_info, needs_form or proof)",
            ));
        }
        seen.push(code.clone());
        out.materials.push(ChecklistItem {
            code,
            name,
            group,
            required: item.required,
        });
    }
    if v.is_empty() { Ok(out) } else { Err(v) }
}

/// What an administration call does to a stored type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Write the change (and its history row).
    Apply,
    /// The type already is as asked: answer it as it stands.
    Replay,
}

/// Why an administration call was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The code is taken by another definition (ALREADY_EXISTS).
    Taken(String),
    /// The type is retired and cannot change (FAILED_PRECONDITION).
    Retired(String),
}

/// A create whose code exists already: the same definition again is a
/// replay (idempotent on the code); another one is a conflict.
pub fn create_again(existing: &Definition, given: &Definition) -> Result<Change, Refusal> {
    if existing == given {
        return Ok(Change::Replay);
    }
    Err(Refusal::Taken(format!(
        "事项编码 {} 已被另一定义使用；修改请用 PUT /api/v1/catalog/services/{} (code already exists with another definition; change it with an update)",
        given.code, given.code
    )))
}

/// An update of a type that is `active` or retired.
pub fn update(existing: &Definition, active: bool, given: &Definition) -> Result<Change, Refusal> {
    if !active {
        return Err(Refusal::Retired(format!(
            "服务事项 {} 已停用，不能修改 (service type is retired and cannot change)",
            given.code
        )));
    }
    Ok(if existing == given {
        Change::Replay
    } else {
        Change::Apply
    })
}

/// Retiring a type: once is enough, again is a replay.
pub fn retire(active: bool) -> Change {
    if active {
        Change::Apply
    } else {
        Change::Replay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Definition {
        Definition {
            code: "elderly-meal-subsidy".into(),
            name: "老年助餐补贴".into(),
            domain: "社区养老".into(),
            class: "基础".into(),
            preliminary_review_days: 5,
            extended_review_days: 10,
            decision_days: 30,
            sensitive: true,
            materials: vec![ChecklistItem {
                code: "id_card".into(),
                name: "身份证复印件".into(),
                group: "basic_info".into(),
                required: true,
            }],
        }
    }

    #[test]
    fn a_good_definition_passes_trimmed() {
        let mut d = good();
        d.name = " 老年助餐补贴 ".into();
        assert_eq!(validate(&d).unwrap().name, "老年助餐补贴");
        let utility = Definition {
            domain: "水电气".into(),
            preliminary_review_days: 2,
            extended_review_days: 3,
            decision_days: 5,
            ..good()
        };
        assert!(validate(&utility).is_ok());
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let mut d = Definition {
            code: "Bad Code".into(),
            domain: "天文".into(),
            class: "高级".into(),
            preliminary_review_days: 5,
            extended_review_days: 3,
            decision_days: 0,
            ..Default::default()
        };
        d.materials = vec![
            ChecklistItem {
                code: "x".into(),
                name: "".into(),
                group: "misc".into(),
                required: true,
            },
            ChecklistItem {
                code: "x".into(),
                name: "甲".into(),
                group: "proof".into(),
                required: false,
            },
        ];
        let rules: Vec<_> = validate(&d)
            .unwrap_err()
            .into_iter()
            .map(|v| (v.field, v.rule))
            .collect();
        for want in [
            ("code", "code_format"),
            ("name", "required"),
            ("domain", "domain_unknown"),
            ("class", "class_unknown"),
            ("extended_review_days", "extended_not_below_preliminary"),
            ("decision_days", "days_range"),
            ("materials[0].name", "name_format"),
            ("materials[0].group", "group_unknown"),
            ("materials[1].code", "code_duplicate"),
        ] {
            assert!(
                rules.iter().any(|(f, r)| f == want.0 && r == want.1),
                "{want:?} missing in {rules:?}"
            );
        }
    }

    #[test]
    fn codes_are_url_safe() {
        assert!(code_ok("utility-water_2", 64));
        for bad in ["", "1abc", "a b", "a/b", "ä", "A"] {
            assert!(!code_ok(bad, 64), "{bad}");
        }
        assert!(!code_ok(&"a".repeat(65), 64));
    }
    #[test]
    fn administration_replays_what_is_already_so() {
        let d = Definition {
            code: "medical-aid".into(),
            ..Definition::default()
        };
        let other = Definition {
            name: "另一个".into(),
            ..d.clone()
        };
        assert_eq!(create_again(&d, &d), Ok(Change::Replay));
        let Err(Refusal::Taken(m)) = create_again(&d, &other) else {
            panic!("a taken code is a conflict");
        };
        assert!(m.contains("medical-aid"));
        assert_eq!(update(&d, true, &d), Ok(Change::Replay));
        assert_eq!(update(&d, true, &other), Ok(Change::Apply));
        assert!(matches!(update(&d, false, &d), Err(Refusal::Retired(_))));
        assert_eq!(retire(true), Change::Apply);
        assert_eq!(retire(false), Change::Replay);
    }
}
