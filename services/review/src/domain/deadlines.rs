//! Which timers a case needs, and what a timer does when it fires.
//!
//! The store re-arms a case's timers after every change from
//! [`schedule`]: a warning when `warn_share` of a limit has passed and a
//! breach when it is over, for the running working-day clock (none while
//! suspended) and for every ledger entry still waiting for feedback.

use super::case::{Case, Stage, Transition};
use bianmin_common::calendar::WorkingCalendar;
use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    Warning,
    Breach,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Warning => "warning",
            TimerKind::Breach => "breach",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "warning" => Some(TimerKind::Warning),
            "breach" => Some(TimerKind::Breach),
            _ => None,
        }
    }
}

pub const FEEDBACK_CLOCK: &str = "feedback";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerSpec {
    pub kind: TimerKind,
    /// preliminary, decision or feedback
    pub clock: String,
    /// The ledger entry's task for the feedback clock, else "".
    pub task_id: String,
    pub fire_at: DateTime<Utc>,
    /// The deadline as people read it (a date, or an instant for feedback).
    pub due: String,
}

pub fn schedule(case: &Case, calendar: &WorkingCalendar, warn_share: f64) -> Vec<TimerSpec> {
    let mut out = Vec::new();
    if let Some(clock) = case.clock.as_ref().filter(|c| !c.is_suspended()) {
        let base = |kind, fire_at| TimerSpec {
            kind,
            clock: clock.kind.as_str().into(),
            task_id: String::new(),
            fire_at,
            due: clock.due.to_string(),
        };
        out.push(base(
            TimerKind::Warning,
            clock.warning_at(calendar, warn_share),
        ));
        out.push(base(TimerKind::Breach, clock.breach_at()));
    }
    for entry in case.ledger.iter().filter(|e| e.feedback_at.is_none()) {
        let window = entry.feedback_due_at - entry.completed_at;
        let warn_after = chrono::Duration::milliseconds(
            (window.num_milliseconds() as f64 * warn_share.clamp(0.0, 1.0)) as i64,
        );
        let base = |kind, fire_at| TimerSpec {
            kind,
            clock: FEEDBACK_CLOCK.into(),
            task_id: entry.task_id.clone(),
            fire_at,
            due: entry.feedback_due_at.to_rfc3339(),
        };
        out.push(base(TimerKind::Warning, entry.completed_at + warn_after));
        out.push(base(TimerKind::Breach, entry.feedback_due_at));
    }
    out
}

/// Whether a fired timer still applies to the case as it is now (the store
/// re-arms timers on every change, so this is a second line of defence).
pub fn still_applies(case: &Case, spec: &TimerSpec) -> bool {
    if spec.clock == FEEDBACK_CLOCK {
        return case
            .ledger
            .iter()
            .any(|e| e.task_id == spec.task_id && e.feedback_at.is_none());
    }
    case.clock.as_ref().is_some_and(|c| {
        !c.is_suspended() && c.kind.as_str() == spec.clock && c.due.to_string() == spec.due
    })
}

/// Records a breach: the case is overdue (working-day clocks) and the
/// history shows it.
pub fn record_breach(case: &mut Case, spec: &TimerSpec, now: DateTime<Utc>) {
    if spec.clock != FEEDBACK_CLOCK {
        case.overdue = true;
    }
    let stage: Stage = case.stage;
    case.history.push(Transition {
        action: "deadline_breached".into(),
        from: stage,
        to: stage,
        actor: "system".into(),
        actor_role: "service".into(),
        at: now,
        reason: format!("{} 时限已过 (the {} limit passed)", spec.clock, spec.clock),
        detail: format!(
            "期限 {}，已升级至中心主管 (due {}; escalated to the center's supervisors)",
            spec.due, spec.due
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::Policy;
    use bianmin_common::calendar::local_date;

    #[test]
    fn a_suspended_clock_has_no_timers() {
        let c = WorkingCalendar::weekdays_only();
        let now: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
        let mut case =
            Case::open(&c, local_date(now), Policy::with_defaults(5, 10, 30), now).unwrap();
        let timers = schedule(&case, &c, 0.8);
        assert_eq!(timers.len(), 2);
        assert!(timers.iter().all(|t| still_applies(&case, t)));
        case.clock.as_mut().unwrap().suspend(&c, local_date(now));
        assert!(schedule(&case, &c, 0.8).is_empty());
        assert!(!still_applies(&case, &timers[1]));
        record_breach(&mut case, &timers[1], now);
        assert!(case.overdue);
        assert_eq!(case.history.last().unwrap().action, "deadline_breached");
    }
}
