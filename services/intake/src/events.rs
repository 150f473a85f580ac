//! Events intake consumes: everything review publishes, through one durable
//! consumer dispatching by subject, so the resident's timeline follows the
//! case in the order review decided it.

use crate::domain::timeline;
use crate::store::applications::{self, Progress};
use bianmin_common::inbox::{Event, HandleError, Handler, Subscription};
use bianmin_proto::{events::v1 as ev, subjects};
use prost::Message as _;
use sqlx::PgConnection;

pub const REVIEW_EVENTS: Subscription = Subscription {
    stream: subjects::REVIEW_STREAM,
    consumer: subjects::INTAKE_ON_REVIEW_EVENTS,
    filter_subject: subjects::REVIEW_SUBJECTS,
};

/// Shows review's progress on the applicant's application and timeline.
pub struct OnReviewEvent;

/// The six fields every review event starts with, then what it changes.
macro_rules! progress {
    ($e:expr, $status:expr, $due:expr, $entry:expr) => {
        Progress { application_id: &$e.application_id, occurred_at: &$e.occurred_at, stage: &$e.stage, status: $status, due_date: $due, entry: $entry }
    };
}

impl Handler for OnReviewEvent {
    async fn handle(&self, tx: &mut PgConnection, event: &Event<'_>) -> Result<(), HandleError> {
        let p = event.payload;
        let (case_id, applied) = match event.subject {
            subjects::REVIEW_CASE_OPENED => {
                let e = ev::ReviewCaseOpened::decode(p)?;
                (e.case_id.clone(), applications::review_opened(tx, event.id, &e).await?)
            }
            subjects::SUPPLEMENT_REQUESTED => {
                let e = ev::SupplementRequested::decode(p)?;
                let entry = timeline::supplement_requested(&e.missing_items, &e.reason, e.remaining_working_days);
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, Some("awaiting_supplement"), None, Some(entry))).await?)
            }
            subjects::REVIEW_RESUMED => {
                let e = ev::ReviewResumed::decode(p)?;
                let entry = timeline::resumed(&e.due_date);
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, Some("in_review"), Some(&e.due_date), Some(entry))).await?)
            }
            subjects::DEADLINE_EXTENDED => {
                let e = ev::DeadlineExtended::decode(p)?;
                let entry = timeline::extended(&e.reason, &e.due_date);
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, None, Some(&e.due_date), Some(entry))).await?)
            }
            subjects::REVIEW_STAGE_CHANGED => {
                let e = ev::ReviewStageChanged::decode(p)?;
                let entry = timeline::stage_changed(&e.action, &e.stage, &e.due_date);
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, None, Some(&e.due_date), entry)).await?)
            }
            subjects::REVIEW_DECIDED => {
                let e = ev::ReviewDecided::decode(p)?;
                let status = if e.outcome == "approved" { "approved" } else { "rejected" };
                let entry = timeline::decided(&e.outcome, &e.reasons);
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, Some(status), Some(""), Some(entry))).await?)
            }
            subjects::SERVICE_PLANNED => {
                let e = ev::ServicePlanned::decode(p)?;
                let entry = timeline::planned(&e.content, &e.schedule);
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, Some("in_service"), None, Some(entry))).await?)
            }
            subjects::TASK_COMPLETED => {
                let e = ev::TaskCompleted::decode(p)?;
                let result = e.entry.as_ref().map(|l| l.result.as_str()).unwrap_or_default();
                let entry = timeline::task_completed(&e.task_title, result);
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, None, None, Some(entry))).await?)
            }
            subjects::CASE_CLOSED => {
                let e = ev::CaseClosed::decode(p)?;
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, Some("closed"), Some(""), Some(timeline::closed()))).await?)
            }
            subjects::DEADLINE_BREACHED => {
                let e = ev::DeadlineBreached::decode(p)?;
                // The resident sees a missed review limit, not staff's feedback clock.
                let entry = (e.clock != "feedback").then(|| timeline::overdue(&e.due));
                (e.case_id.clone(), applications::review_progress(tx, event.id, progress!(e, None, None, entry)).await?)
            }
            // Warnings are for staff; anything newer is not the resident's concern yet.
            _ => return Ok(()),
        };
        if !applied {
            return Err(HandleError::Permanent(format!("review case {case_id} names an unknown or malformed application")));
        }
        Ok(())
    }
}

/// The consumer intake used before it took every review event; left in
/// place it would hold undelivered messages forever. Its events are applied
/// again by the new consumer at most once each (timeline entries are unique
/// per event id).
const RETIRED_CONSUMER: &str = "intake-review-case-opened";

pub async fn retire_old_consumer(js: &async_nats::jetstream::Context) {
    if let Ok(stream) = js.get_stream(subjects::REVIEW_STREAM).await
        && stream.delete_consumer(RETIRED_CONSUMER).await.is_ok()
    {
        tracing::info!(consumer = RETIRED_CONSUMER, "retired the old review consumer");
    }
}
