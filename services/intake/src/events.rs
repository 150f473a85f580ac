//! Events intake consumes.

use crate::store::applications;
use bianmin_common::inbox::{Event, HandleError, Handler, Subscription};
use bianmin_proto::{events::v1 as ev, subjects};
use prost::Message as _;
use sqlx::PgConnection;

pub const REVIEW_CASE_OPENED: Subscription = Subscription {
    stream: subjects::REVIEW_STREAM,
    consumer: subjects::INTAKE_ON_REVIEW_CASE_OPENED,
    filter_subject: subjects::REVIEW_CASE_OPENED,
};

/// Shows the review stage and its due date on the applicant's timeline.
pub struct OnReviewCaseOpened;

impl Handler for OnReviewCaseOpened {
    async fn handle(&self, tx: &mut PgConnection, event: &Event<'_>) -> Result<(), HandleError> {
        let opened = ev::ReviewCaseOpened::decode(event.payload)?;
        if !applications::review_opened(tx, event.id, &opened).await? {
            return Err(HandleError::Permanent(format!(
                "review case {} names unknown or malformed application {:?}",
                opened.case_id, opened.application_id
            )));
        }
        Ok(())
    }
}
