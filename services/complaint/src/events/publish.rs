//! The events the complaint service writes to the outbox, built from the
//! complaint as it was saved. None carries the complainant or the content;
//! a sensitive complaint's cause stays out too.

use crate::store::complaints::Stored;
use bianmin_common::auth::Role;
use bianmin_common::outbox::OutboxEvent;
use bianmin_proto::{events::v1 as ev, subjects};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

fn envelope(id: Uuid, s: &Stored, at: DateTime<Utc>) -> Option<ev::EventEnvelope> {
    ev::EventEnvelope::new(id, at.to_rfc3339(), s.center_id())
}

fn complaint_ref(s: &Stored) -> Option<ev::ComplaintRef> {
    Some(ev::ComplaintRef {
        complaint_id: s.id.to_string(),
        complaint_no: s.complaint_no.clone(),
        r#type: s.complaint.kind.as_str().into(),
        status: s.complaint.status.as_str().into(),
    })
}

pub fn filed(s: &Stored, at: DateTime<Utc>) -> OutboxEvent {
    let id = Uuid::now_v7();
    let c = &s.complaint;
    let e = ev::ComplaintFiled {
        envelope: envelope(id, s, at),
        complaint: complaint_ref(s),
        channel: s.channel.clone(),
        party_kind: c.party_kind.as_str().into(),
        party_id: c.party_id.clone(),
        sensitive: s.sensitive,
        owner: c.owner.clone().unwrap_or_default(),
        due_date: c.due_date.map(|d| d.to_string()).unwrap_or_default(),
    };
    OutboxEvent::new(id, subjects::COMPLAINT_FILED, "ComplaintFiled", &e)
}

pub fn closed(s: &Stored, at: DateTime<Utc>) -> OutboxEvent {
    let id = Uuid::now_v7();
    let c = &s.complaint;
    let e = ev::ComplaintClosed {
        envelope: envelope(id, s, at),
        complaint: complaint_ref(s),
        party_kind: c.party_kind.as_str().into(),
        party_id: c.party_id.clone(),
        nature: c.nature.map(|n| n.as_str().to_string()).unwrap_or_default(),
        severity: c
            .severity
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        finding: c
            .finding
            .as_ref()
            .map(|f| f.result.as_str().to_string())
            .unwrap_or_default(),
        cause: match (&c.finding, s.sensitive) {
            (Some(f), false) => f.cause.clone(),
            _ => String::new(),
        },
        answered_on_time: c.answered_on_time.unwrap_or(false),
        first_owner: c.first_owner.clone().unwrap_or_default(),
        owner: c.owner.clone().unwrap_or_default(),
    };
    OutboxEvent::new(id, subjects::COMPLAINT_CLOSED, "ComplaintClosed", &e)
}

pub fn breached(s: &Stored, due: NaiveDate, at: DateTime<Utc>) -> OutboxEvent {
    let id = Uuid::now_v7();
    let e = ev::ComplaintDeadlineBreached {
        envelope: envelope(id, s, at),
        complaint: complaint_ref(s),
        due: due.to_string(),
        owner: s.complaint.owner.clone().unwrap_or_default(),
        escalate_to_role: Role::Supervisor.as_str().into(),
    };
    OutboxEvent::new(
        id,
        subjects::COMPLAINT_DEADLINE_BREACHED,
        "ComplaintDeadlineBreached",
        &e,
    )
}
