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
    let stage_label = match stage {
        "preliminary_review" => "初审",
        other => other,
    };
    Entry {
        kind: "review_opened",
        title: format!("已受理，进入{stage_label} (accepted, {stage})"),
        detail: format!("{stage_label}结果将于 {due} 前作出（{days} 个工作日内）"),
    }
}
