//! The complaint as the API answers it: the complainant masked, always.

use crate::store::complaints::Stored;
use bianmin_common::calendar;
use bianmin_proto::complaint::v1 as pb;

pub fn complaint(s: &Stored) -> pb::Complaint {
    let c = &s.complaint;
    let today = calendar::local_date(chrono::Utc::now());
    let open = !matches!(
        c.status,
        crate::domain::complaint::Status::Answered | crate::domain::complaint::Status::Closed
    );
    pb::Complaint {
        id: s.id.to_string(),
        complaint_no: s.complaint_no.clone(),
        center_id: c.center_id.clone(),
        channel: s.channel.clone(),
        complainant: Some(pb::Complainant {
            name: s.name_masked.clone(),
            id_number: s.id_number_masked.clone(),
            phone: s.phone_masked.clone(),
        }),
        party: Some(pb::Party {
            kind: c.party_kind.as_str().into(),
            id: c.party_id.clone(),
        }),
        r#type: c.kind.as_str().into(),
        type_label: c.kind.label().into(),
        content: s.content.clone(),
        demand: s.demand.clone(),
        sensitive: s.sensitive,
        status: c.status.as_str().into(),
        filed_by: c.filed_by.clone(),
        recorded_by: c.recorded_by.clone().unwrap_or_default(),
        owner: c.owner.clone().unwrap_or_default(),
        first_owner: c.first_owner.clone().unwrap_or_default(),
        nature: c.nature.map(|n| n.as_str().to_string()).unwrap_or_default(),
        severity: c
            .severity
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        investigators: c.investigators.clone(),
        finding: c.finding.as_ref().map(|f| pb::Finding {
            result: f.result.as_str().into(),
            cause: f.cause.clone(),
            recorded_by: f.recorded_by.clone(),
            recorded_at: f.recorded_at.to_rfc3339(),
        }),
        answer: c.answer.clone().unwrap_or_default(),
        due_date: c.due_date.map(|d| d.to_string()).unwrap_or_default(),
        overdue: c.breached || (open && c.due_date.is_some_and(|d| d < today)),
        answered_on_time: c.answered_on_time.unwrap_or(false),
        filed_at: s.filed_at.to_rfc3339(),
        closed_at: c.closed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        history: c
            .history
            .iter()
            .map(|h| pb::Step {
                action: h.action.clone(),
                by: h.by.clone(),
                at: h.at.to_rfc3339(),
                from: h.from.clone(),
                to: h.to.clone(),
                reason: h.reason.clone(),
            })
            .collect(),
    }
}
