//! The events review publishes, built from the case as it was saved.

use crate::api::convert;
use crate::domain::case::{Outcome, Stage};
use crate::domain::deadlines::{TimerKind, TimerSpec};
use crate::domain::lifecycle::Emit;
use crate::domain::reasons;
use crate::store::cases::Stored;
use bianmin_common::auth::Role;
use bianmin_common::outbox::OutboxEvent;
use bianmin_proto::{events::v1 as ev, subjects};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Every event's envelope: which event, when, which center.
fn envelope(id: Uuid, s: &Stored, at: DateTime<Utc>) -> Option<ev::EventEnvelope> {
    ev::EventEnvelope::new(id, at.to_rfc3339(), &s.center_id)
}

/// The case every review event concerns, at its stage after the change.
fn case_ref(s: &Stored) -> Option<ev::CaseRef> {
    Some(ev::CaseRef {
        case_id: s.id.to_string(),
        application_id: s.application_id.to_string(),
        stage: s.case.stage.as_str().to_string(),
    })
}

/// An event of type `$ty` with the envelope, the case and the given fields.
macro_rules! event {
    ($ty:ident, $id:expr, $s:expr, $at:expr, { $($field:ident : $value:expr),* $(,)? }) => {
        ev::$ty { envelope: envelope($id, $s, $at), case_ref: case_ref($s), $($field: $value),* }
    };
}

fn out(
    id: Uuid,
    subject: &'static str,
    event_type: &'static str,
    message: &impl prost::Message,
) -> OutboxEvent {
    OutboxEvent::new(id, subject, event_type, message)
}

fn date(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

pub fn opened(s: &Stored, at: DateTime<Utc>) -> OutboxEvent {
    let id = Uuid::now_v7();
    let clock = s.case.clock.as_ref();
    let e = event!(ReviewCaseOpened, id, s, at, {
        accepted_on: s.case.accepted_on.to_string(),
        due_date: date(s.case.due_date()),
        limit_working_days: clock.map(|c| c.limit).unwrap_or(0),
    });
    out(id, subjects::REVIEW_CASE_OPENED, "ReviewCaseOpened", &e)
}

/// The event of a staff action.
pub fn acted(s: &Stored, emit: &Emit, at: DateTime<Utc>) -> OutboxEvent {
    let id = Uuid::now_v7();
    let case = &s.case;
    let last = case.history.last();
    let reason = last.map(|t| t.reason.clone()).unwrap_or_default();
    match emit {
        Emit::SupplementRequested => {
            let round = case.supplements.last();
            let remaining = case
                .clock
                .as_ref()
                .and_then(|c| c.suspended.as_ref())
                .map(|s| s.remaining)
                .unwrap_or(0);
            let e = event!(SupplementRequested, id, s, at, {
                missing_items: round.map(|r| r.missing_items.clone()).unwrap_or_default(),
                reason: reason,
                remaining_working_days: remaining,
            });
            out(
                id,
                subjects::SUPPLEMENT_REQUESTED,
                "SupplementRequested",
                &e,
            )
        }
        Emit::Resumed => {
            let e = event!(ReviewResumed, id, s, at, {
                received_items: case.supplements.last().map(|r| r.received_items.clone()).unwrap_or_default(),
                reason: reason,
                due_date: date(case.due_date()),
            });
            out(id, subjects::REVIEW_RESUMED, "ReviewResumed", &e)
        }
        Emit::Extended {
            previous_due,
            approved_by,
        } => {
            let e = event!(DeadlineExtended, id, s, at, {
                reason: reason,
                previous_due_date: date(*previous_due),
                due_date: date(case.due_date()),
                approved_by: approved_by.clone(),
            });
            out(id, subjects::DEADLINE_EXTENDED, "DeadlineExtended", &e)
        }
        Emit::Decided => {
            let d = case.decision.as_ref();
            let e = event!(ReviewDecided, id, s, at, {
                outcome: d.map(|d| d.outcome.as_str().to_string()).unwrap_or_default(),
                reason_codes: d.map(|d| d.reason_codes.clone()).unwrap_or_default(),
                reasons: d.filter(|d| d.outcome == Outcome::Rejected)
                    .map(|d| reasons::describe(&d.reason_codes, &d.reason_text)).unwrap_or_default(),
                on_time: d.is_some_and(|d| d.on_time),
            });
            out(id, subjects::REVIEW_DECIDED, "ReviewDecided", &e)
        }
        Emit::Planned => {
            let plan = case.plan.clone().unwrap_or_default();
            let e = event!(ServicePlanned, id, s, at, {
                content: plan.content,
                schedule: plan.schedule,
                task_titles: plan.tasks.into_iter().map(|t| t.title).collect(),
            });
            out(id, subjects::SERVICE_PLANNED, "ServicePlanned", &e)
        }
        Emit::TaskCompleted { task_id } => {
            let title = case
                .plan
                .as_ref()
                .and_then(|p| p.tasks.iter().find(|t| &t.id == task_id))
                .map(|t| t.title.clone());
            let entry = case
                .ledger
                .iter()
                .rev()
                .find(|e| &e.task_id == task_id)
                .map(convert::ledger_entry);
            let e = event!(TaskCompleted, id, s, at, { entry: entry, task_title: title.unwrap_or_default() });
            out(id, subjects::TASK_COMPLETED, "TaskCompleted", &e)
        }
        Emit::Closed => {
            let e = event!(CaseClosed, id, s, at, { review_case: Some(convert::review_case(s)) });
            out(id, subjects::CASE_CLOSED, "CaseClosed", &e)
        }
        Emit::StageChanged => {
            let from = last.map(|t| t.from).unwrap_or(Stage::PreliminaryReview);
            let e = event!(ReviewStageChanged, id, s, at, {
                action: last.map(|t| t.action.clone()).unwrap_or_default(),
                from_stage: from.as_str().into(),
                reason: reason,
                due_date: date(case.due_date()),
            });
            out(id, subjects::REVIEW_STAGE_CHANGED, "ReviewStageChanged", &e)
        }
    }
}

/// The event of a fired timer.
pub fn deadline(s: &Stored, spec: &TimerSpec, at: DateTime<Utc>) -> OutboxEvent {
    let id = Uuid::now_v7();
    match spec.kind {
        TimerKind::Warning => {
            let e = event!(DeadlineWarning, id, s, at, { clock: spec.clock.clone(), due: spec.due.clone(), task_id: spec.task_id.clone() });
            out(id, subjects::DEADLINE_WARNING, "DeadlineWarning", &e)
        }
        TimerKind::Breach => {
            let e = event!(DeadlineBreached, id, s, at, {
                clock: spec.clock.clone(),
                due: spec.due.clone(),
                task_id: spec.task_id.clone(),
                escalate_to_role: Role::Supervisor.as_str().into(),
            });
            out(id, subjects::DEADLINE_BREACHED, "DeadlineBreached", &e)
        }
    }
}
