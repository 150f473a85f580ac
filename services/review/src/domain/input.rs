//! The bounds of everything a caller sends with an action, checked before
//! the case's stage is looked at: bad input is a 400 naming the field
//! whatever stage the case is in, and nothing unbounded reaches the case's
//! record, its history, its events or the notices made from them (a 200 KB
//! reason would otherwise ride along in every one of them for good).
//!
//! The figures are documented in the OpenAPI document (`maxLength`,
//! `maxItems`, from `proto/build.rs`'s `BOUNDS`, which a test holds equal
//! to these).

use super::lifecycle::{Command, Refusal};
use bianmin_common::text::has_control_characters;

/// A reason, a note, an outcome's free text.
pub const REASON_CHARS: usize = 500;
/// A plan's content and schedule, a task's report, a closure's summary.
pub const TEXT_CHARS: usize = 2000;
/// One item of a list (a material, a department, a reason code, a task id,
/// a task title), and an assignee.
pub const ITEM_CHARS: usize = 100;
/// Items in any one list.
pub const ITEMS: usize = 50;
/// Longest staff account name after the center prefix (`c01-`).
pub const STAFF_NAME_CHARS: usize = 40;

fn refuse(field: &str, rule: &'static str, message: String) -> Refusal {
    Refusal::Invalid {
        field: field.into(),
        rule,
        message,
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.chars().count() > max {
        return Err(refuse(
            field,
            "too_long",
            format!("{field} 不超过 {max} 个字 (at most {max} characters)"),
        ));
    }
    if has_control_characters(value) {
        return Err(refuse(
            field,
            "control_characters",
            format!("{field} 不能含控制字符 (no control characters)"),
        ));
    }
    Ok(())
}

fn list(field: &str, items: &[String], max_chars: usize) -> Result<(), Refusal> {
    if items.len() > ITEMS {
        return Err(refuse(
            field,
            "too_many",
            format!("{field} 至多 {ITEMS} 项 (at most {ITEMS} items)"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        text(&format!("{field}[{i}]"), item, max_chars)?;
    }
    Ok(())
}

/// Whether `assignee` names a staff account of `center_id`. Until the
/// training service keeps the staff registry, a staff account is named by
/// its center: `c01-specialist` is C01's (the identity provider's
/// convention, `deploy/seed/users.json`); once the registry exists the
/// check asks it whether the person exists and is qualified.
pub fn staff_of_center(assignee: &str, center_id: &str) -> Result<(), Refusal> {
    let assignee = assignee.trim();
    let well_formed = assignee.split_once('-').is_some_and(|(center, name)| {
        !center.is_empty()
            && center.chars().all(|c| c.is_ascii_alphanumeric())
            && !name.is_empty()
            && name.chars().count() <= STAFF_NAME_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    if !well_formed {
        return Err(refuse(
            "assignee",
            "staff_id_format",
            "assignee 须为工作人员账号，如 c01-specialist (a staff account such as c01-specialist)"
                .into(),
        ));
    }
    let prefix = assignee.split('-').next().unwrap_or_default();
    if !prefix.eq_ignore_ascii_case(center_id) {
        return Err(refuse(
            "assignee",
            "staff_of_center",
            format!(
                "只能指派本中心 {center_id} 的工作人员 (only staff of the case's center {center_id})"
            ),
        ));
    }
    Ok(())
}

/// Every field of `command` within its bound and free of control
/// characters; an assignee a staff account of the case's center.
pub fn check(command: &Command, center_id: &str) -> Result<(), Refusal> {
    match command {
        Command::Accept { reason } => text("reason", reason, REASON_CHARS),
        Command::RequestSupplement {
            missing_items,
            reason,
        } => {
            list("missing_items", missing_items, ITEM_CHARS)?;
            text("reason", reason, REASON_CHARS)
        }
        Command::Resume {
            received_items,
            reason,
        } => {
            list("received_items", received_items, ITEM_CHARS)?;
            text("reason", reason, REASON_CHARS)
        }
        Command::Extend { reason, .. } => text("reason", reason, REASON_CHARS),
        Command::StartJointReview {
            departments,
            reason,
        } => {
            list("departments", departments, ITEM_CHARS)?;
            text("reason", reason, REASON_CHARS)
        }
        Command::SignOff {
            department,
            reason_codes,
            reason_text,
            ..
        } => {
            text("department", department, ITEM_CHARS)?;
            list("reason_codes", reason_codes, ITEM_CHARS)?;
            text("reason_text", reason_text, REASON_CHARS)
        }
        Command::Decide {
            reason_codes,
            reason_text,
            ..
        } => {
            list("reason_codes", reason_codes, ITEM_CHARS)?;
            text("reason_text", reason_text, REASON_CHARS)
        }
        Command::Plan { plan } => {
            text("plan.content", &plan.content, TEXT_CHARS)?;
            text("plan.schedule", &plan.schedule, TEXT_CHARS)?;
            list("plan.staff", &plan.staff, ITEM_CHARS)?;
            list("plan.resources", &plan.resources, ITEM_CHARS)?;
            if plan.tasks.len() > ITEMS {
                return Err(refuse(
                    "plan.tasks",
                    "too_many",
                    format!("plan.tasks 至多 {ITEMS} 项 (at most {ITEMS} tasks)"),
                ));
            }
            for (i, t) in plan.tasks.iter().enumerate() {
                text(&format!("plan.tasks[{i}].id"), &t.id, ITEM_CHARS)?;
                text(&format!("plan.tasks[{i}].title"), &t.title, ITEM_CHARS)?;
                text(
                    &format!("plan.tasks[{i}].assignee"),
                    &t.assignee,
                    ITEM_CHARS,
                )?;
            }
            Ok(())
        }
        Command::CompleteTask {
            task_id,
            content,
            result,
            resident_feedback,
            ..
        } => {
            text("task_id", task_id, ITEM_CHARS)?;
            text("content", content, TEXT_CHARS)?;
            text("result", result, TEXT_CHARS)?;
            text("resident_feedback", resident_feedback, REASON_CHARS)
        }
        Command::RecordFeedback {
            task_id,
            resident_feedback,
        } => {
            text("task_id", task_id, ITEM_CHARS)?;
            text("resident_feedback", resident_feedback, REASON_CHARS)
        }
        Command::CheckAcceptance {
            notes,
            reopen_task_ids,
            ..
        } => {
            text("notes", notes, REASON_CHARS)?;
            list("reopen_task_ids", reopen_task_ids, ITEM_CHARS)
        }
        Command::Close {
            results,
            problems,
            improvements,
        } => {
            text("results", results, TEXT_CHARS)?;
            text("problems", problems, TEXT_CHARS)?;
            text("improvements", improvements, TEXT_CHARS)
        }
        Command::Assign { assignee, reason } => {
            text("assignee", assignee, ITEM_CHARS)?;
            text("reason", reason, REASON_CHARS)?;
            if !assignee.trim().is_empty() {
                staff_of_center(assignee, center_id)?;
            }
            Ok(())
        }
        // Relayed by intake, which bounds the applicant's reason itself.
        Command::Withdraw { reason, by } => {
            text("reason", reason, REASON_CHARS)?;
            text("by", by, ITEM_CHARS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(r: Result<(), Refusal>) -> Option<(String, &'static str)> {
        match r {
            Err(Refusal::Invalid { field, rule, .. }) => Some((field, rule)),
            Err(other) => panic!("not an input refusal: {other:?}"),
            Ok(()) => None,
        }
    }

    #[test]
    fn every_text_and_list_has_its_bound() {
        let long = "长".repeat(REASON_CHARS + 1);
        assert_eq!(
            rule(check(&Command::Accept { reason: long }, "C01")),
            Some(("reason".into(), "too_long"))
        );
        let ok = "长".repeat(REASON_CHARS);
        assert_eq!(rule(check(&Command::Accept { reason: ok }, "C01")), None);
        let many = vec!["x".to_string(); ITEMS + 1];
        assert_eq!(
            rule(check(
                &Command::RequestSupplement {
                    missing_items: many,
                    reason: "r".into()
                },
                "C01"
            )),
            Some(("missing_items".into(), "too_many"))
        );
        assert_eq!(
            rule(check(
                &Command::Resume {
                    received_items: vec!["ok".into(), "a\0b".into()],
                    reason: "r".into()
                },
                "C01"
            )),
            Some(("received_items[1]".into(), "control_characters"))
        );
    }

    #[test]
    fn an_assignee_is_a_staff_account_of_the_cases_center() {
        assert_eq!(rule(staff_of_center("c01-specialist", "C01")), None);
        assert_eq!(rule(staff_of_center(" c01-zhang-wei2 ", "C01")), None);
        assert_eq!(
            rule(staff_of_center("c02-specialist", "C01")),
            Some(("assignee".into(), "staff_of_center"))
        );
        for bad in [
            "somebody",
            "c01-",
            "-x",
            "c01-张三",
            "c01-Specialist",
            "c0 1-x",
        ] {
            assert_eq!(
                rule(staff_of_center(bad, "C01")),
                Some(("assignee".into(), "staff_id_format")),
                "{bad}"
            );
        }
        let long = format!("c01-{}", "a".repeat(STAFF_NAME_CHARS + 1));
        assert_eq!(
            rule(staff_of_center(&long, "C01")),
            Some(("assignee".into(), "staff_id_format"))
        );
    }

    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        let text = |field: &str| -> usize {
            match field {
                "department" | "id" | "title" | "assignee" | "task_id" => ITEM_CHARS,
                "content" | "schedule" | "result" | "results" | "problems" | "improvements" => {
                    TEXT_CHARS
                }
                _ => REASON_CHARS,
            }
        };
        let review = |(path, n): &(&str, usize)| {
            path.strip_prefix(".bianmin.review.v1.")
                .map(|p| (p.rsplit('.').next().unwrap().to_string(), *n))
        };
        let lengths: Vec<_> = bianmin_proto::bounds::MAX_LENGTH
            .iter()
            .filter_map(review)
            .collect();
        assert!(
            lengths.len() >= 20,
            "every text field of an action is documented"
        );
        for (field, n) in lengths {
            assert_eq!(n, text(&field), "{field}");
        }
        for (field, n) in bianmin_proto::bounds::MAX_ITEMS.iter().filter_map(review) {
            assert_eq!(n, ITEMS, "{field}");
        }
    }

    proptest! {
        // Any Unicode at all: an answer, never a panic, and a refusal names
        // the field.
        #[test]
        fn any_text_gets_an_answer(s in any::<String>(), center in any::<String>()) {
            let _ = staff_of_center(&s, &center);
            let _ = check(&Command::Assign { assignee: s.clone(), reason: s.clone() }, &center);
            if let Err(Refusal::Invalid { field, .. }) =
                check(&Command::Close { results: s.clone(), problems: s.clone(), improvements: s }, "C01")
            {
                prop_assert!(["results", "problems", "improvements"].contains(&field.as_str()));
            }
        }
    }
}
