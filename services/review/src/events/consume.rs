//! Events review consumes.

use crate::domain::case::{Case, Policy};
use crate::flow::Deadlines;
use crate::store::cases::{self, Opening};
use bianmin_common::calendar;
use bianmin_common::inbox::{Event, HandleError, Handler, Subscription};
use bianmin_proto::{events::v1 as ev, subjects};
use prost::Message as _;
use sqlx::PgConnection;
use uuid::Uuid;

pub const APPLICATION_SUBMITTED: Subscription = Subscription {
    stream: subjects::INTAKE_STREAM,
    consumer: subjects::REVIEW_ON_APPLICATION_SUBMITTED,
    filter_subject: subjects::APPLICATION_SUBMITTED,
};

/// Opens a review case for every submitted application.
pub struct OnApplicationSubmitted {
    pub deadlines: Deadlines,
}

impl Handler for OnApplicationSubmitted {
    async fn handle(&self, tx: &mut PgConnection, event: &Event<'_>) -> Result<(), HandleError> {
        let submitted = ev::ApplicationSubmitted::decode(event.payload)?;
        let application_id = Uuid::parse_str(&submitted.application_id).map_err(|_| {
            HandleError::Permanent(format!(
                "application id {:?} is not a UUID",
                submitted.application_id
            ))
        })?;
        let received = chrono::DateTime::parse_from_rfc3339(&submitted.occurred_at)
            .map_err(|_| {
                HandleError::Permanent(format!(
                    "occurred_at {:?} is not RFC 3339",
                    submitted.occurred_at
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
            center_id: &submitted.center_id,
            service_type: &submitted.service_type,
            urgent: submitted.urgent,
        };
        match cases::insert(tx, &opening, case, self.deadlines.now()).await? {
            Some(stored) => {
                crate::flow::opened(tx, &self.deadlines, &stored).await?;
                tracing::info!(%application_id, case_id = %stored.id, due_date = ?stored.case.due_date(), "review case opened");
            }
            None => tracing::info!(%application_id, "application already has a review case"),
        }
        Ok(())
    }
}
