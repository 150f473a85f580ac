//! Events review consumes.

use crate::domain::case::{Case, Policy};
use crate::domain::lifecycle::{Actor, Command, Refusal};
use crate::flow::{self, ActError, Deadlines};
use crate::store::cases::Opening;
use bianmin_common::auth::Role;
use bianmin_common::calendar;
use bianmin_common::inbox::{Event, HandleError, Handler, Subscription};
use bianmin_proto::{events::v1 as ev, subjects};
use prost::Message as _;
use sqlx::PgConnection;
use uuid::Uuid;

pub const APPLICATION_SUBMITTED: Subscription = Subscription {
    stream: subjects::INTAKE_STREAM,
    consumer: "review-application-submitted",
    filter_subject: subjects::APPLICATION_SUBMITTED,
};

/// Opens a review case for every submitted application.
pub struct OnApplicationSubmitted {
    pub deadlines: Deadlines,
}

impl Handler for OnApplicationSubmitted {
    async fn handle(&self, tx: &mut PgConnection, event: &Event<'_>) -> Result<(), HandleError> {
        let submitted = ev::ApplicationSubmitted::decode(event.payload)?;
        let envelope = submitted.envelope.clone().unwrap_or_default();
        let application_id = Uuid::parse_str(&submitted.application_id).map_err(|_| {
            HandleError::Permanent(format!(
                "application id {:?} is not a UUID",
                submitted.application_id
            ))
        })?;
        let received = chrono::DateTime::parse_from_rfc3339(&envelope.occurred_at)
            .map_err(|_| {
                HandleError::Permanent(format!(
                    "occurred_at {:?} is not RFC 3339",
                    envelope.occurred_at
                ))
            })?
            .with_timezone(&chrono::Utc);
        let policy = Policy::with_defaults(
            submitted.preliminary_review_days,
            submitted.extended_review_days,
            submitted.decision_days,
        );
        let case = Case::open(
            &self.deadlines.calendar,
            calendar::local_date(received),
            policy,
            received,
        )
        .map_err(|e| HandleError::Permanent(e.to_string()))?;
        let opening = Opening {
            application_id,
            application_no: &submitted.application_no,
            center_id: &envelope.center_id,
            service_type: &submitted.service_type,
            urgent: submitted.urgent,
        };
        match crate::flow::open(tx, &self.deadlines, &opening, case).await? {
            Some(stored) => {
                tracing::info!(%application_id, case_id = %stored.id, due_date = ?stored.case.due_date(), "review case opened");
            }
            None => tracing::info!(%application_id, "application already has a review case"),
        }
        Ok(())
    }
}

pub const APPLICANT_EVENTS: Subscription = Subscription {
    stream: subjects::INTAKE_STREAM,
    consumer: "review-applicant-events",
    filter_subject: subjects::APPLICANT_SUBJECTS,
};

/// What the applicant did after submitting, relayed by intake: a supplement
/// resumes the case exactly as staff's `resume` does (the clock runs again
/// on the extended limit); a withdrawal ends it.
pub struct OnApplicantEvent {
    pub deadlines: Deadlines,
}

fn application_id(raw: &str) -> Result<Uuid, HandleError> {
    Uuid::parse_str(raw)
        .map_err(|_| HandleError::Permanent(format!("application id {raw:?} is not a UUID")))
}

impl Handler for OnApplicantEvent {
    async fn handle(&self, tx: &mut PgConnection, event: &Event<'_>) -> Result<(), HandleError> {
        let (application_id, by, command) = match event.subject {
            subjects::APPLICATION_SUPPLEMENTED => {
                let e = ev::ApplicationSupplemented::decode(event.payload)?;
                let reason = if e.note.is_empty() {
                    "申请人补正材料 (supplied by the applicant)".to_string()
                } else {
                    e.note
                };
                (
                    application_id(&e.application_id)?,
                    e.supplied_by,
                    Command::Resume {
                        received_items: e.supplied_items,
                        reason,
                    },
                )
            }
            subjects::APPLICATION_WITHDRAWN => {
                let e = ev::ApplicationWithdrawn::decode(event.payload)?;
                (
                    application_id(&e.application_id)?,
                    e.withdrawn_by.clone(),
                    Command::Withdraw {
                        reason: e.reason,
                        by: e.withdrawn_by,
                    },
                )
            }
            _ => return Ok(()),
        };
        // Intake relays; the history names who acted through it.
        let actor = Actor {
            subject: format!("intake:{by}"),
            role: Role::Service,
        };
        match flow::act_for_applicant(tx, &self.deadlines, application_id, &actor, command).await {
            Ok(stored) => {
                tracing::info!(%application_id, case_id = %stored.id, stage = stored.case.stage.as_str(),
                    subject = event.subject, "applicant's answer applied");
                Ok(())
            }
            // The case is opened from an earlier event that may still be on
            // its way: try again later.
            Err(ActError::NotFound) => Err(HandleError::Transient(format!(
                "no review case for application {application_id} yet"
            ))),
            // Overtaken: staff resumed on paper first, or the case was
            // decided before the withdrawal arrived. The case stands.
            Err(ActError::Refused(Refusal::Illegal(why))) => {
                tracing::warn!(%application_id, subject = event.subject, %why, "applicant's answer overtaken; case unchanged");
                Ok(())
            }
            Err(ActError::Refused(other)) => Err(HandleError::Permanent(other.to_string())),
            Err(ActError::Database(e)) => Err(e.into()),
        }
    }
}
