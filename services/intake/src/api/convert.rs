//! The gRPC messages of intake's stored and new applications, and the
//! errors of its flows as callers see them.

use crate::domain::catalog::ChecklistItem;
use crate::domain::materials;
use crate::domain::status::{Refusal, Status};
use crate::flow::{self, FirstView};
use crate::store::applications::{Recorded, Stored};
use bianmin_common::error::ApiError;
use bianmin_proto::intake::v1 as pb;

pub fn application_not_found(id: uuid::Uuid) -> ApiError {
    ApiError::NotFound(format!("申请 {id} 不存在 (application not found)"))
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid(violations) => ApiError::Invalid(violations),
            Refusal::NotNow(message) => ApiError::FailedPrecondition(message),
        }
    }
}

impl From<flow::Error> for ApiError {
    fn from(e: flow::Error) -> Self {
        match e {
            flow::Error::NotFound(id) => application_not_found(id),
            flow::Error::Refused(r) => r.into(),
            flow::Error::KeyReused => ApiError::Conflict(
                "该幂等键已用于另一份不同的申请 (Idempotency-Key was already used with a different request)".into(),
            ),
            flow::Error::TypeBusy => ApiError::Unavailable(
                "服务事项正在修改，请稍后重试 (the service type is being changed; retry)".into(),
            ),
            flow::Error::Database(e) => e.into(),
            flow::Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

pub fn timeline_entry(e: Recorded) -> pb::TimelineEntry {
    pb::TimelineEntry {
        kind: e.kind,
        title: e.title,
        detail: e.detail,
        at: e.at.to_rfc3339(),
    }
}

/// The checklist with each item marked satisfied when a material for it
/// was uploaded.
pub fn checklist_status(
    checklist: &[ChecklistItem],
    uploaded: &[String],
) -> Vec<pb::MaterialsChecklistStatus> {
    materials::satisfied(checklist, uploaded)
        .into_iter()
        .map(|(item, satisfied)| pb::MaterialsChecklistStatus {
            code: item.code.clone(),
            name: item.name.clone(),
            group: item.group.clone(),
            required: item.required,
            satisfied,
        })
        .collect()
}

/// A stored application with its materials; personal data masked.
pub fn application(s: Stored, materials: Vec<pb::MaterialsFile>) -> pb::Application {
    let uploaded: Vec<String> = materials.iter().map(|m| m.item_code.clone()).collect();
    let checklist = checklist_status(&s.checklist, &uploaded);
    pb::Application {
        id: s.id.to_string(),
        application_no: s.application_no,
        center_id: s.center_id,
        service_type: s.service_type,
        channel: s.channel,
        status: s.status.as_str().to_string(),
        applicant: Some(pb::Applicant {
            name: s.applicant_name,
            id_number: s.id_number_masked,
            phone: s.phone_masked,
        }),
        reason: s.reason,
        submitted_at: s.submitted_at.to_rfc3339(),
        timeline: s.timeline.into_iter().map(timeline_entry).collect(),
        // The due date is empty when no limit runs.
        review: s.review.map(|r| pb::ReviewInfo {
            case_id: r.case_id.to_string(),
            stage: r.stage,
            due_date: r.due_date.map(|d| d.to_string()).unwrap_or_default(),
        }),
        urgent: s.urgent,
        missing_items: s.missing_items,
        supplement_reason: s.supplement_reason,
        urgent_reason: s.urgent_reason,
        departments: s.departments,
        received_by: s.received_by.unwrap_or_default(),
        materials,
        checklist,
    }
}

/// A new application as a read of it would answer: submitted, one
/// timeline entry, no review yet, no materials, the checklist unsatisfied.
pub fn first_view(f: FirstView) -> pb::Application {
    let v = f.valid;
    let at = f.submitted_at.to_rfc3339();
    pb::Application {
        id: f.id.to_string(),
        application_no: f.application_no,
        center_id: v.center_id,
        service_type: v.service_type,
        channel: v.channel,
        status: Status::Submitted.as_str().into(),
        applicant: Some(pb::Applicant {
            name: v.name,
            id_number: f.id_number_masked,
            phone: f.phone_masked,
        }),
        reason: v.reason,
        submitted_at: at.clone(),
        timeline: vec![pb::TimelineEntry {
            kind: f.entry.kind.to_string(),
            title: f.entry.title,
            detail: f.entry.detail,
            at,
        }],
        review: None,
        urgent: v.urgent,
        missing_items: Vec::new(),
        supplement_reason: String::new(),
        urgent_reason: v.urgent_reason,
        departments: v.departments,
        received_by: v.received_by.unwrap_or_default(),
        materials: Vec::new(),
        checklist: checklist_status(&f.checklist, &[]),
    }
}
