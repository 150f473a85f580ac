//! Events intake consumes: everything review publishes, through one durable
//! consumer dispatching by subject, so the resident's timeline follows the
//! case in the order review decided it.

use crate::domain::status::Status;
use crate::domain::{notices, timeline};
use crate::store::applications::{self, Progress, SupplementRequest};
use crate::store::notices as notices_store;
use bianmin_common::inbox::{Event, HandleError, Handler, Subscription};
use bianmin_proto::{events::v1 as ev, subjects};
use prost::Message as _;
use sqlx::PgConnection;

pub const REVIEW_EVENTS: Subscription = Subscription {
    stream: subjects::REVIEW_STREAM,
    consumer: "intake-review-events",
    filter_subject: subjects::REVIEW_SUBJECTS,
};

/// Shows review's progress on the applicant's application and timeline.
pub struct OnReviewEvent;

/// What one review event changes on the application.
struct Change {
    /// When it happened.
    envelope: Option<ev::EventEnvelope>,
    /// The case, its application and stage.
    case_ref: Option<ev::CaseRef>,
    /// The status residents read; None leaves it.
    status: Option<Status>,
    /// The due date: Some("") clears it, None leaves it.
    due_date: Option<String>,
    entry: Option<timeline::Entry>,
    supplement: Option<SupplementRequest>,
}

impl Change {
    /// A change of the timeline alone (and the stage, from the case).
    fn entry(
        envelope: Option<ev::EventEnvelope>,
        case_ref: Option<ev::CaseRef>,
        entry: Option<timeline::Entry>,
    ) -> Self {
        Change {
            envelope,
            case_ref,
            status: None,
            due_date: None,
            entry,
            supplement: None,
        }
    }

    fn status(self, status: Status) -> Self {
        Change {
            status: Some(status),
            ..self
        }
    }

    fn due(self, due_date: String) -> Self {
        Change {
            due_date: Some(due_date),
            ..self
        }
    }
}

fn change(subject: &str, p: &[u8]) -> Result<Option<Change>, HandleError> {
    Ok(Some(match subject {
        subjects::SUPPLEMENT_REQUESTED => {
            let e = ev::SupplementRequested::decode(p)?;
            let entry = timeline::supplement_requested(
                &e.missing_items,
                &e.reason,
                e.remaining_working_days,
            );
            Change {
                supplement: Some(SupplementRequest {
                    missing_items: e.missing_items,
                    reason: e.reason,
                    remaining_working_days: e.remaining_working_days,
                }),
                ..Change::entry(e.envelope, e.case_ref, Some(entry))
                    .status(Status::AwaitingSupplement)
            }
        }
        subjects::REVIEW_RESUMED => {
            let e = ev::ReviewResumed::decode(p)?;
            let entry = timeline::resumed(&e.due_date);
            Change::entry(e.envelope, e.case_ref, Some(entry))
                .status(Status::InReview)
                .due(e.due_date)
        }
        subjects::DEADLINE_EXTENDED => {
            let e = ev::DeadlineExtended::decode(p)?;
            let entry = timeline::extended(&e.reason, &e.due_date);
            Change::entry(e.envelope, e.case_ref, Some(entry)).due(e.due_date)
        }
        subjects::REVIEW_STAGE_CHANGED => {
            let e = ev::ReviewStageChanged::decode(p)?;
            let stage = e
                .case_ref
                .as_ref()
                .map(|c| c.stage.as_str())
                .unwrap_or_default();
            let entry = timeline::stage_changed(&e.action, stage, &e.due_date);
            Change::entry(e.envelope, e.case_ref, entry).due(e.due_date)
        }
        subjects::REVIEW_DECIDED => {
            let e = ev::ReviewDecided::decode(p)?;
            let entry = timeline::decided(&e.outcome, &e.reasons);
            Change::entry(e.envelope, e.case_ref, Some(entry))
                .status(Status::decided(&e.outcome))
                .due(String::new())
        }
        subjects::SERVICE_PLANNED => {
            let e = ev::ServicePlanned::decode(p)?;
            let entry = timeline::planned(&e.content, &e.schedule);
            Change::entry(e.envelope, e.case_ref, Some(entry)).status(Status::InService)
        }
        subjects::TASK_COMPLETED => {
            let e = ev::TaskCompleted::decode(p)?;
            let result = e
                .entry
                .as_ref()
                .map(|l| l.result.as_str())
                .unwrap_or_default();
            let entry = timeline::task_completed(&e.task_title, result);
            Change::entry(e.envelope, e.case_ref, Some(entry))
        }
        subjects::CASE_CLOSED => {
            let e = ev::CaseClosed::decode(p)?;
            Change::entry(e.envelope, e.case_ref, Some(timeline::closed()))
                .status(Status::Closed)
                .due(String::new())
        }
        subjects::DEADLINE_BREACHED => {
            let e = ev::DeadlineBreached::decode(p)?;
            // The resident sees a missed review limit, not staff's feedback clock.
            let entry = (e.clock != "feedback").then(|| timeline::overdue(&e.due));
            Change::entry(e.envelope, e.case_ref, entry)
        }
        // Warnings are for staff; anything newer is not the resident's concern yet.
        _ => return Ok(None),
    }))
}

impl Handler for OnReviewEvent {
    async fn handle(&self, tx: &mut PgConnection, event: &Event<'_>) -> Result<(), HandleError> {
        // The resident hears of the changes that concern them, once per
        // event (the inbox and the notice's dedupe key both see to that).
        // The change itself returns who they are: no second read per event.
        let Some(to) = self.apply(tx, event).await? else {
            return Ok(());
        };
        if let Some(notice) =
            notices::for_review_event(event.subject, event.payload, &to.application_no)?
        {
            notices_store::to_addressee(tx, &to, notice, &event.id.to_string()).await?;
        }
        Ok(())
    }
}

impl OnReviewEvent {
    /// Applies the event to the application; returns its applicant, or
    /// `None` for an event that changes nothing here.
    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &Event<'_>,
    ) -> Result<Option<notices_store::Addressee>, HandleError> {
        if event.subject == subjects::REVIEW_CASE_OPENED {
            let opened = ev::ReviewCaseOpened::decode(event.payload)?;
            return match applications::review_opened(tx, event.id, &opened).await? {
                Some(to) => Ok(Some(to)),
                None => Err(unknown(&opened.case_ref.unwrap_or_default().case_id)),
            };
        }
        let Some(change) = change(event.subject, event.payload)? else {
            return Ok(None);
        };
        let (envelope, case) = (
            change.envelope.unwrap_or_default(),
            change.case_ref.unwrap_or_default(),
        );
        let progress = Progress {
            application_id: &case.application_id,
            occurred_at: &envelope.occurred_at,
            stage: &case.stage,
            status: change.status,
            due_date: change.due_date.as_deref(),
            entry: change.entry,
            supplement: change.supplement,
        };
        match applications::review_progress(tx, event.id, progress).await? {
            Some(to) => Ok(Some(to)),
            None => Err(unknown(&case.case_id)),
        }
    }
}

fn unknown(case_id: &str) -> HandleError {
    HandleError::Permanent(format!(
        "review case {case_id} names an unknown or malformed application"
    ))
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
        tracing::info!(
            consumer = RETIRED_CONSUMER,
            "retired the old review consumer"
        );
    }
}
