//! The gRPC messages of intake's stored and new applications, and the
//! errors of its flows as callers see them.

use crate::domain::catalog::{self, ChecklistItem, Definition};
use crate::domain::materials;
use crate::domain::status::{Refusal, Status};
use crate::flow::{self, FirstView};
use crate::store::applications::{Recorded, Stored};
use crate::store::{catalog as catalog_store, materials as materials_store, personal};
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
            flow::Error::NoServiceType(code) => {
                ApiError::NotFound(format!("服务事项 {code} 不存在 (no such service type)"))
            }
            flow::Error::Refused(r) => r.into(),
            flow::Error::Catalog(catalog::Refusal::Taken(m)) => ApiError::Conflict(m),
            flow::Error::Catalog(catalog::Refusal::Retired(m)) => ApiError::FailedPrecondition(m),
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

impl From<materials_store::Error> for ApiError {
    fn from(e: materials_store::Error) -> Self {
        match e {
            materials_store::Error::Database(e) => e.into(),
            materials_store::Error::Unavailable => ApiError::Unavailable(
                "材料存储暂不可用，请稍后重试 (material storage unavailable, retry later)".into(),
            ),
            materials_store::Error::Vanished(key) => {
                ApiError::Internal(anyhow::anyhow!("material {key} vanished"))
            }
        }
    }
}

pub fn center(c: catalog_store::Center) -> pb::Center {
    pb::Center {
        id: c.id,
        name: c.name,
        district: c.district,
        address: c.address,
    }
}

pub fn department(d: catalog_store::Department) -> pb::CatalogDepartment {
    pb::CatalogDepartment {
        code: d.code,
        name: d.name,
    }
}

fn checklist_item(i: ChecklistItem) -> pb::CatalogChecklistItem {
    pb::CatalogChecklistItem {
        code: i.code,
        name: i.name,
        group: i.group,
        required: i.required,
    }
}

pub fn service_type(t: catalog_store::Stored) -> pb::ServiceType {
    let d = t.definition;
    pb::ServiceType {
        code: d.code,
        name: d.name,
        domain: d.domain,
        class: d.class,
        preliminary_review_days: d.preliminary_review_days,
        extended_review_days: d.extended_review_days,
        decision_days: d.decision_days,
        sensitive: d.sensitive,
        active: t.retired_at.is_none(),
        materials: d.materials.into_iter().map(checklist_item).collect(),
        retired_at: t.retired_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        version: t.version as u32,
    }
}

/// A definition from its gRPC form (what an administrator sends).
pub fn definition(t: pb::ServiceType) -> Definition {
    Definition {
        code: t.code,
        name: t.name,
        domain: t.domain,
        class: t.class,
        preliminary_review_days: t.preliminary_review_days,
        extended_review_days: t.extended_review_days,
        decision_days: t.decision_days,
        sensitive: t.sensitive,
        materials: t
            .materials
            .into_iter()
            .map(|i| ChecklistItem {
                code: i.code,
                name: i.name,
                group: i.group,
                required: i.required,
            })
            .collect(),
    }
}

pub fn history_entry(e: catalog_store::HistoryEntry) -> pb::CatalogHistoryEntry {
    pb::CatalogHistoryEntry {
        version: e.version as u32,
        change: e.change,
        actor: e.actor,
        role: e.role,
        at: e.at.to_rfc3339(),
        reason: e.reason,
        service_type: Some(service_type(e.service_type)),
    }
}

pub fn material(f: materials_store::File) -> pb::MaterialsFile {
    pb::MaterialsFile {
        id: f.id.to_string(),
        item_code: f.item_code,
        file_name: f.file_name,
        content_type: f.content_type,
        size_bytes: f.size_bytes,
        sha256: f.sha256,
        uploaded_by: f.uploaded_by,
        uploaded_at: f.uploaded_at.to_rfc3339(),
    }
}

