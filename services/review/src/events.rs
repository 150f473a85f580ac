//! Events review consumes.

use crate::domain::opening;
use bianmin_common::calendar::{self, WorkingCalendar};
use bianmin_common::inbox::{Event, HandleError, Handler, Subscription};
use bianmin_proto::{events::v1 as ev, subjects};
use prost::Message as _;
use sqlx::PgConnection;
use std::sync::Arc;
use uuid::Uuid;

pub const APPLICATION_SUBMITTED: Subscription = Subscription {
    stream: subjects::INTAKE_STREAM,
    consumer: subjects::REVIEW_ON_APPLICATION_SUBMITTED,
    filter_subject: subjects::APPLICATION_SUBMITTED,
};

/// Opens a review case for every submitted application.
pub struct OnApplicationSubmitted {
    pub calendar: Arc<WorkingCalendar>,
}

impl Handler for OnApplicationSubmitted {
    async fn handle(&self, tx: &mut PgConnection, event: &Event<'_>) -> Result<(), HandleError> {
        let submitted = ev::ApplicationSubmitted::decode(event.payload)?;
        let application_id = Uuid::parse_str(&submitted.application_id)
            .map_err(|_| HandleError::Permanent(format!("application id {:?} is not a UUID", submitted.application_id)))?;
        let received = chrono::DateTime::parse_from_rfc3339(&submitted.occurred_at)
            .map_err(|_| HandleError::Permanent(format!("occurred_at {:?} is not RFC 3339", submitted.occurred_at)))?;
        let accepted_on = calendar::local_date(received.with_timezone(&chrono::Utc));
        let opening = opening::open(&self.calendar, accepted_on, submitted.preliminary_review_days)
            .map_err(|e| HandleError::Permanent(e.to_string()))?;
        let opened = crate::store::open_case(tx, &submitted, application_id, &opening).await?;
        if opened {
            tracing::info!(%application_id, due_date = %opening.due_date, "review case opened");
        } else {
            tracing::info!(%application_id, "application already has a review case");
        }
        Ok(())
    }
}
