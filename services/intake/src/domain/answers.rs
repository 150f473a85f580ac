//! What the applicant answers after submitting: a supplement (补正) and a
//! withdrawal. Pure checks; whether the application is in a state that
//! takes them is [`super::status`]'s.

use bianmin_common::auth::Role;
use bianmin_common::error::FieldViolation;
use std::collections::HashSet;

pub const MAX_NOTE_CHARS: usize = 500;
pub const MAX_ITEMS: usize = 50;
pub const MAX_ITEM_CHARS: usize = 100;

/// A supplement as given, normalised.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Supplement {
    pub items: Vec<String>,
    pub note: String,
}

fn text_ok(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(|c| c.is_control() && c != '\n')
}

/// Checks the items and the note on their own.
pub fn supplement(items: &[String], note: &str) -> Result<Supplement, Vec<FieldViolation>> {
    let mut v = Vec::new();
    let mut seen = HashSet::new();
    let mut clean = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item = item.trim();
        let field = format!("supplied_items[{i}]");
        if item.is_empty() {
            v.push(FieldViolation::new(
                field,
                "required",
                "补正材料项不能为空 (an item must not be empty)",
            ));
        } else if !text_ok(item, MAX_ITEM_CHARS) {
            v.push(FieldViolation::new(
                field,
                "item_format",
                format!("材料项不超过 {MAX_ITEM_CHARS} 个字 (at most {MAX_ITEM_CHARS} characters)"),
            ));
        } else if !seen.insert(item.to_string()) {
            v.push(FieldViolation::new(
                field,
                "duplicate",
                format!("重复：{item} (listed twice)"),
            ));
        } else {
            clean.push(item.to_string());
        }
    }
    if items.is_empty() {
        v.push(FieldViolation::new(
            "supplied_items",
            "required",
            "请列出补正的材料 (list the items supplied)",
        ));
    } else if items.len() > MAX_ITEMS {
        v.push(FieldViolation::new(
            "supplied_items",
            "too_many",
            format!("至多 {MAX_ITEMS} 项 (at most {MAX_ITEMS} items)"),
        ));
    }
    let note = note.trim();
    if !text_ok(note, MAX_NOTE_CHARS) {
        v.push(FieldViolation::new(
            "note",
            "note_format",
            format!("说明不超过 {MAX_NOTE_CHARS} 个字且不含控制字符 (at most {MAX_NOTE_CHARS} characters)"),
        ));
    }
    if !v.is_empty() {
        return Err(v);
    }
    Ok(Supplement {
        items: clean,
        note: note.to_string(),
    })
}

/// Checks a supplement against what review asked for: every missing item
/// must be there (review resumes only on a complete answer), and nothing
/// that was not asked for.
pub fn covers(answer: &Supplement, missing: &[String]) -> Result<(), Vec<FieldViolation>> {
    let mut v = Vec::new();
    for (i, item) in answer.items.iter().enumerate() {
        if !missing.contains(item) {
            v.push(FieldViolation::new(
                format!("supplied_items[{i}]"),
                "not_requested",
                format!(
                    "{item} 不在补正清单中；需补正：{} (not among the requested items)",
                    missing.join("、")
                ),
            ));
        }
    }
    let absent: Vec<&str> = missing
        .iter()
        .filter(|m| !answer.items.contains(m))
        .map(String::as_str)
        .collect();
    if !absent.is_empty() {
        v.push(FieldViolation::new(
            "supplied_items",
            "supplement_incomplete",
            format!(
                "尚缺：{}，请一次补齐 (still missing; supply every item at once)",
                absent.join("、")
            ),
        ));
    }
    if v.is_empty() { Ok(()) } else { Err(v) }
}

/// Staff act on the applicant's behalf; the applicant (or the partner
/// agency that submitted) acts for themselves.
pub fn on_behalf(role: Role) -> bool {
    !matches!(role, Role::Resident | Role::Partner)
}

/// The reason for a withdrawal: required when staff withdraw for the
/// applicant (the record must say why), optional for the applicant.
pub fn withdrawal_reason(raw: &str, on_behalf: bool) -> Result<String, FieldViolation> {
    let reason = raw.trim();
    if on_behalf && reason.is_empty() {
        return Err(FieldViolation::new(
            "reason",
            "required",
            "代申请人撤回须写明原因 (a reason is required when staff withdraw for the applicant)",
        ));
    }
    if !text_ok(reason, MAX_NOTE_CHARS) {
        return Err(FieldViolation::new(
            "reason",
            "reason_format",
            format!("原因不超过 {MAX_NOTE_CHARS} 个字 (at most {MAX_NOTE_CHARS} characters)"),
        ));
    }
    Ok(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_supplement_must_cover_every_missing_item_and_nothing_else() {
        let missing = items(&["户口簿", "收入证明"]);
        let all = supplement(&items(&["收入证明", " 户口簿 "]), "已补齐").unwrap();
        assert!(covers(&all, &missing).is_ok());
        let part = supplement(&items(&["户口簿"]), "").unwrap();
        let errs = covers(&part, &missing).unwrap_err();
        assert_eq!(errs[0].rule, "supplement_incomplete");
        assert!(errs[0].message.contains("收入证明"));
        let extra = supplement(&items(&["户口簿", "收入证明", "照片"]), "").unwrap();
        assert_eq!(
            covers(&extra, &missing).unwrap_err()[0].rule,
            "not_requested"
        );
    }

    #[test]
    fn empty_duplicate_and_missing_items_are_refused() {
        let rules: Vec<_> = supplement(&items(&["a", "a", " "]), "")
            .unwrap_err()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(rules, ["duplicate", "required"]);
        assert_eq!(supplement(&[], "").unwrap_err()[0].field, "supplied_items");
    }

    #[test]
    fn staff_must_say_why_they_withdraw() {
        assert!(on_behalf(Role::Specialist) && !on_behalf(Role::Resident));
        assert_eq!(withdrawal_reason(" ", true).unwrap_err().rule, "required");
        assert_eq!(withdrawal_reason("", false).unwrap(), "");
        assert_eq!(
            withdrawal_reason("申请人来电撤回", true).unwrap(),
            "申请人来电撤回"
        );
    }
}
