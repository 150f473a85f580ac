//! Escalation (升级): a breached time limit is brought to the center's
//! supervisors, who may extend it with a recorded reason or take the case
//! in hand. The message goes to the role at the center, not a person, so
//! it reaches whoever is on duty when the staff console (or the configured
//! sender) delivers it.

use super::deadlines::TimerSpec;
use bianmin_common::auth::Role;
use bianmin_common::notify::{Channel, Notification, Recipient};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Who a breach at `center_id` is escalated to.
pub fn escalated_to(center_id: &str) -> String {
    format!("{}@{center_id}", Role::Supervisor.as_str())
}

/// The supervisors' notice of one breached limit. `timer_id` makes it once
/// per breach, however often the firing transaction is retried.
pub fn breach_notice(
    timer_id: i64,
    case_id: Uuid,
    application_no: &str,
    center_id: &str,
    service_type: &str,
    spec: &TimerSpec,
) -> Notification {
    let params = BTreeMap::from([
        ("case_id".to_string(), case_id.to_string()),
        ("application_no".to_string(), application_no.to_string()),
        ("center_id".to_string(), center_id.to_string()),
        ("service_type".to_string(), service_type.to_string()),
        ("clock".to_string(), spec.clock.clone()),
        ("due".to_string(), spec.due.clone()),
        (
            "message".to_string(),
            format!(
                "申请 {application_no} 的{}期限 {} 已超期，请处理或经批准延期 (the {} limit of application {application_no}, due {}, is breached: act on it or extend it with approval)",
                clock_label(&spec.clock),
                spec.due,
                spec.clock,
                spec.due
            ),
        ),
    ]);
    Notification {
        recipient: Recipient::Named(escalated_to(center_id)),
        channel: Channel::Console,
        template: "deadline_breached".into(),
        params,
        dedupe_key: format!("review:deadline_breached:{timer_id}"),
    }
}

fn clock_label(clock: &str) -> &'static str {
    match clock {
        "preliminary" => "初审",
        "decision" => "审批决定",
        "feedback" => "服务反馈",
        _ => "办理",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deadlines::TimerKind;

    #[test]
    fn a_breach_goes_to_the_centers_supervisors_once() {
        let spec = TimerSpec {
            kind: TimerKind::Breach,
            clock: "preliminary".into(),
            task_id: String::new(),
            fire_at: chrono::Utc::now(),
            due: "2026-11-30".into(),
        };
        let case = Uuid::nil();
        let n = breach_notice(
            7,
            case,
            "BM-C01-000001",
            "C01",
            "elderly-care-subsidy",
            &spec,
        );
        assert_eq!(n.recipient, Recipient::Named("supervisor@C01".into()));
        assert_eq!(n.channel, Channel::Console);
        assert_eq!(n.dedupe_key, "review:deadline_breached:7");
        assert!(n.params["message"].starts_with("申请 BM-C01-000001 的初审期限 2026-11-30 已超期"));
        assert_eq!(
            breach_notice(7, case, "BM-C01-000001", "C01", "x", &spec).dedupe_key,
            n.dedupe_key,
            "the same breach is the same notice"
        );
        assert_ne!(
            breach_notice(8, case, "BM-C01-000001", "C01", "x", &spec).dedupe_key,
            n.dedupe_key
        );
    }
}
