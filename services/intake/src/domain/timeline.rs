//! What a resident reads on their application's timeline (Chinese first).

use chrono::NaiveDate;

pub struct Entry {
    pub kind: &'static str,
    pub title: String,
    pub detail: String,
}

pub fn submitted(channel_label: &str, center_name: &str) -> Entry {
    Entry {
        kind: "submitted",
        title: "已提交申请 (application submitted)".into(),
        detail: format!("受理渠道：{channel_label}；受理中心：{center_name}"),
    }
}

pub fn review_opened(stage: &str, due: NaiveDate, days: u32) -> Entry {
    let stage_label = stage_label(stage);
    Entry {
        kind: "review_opened",
        title: format!("已受理，进入{stage_label} (accepted, {stage})"),
        detail: format!("{stage_label}结果将于 {due} 前作出（{days} 个工作日内）"),
    }
}

fn stage_label(stage: &str) -> &str {
    match stage {
        "preliminary_review" => "初审",
        "supplement_requested" => "待补正",
        "detailed_assessment" => "详细评估",
        "joint_review" => "联合审核",
        "decided" => "已决定",
        "execution" => "服务执行",
        "acceptance_check" => "验收",
        "closed" => "已结案",
        other => other,
    }
}

/// 补正: every missing item at once; the clock stops until they arrive.
pub fn supplement_requested(items: &[String], reason: &str, remaining: u32) -> Entry {
    Entry {
        kind: "supplement_requested",
        title: "请补正材料，办理时限暂停 (supplement requested; the time limit is suspended)"
            .into(),
        detail: format!(
            "请一次性补齐：{}；原因：{reason}。补齐后剩余 {remaining} 个工作日继续计算 (the remaining working days continue once supplied)",
            items.join("、")
        ),
    }
}

/// The applicant's answer to a supplement request; review resumes next.
pub fn supplement_submitted(items: &[String], note: &str, by_staff: bool) -> Entry {
    let who = if by_staff {
        "工作人员代为提交"
    } else {
        "申请人提交"
    };
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("；说明：{note}")
    };
    Entry {
        kind: "supplement_submitted",
        title: "已提交补正材料，等待恢复办理 (supplement submitted; review resumes)".into(),
        detail: format!("{who}：{}{note}", items.join("、")),
    }
}

pub fn withdrawn(reason: &str, by_staff: bool) -> Entry {
    let who = if by_staff {
        "工作人员代申请人撤回"
    } else {
        "申请人撤回"
    };
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!("；原因：{reason}")
    };
    Entry {
        kind: "withdrawn",
        title: "申请已撤回 (application withdrawn)".into(),
        detail: format!("{who}{reason}"),
    }
}

pub fn resumed(due: &str) -> Entry {
    Entry {
        kind: "resumed",
        title: "材料已补齐，恢复办理 (supplement received; review resumed)".into(),
        detail: format!("办理期限：{due} 前 (due {due})"),
    }
}

pub fn extended(reason: &str, due: &str) -> Entry {
    Entry {
        kind: "extended",
        title: "办理期限延长 (time limit extended)".into(),
        detail: format!("原因：{reason}；新的期限：{due} (new due date)"),
    }
}

/// Stage changes a resident cares about; `None` for internal steps.
pub fn stage_changed(action: &str, stage: &str, due: &str) -> Option<Entry> {
    let title = match action {
        "accept" => "初审通过，进入详细评估 (preliminary review passed)",
        "start_joint_review" => "进入多部门联合审核 (joint review by several departments)",
        "check_acceptance" if stage == "acceptance_check" => {
            "服务验收合格 (acceptance check passed)"
        }
        _ => return None,
    };
    let detail = if due.is_empty() {
        stage_label(stage).to_string()
    } else {
        format!("{}，期限 {due} (due {due})", stage_label(stage))
    };
    Some(Entry {
        kind: "stage_changed",
        title: title.into(),
        detail,
    })
}

pub fn decided(outcome: &str, reasons: &str) -> Entry {
    match outcome {
        "approved" => Entry {
            kind: "approved",
            title: "审核通过 (approved)".into(),
            detail: "将为您制定服务计划 (a service plan follows)".into(),
        },
        _ => Entry {
            kind: "rejected",
            title: "不予批准 (rejected)".into(),
            detail: format!(
                "理由：{reasons}。您可补正后重新申请 (you may correct and apply again)"
            ),
        },
    }
}

pub fn planned(content: &str, schedule: &str) -> Entry {
    Entry {
        kind: "planned",
        title: "已制定服务计划 (service planned)".into(),
        detail: format!("{content}；安排：{schedule}"),
    }
}

pub fn task_completed(title: &str, result: &str) -> Entry {
    Entry {
        kind: "task_completed",
        title: format!("已完成服务：{title} (service task completed)"),
        detail: result.to_string(),
    }
}

pub fn closed() -> Entry {
    Entry {
        kind: "closed",
        title: "已结案 (case closed)".into(),
        detail: "欢迎对本次服务作出评价 (your feedback is welcome)".into(),
    }
}

pub fn overdue(due: &str) -> Entry {
    Entry {
        kind: "overdue",
        title: "办理已超过时限，已提请中心主管督办 (overdue; escalated to the center's supervisor)"
            .into(),
        detail: format!("期限 {due} (was due {due})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supplement_request_lists_every_item_and_the_suspended_clock() {
        let e = supplement_requested(&["户口簿".into(), "收入证明".into()], "材料不全", 3);
        assert!(
            e.detail.contains("户口簿、收入证明")
                && e.detail.contains("材料不全")
                && e.detail.contains("3 个工作日")
        );
        assert!(e.title.contains("暂停"));
    }

    #[test]
    fn internal_steps_stay_off_the_timeline() {
        assert!(stage_changed("sign_off", "joint_review", "").is_none());
        assert!(stage_changed("assign", "preliminary_review", "2026-12-01").is_none());
        let accepted = stage_changed("accept", "detailed_assessment", "2027-01-05").unwrap();
        assert!(accepted.detail.contains("详细评估") && accepted.detail.contains("2027-01-05"));
        assert!(
            decided("rejected", "申请材料不齐全")
                .detail
                .contains("申请材料不齐全")
        );
    }
}
