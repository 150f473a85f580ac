//! The events intake publishes, each written to the outbox in the
//! transaction (or the statement) of the change it announces.

use crate::domain::answers::Supplement;
use crate::domain::catalog::Definition;
use crate::domain::submission::Valid;
use bianmin_common::auth::Principal;
use bianmin_common::outbox::{self, OutboxEvent};
use bianmin_proto::{events::v1 as ev, subjects};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A new application, as it was just accepted.
pub struct NewApplication<'a> {
    pub id: Uuid,
    pub application_no: &'a str,
    pub valid: &'a Valid,
    /// The service type's definition it was accepted under: its limits go
    /// to review with it.
    pub definition: &'a Definition,
}

/// `ApplicationSubmitted`, as the outbox row the submission's statement
/// writes with the application.
pub fn submitted(a: &NewApplication<'_>, at: DateTime<Utc>) -> OutboxEvent {
    let event_id = Uuid::now_v7();
    let (v, d) = (a.valid, a.definition);
    let event = ev::ApplicationSubmitted {
        envelope: ev::EventEnvelope::new(event_id, at.to_rfc3339(), &v.center_id),
        application_id: a.id.to_string(),
        application_no: a.application_no.to_string(),
        service_type: v.service_type.clone(),
        channel: v.channel.clone(),
        preliminary_review_days: d.preliminary_review_days,
        extended_review_days: d.extended_review_days,
        decision_days: d.decision_days,
        urgent: v.urgent,
        departments: v.departments.clone(),
    };
    OutboxEvent::new(
        event_id,
        subjects::APPLICATION_SUBMITTED,
        "ApplicationSubmitted",
        &event,
    )
}

/// Writes `ApplicationSupplemented`: the applicant's answer to review's
/// request.
pub async fn supplemented(
    tx: &mut PgConnection,
    application_id: Uuid,
    center_id: &str,
    answer: &Supplement,
    by: &Principal,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let event_id = Uuid::now_v7();
    let event = ev::ApplicationSupplemented {
        envelope: ev::EventEnvelope::new(event_id, at.to_rfc3339(), center_id),
        application_id: application_id.to_string(),
        supplied_items: answer.items.clone(),
        note: answer.note.clone(),
        supplied_by: by.subject.clone(),
        supplied_by_role: by.role.as_str().to_string(),
    };
    outbox::enqueue(
        tx,
        OutboxEvent::new(
            event_id,
            subjects::APPLICATION_SUPPLEMENTED,
            "ApplicationSupplemented",
            &event,
        ),
    )
    .await
}

/// Writes `ApplicationWithdrawn`: review ends the case on it.
pub async fn withdrawn(
    tx: &mut PgConnection,
    application_id: Uuid,
    center_id: &str,
    reason: &str,
    by: &Principal,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let event_id = Uuid::now_v7();
    let event = ev::ApplicationWithdrawn {
        envelope: ev::EventEnvelope::new(event_id, at.to_rfc3339(), center_id),
        application_id: application_id.to_string(),
        reason: reason.to_string(),
        withdrawn_by: by.subject.clone(),
        withdrawn_by_role: by.role.as_str().to_string(),
    };
    outbox::enqueue(
        tx,
        OutboxEvent::new(
            event_id,
            subjects::APPLICATION_WITHDRAWN,
            "ApplicationWithdrawn",
            &event,
        ),
    )
    .await
}