pub fn application_summary(s: personal::Summary) -> pb::PiiApplicationSummary {
    pb::PiiApplicationSummary {
        id: s.id.to_string(),
        application_no: s.application_no,
        center_id: s.center_id,
        service_type: s.service_type,
        status: s.status,
        submitted_at: s.submitted_at.to_rfc3339(),
        applicant: Some(pb::Applicant {
            name: s.applicant_name,
            id_number: s.id_number_masked,
            phone: s.phone_masked,
        }),
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
pub fn application(s: Stored, materials: Vec<materials_store::File>) -> pb::Application {
    let uploaded: Vec<String> = materials.iter().map(|m| m.item_code.clone()).collect();
    let materials = materials.into_iter().map(material).collect();
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
/// The application as `caller` may see it. A partner agency sees the
/// minimum it needs to follow up, whichever door it uses (the REST API or
/// the partner edge): number, center, service, status, review stage and
/// due date, the timeline's steps, the applicant's masked name, and the
/// application's id to act on; not the reason, the staff who received it,
/// the materials, the review case's id, nor the ID and phone numbers even
/// masked. Everyone else gets the masked view as it is. Pure.
pub fn as_seen_by(caller: &bianmin_common::auth::Principal, a: pb::Application) -> pb::Application {
    if caller.role != bianmin_common::auth::Role::Partner {
        return a;
    }
    let applicant = a.applicant.map(|p| pb::Applicant {
        name: bianmin_common::pii::mask_name(&p.name),
        id_number: String::new(),
        phone: String::new(),
    });
    pb::Application {
        id: a.id,
        application_no: a.application_no,
        center_id: a.center_id,
        service_type: a.service_type,
        channel: a.channel,
        status: a.status,
        applicant,
        submitted_at: a.submitted_at,
        timeline: a
            .timeline
            .into_iter()
            .map(|t| pb::TimelineEntry {
                kind: t.kind,
                title: t.title,
                detail: String::new(),
                at: t.at,
            })
            .collect(),
        review: a.review.map(|r| pb::ReviewInfo {
            case_id: String::new(),
            ..r
        }),
        urgent: a.urgent,
        missing_items: a.missing_items,
        departments: a.departments,
        ..Default::default()
    }
}

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

/// The answer a submission first gave, from the application as it is now:
/// what `first_view` answered then (submitted, its first timeline entry,
/// no review, no materials), so that a retry under the same key answers
/// exactly the first answer, however far the application has moved on.
pub fn as_first_answered(mut a: pb::Application) -> pb::Application {
    a.status = Status::Submitted.as_str().into();
    a.timeline.truncate(1);
    a.review = None;
    a.missing_items.clear();
    a.supplement_reason.clear();
    a.materials.clear();
    for item in &mut a.checklist {
        item.satisfied = false;
    }
    a
}

#[cfg(test)]
mod first_answer_tests {
    use super::*;

    #[test]
    fn a_replay_answers_what_the_submission_first_answered() {
        let first = pb::Application {
            id: "a".into(),
            status: "submitted".into(),
            timeline: vec![pb::TimelineEntry {
                kind: "submitted".into(),
                ..Default::default()
            }],
            checklist: vec![pb::MaterialsChecklistStatus {
                code: "id_card".into(),
                satisfied: false,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut now = first.clone();
        now.status = "in_review".into();
        now.timeline.push(pb::TimelineEntry {
            kind: "review".into(),
            ..Default::default()
        });
        now.review = Some(Default::default());
        now.materials.push(Default::default());
        now.checklist[0].satisfied = true;
        assert_eq!(as_first_answered(now), first);
    }
}

#[cfg(test)]
mod partner_view_tests {
    use super::*;
    use bianmin_common::auth::{Principal, Role};

    fn caller(role: Role) -> Principal {
        Principal {
            subject: "x".into(),
            role,
            center_id: None,
            centers: vec!["C01".into()],
        }
    }

    fn full() -> pb::Application {
        pb::Application {
            id: "0190".into(),
            application_no: "C01-20261202-000001".into(),
            status: "in_review".into(),
            applicant: Some(pb::Applicant {
                name: "张秀兰".into(),
                id_number: "110105********002X".into(),
                phone: "138****5678".into(),
            }),
            reason: "独居老人，子女在外地".into(),
            received_by: "c01-specialist".into(),
            materials: vec![pb::MaterialsFile {
                sha256: "9f2c".into(),
                ..Default::default()
            }],
            review: Some(pb::ReviewInfo {
                case_id: "case-1".into(),
                stage: "preliminary_review".into(),
                due_date: "2026-12-09".into(),
            }),
            timeline: vec![pb::TimelineEntry {
                kind: "submitted".into(),
                title: "已提交申请".into(),
                detail: "受理渠道：服务窗口；经办：c01-specialist".into(),
                at: "2026-12-02T09:00:00Z".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_partner_sees_the_minimum_whichever_door() {
        let seen = as_seen_by(&caller(Role::Partner), full());
        let applicant = seen.applicant.clone().unwrap();
        assert_eq!(applicant.name, bianmin_common::pii::mask_name("张秀兰"));
        assert!(applicant.id_number.is_empty() && applicant.phone.is_empty());
        assert!(seen.reason.is_empty() && seen.received_by.is_empty());
        assert!(seen.materials.is_empty());
        let review = seen.review.clone().unwrap();
        assert!(review.case_id.is_empty());
        assert_eq!(review.stage, "preliminary_review");
        assert!(seen.timeline[0].detail.is_empty());
        assert_eq!(seen.timeline[0].title, "已提交申请");
        assert_eq!(seen.application_no, "C01-20261202-000001");
        assert_eq!(seen.id, "0190");
        // Staff see the masked view as it is.
        assert_eq!(as_seen_by(&caller(Role::Specialist), full()), full());
    }
}
