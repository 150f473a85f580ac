//! Between the domain and the wire: the case as `bianmin.review.v1`
//! messages, and actions from the wire as domain commands (bad input is
//! INVALID_ARGUMENT naming the field).

use crate::domain::case::{self, Case, Outcome, Verdict};
use crate::domain::lifecycle::Command;
use crate::store::cases::Stored;
use bianmin_common::error::ApiError;
use bianmin_proto::review::v1::{self as pb, act_on_review_case_request::Action};
use chrono::{DateTime, NaiveDate, Utc};

fn ts(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

pub fn ledger_entry(e: &case::LedgerEntry) -> pb::LedgerEntry {
    pb::LedgerEntry {
        task_id: e.task_id.clone(),
        content: e.content.clone(),
        completed_at: e.completed_at.to_rfc3339(),
        completed_by: e.completed_by.clone(),
        minutes_spent: e.minutes_spent,
        result: e.result.clone(),
        resident_feedback: e.resident_feedback.clone(),
        feedback_due_at: e.feedback_due_at.to_rfc3339(),
        feedback_at: ts(e.feedback_at),
    }
}

fn clock(case: &Case) -> pb::Clock {
    let Some(c) = case.clock.as_ref() else {
        return pb::Clock {
            suspended_working_days: case.suspended_days,
            ..Default::default()
        };
    };
    pb::Clock {
        kind: c.kind.as_str().into(),
        limit_working_days: c.limit,
        due_date: c.due.to_string(),
        suspended: c.is_suspended(),
        remaining_working_days: c.suspended.as_ref().map(|s| s.remaining).unwrap_or(0),
        suspended_since: c
            .suspended
            .as_ref()
            .map(|s| s.since.to_string())
            .unwrap_or_default(),
        suspended_working_days: case.suspended_days,
        extended: c.extended_beyond_policy,
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Pending => "pending",
        Verdict::Approved => "approved",
        Verdict::Rejected => "rejected",
    }
}

fn deadlines(case: &Case) -> Vec<pb::Deadline> {
    let met = |ok: bool| if ok { "met" } else { "missed" };
    let mut out: Vec<pb::Deadline> = case
        .ended_clocks
        .iter()
        .map(|c| pb::Deadline {
            clock: c.kind.as_str().into(),
            due: c.due.to_string(),
            status: met(c.met).into(),
            limit_working_days: c.limit,
            task_id: String::new(),
        })
        .collect();
    if let Some(c) = case.clock.as_ref() {
        let status = if c.is_suspended() {
            "suspended"
        } else if case.overdue {
            "missed"
        } else {
            "running"
        };
        out.push(pb::Deadline {
            clock: c.kind.as_str().into(),
            due: c.due.to_string(),
            status: status.into(),
            limit_working_days: c.limit,
            task_id: String::new(),
        });
    }
    out.extend(case.ledger.iter().map(|e| {
        pb::Deadline {
            clock: crate::domain::deadlines::FEEDBACK_CLOCK.into(),
            due: e.feedback_due_at.to_rfc3339(),
            status: match e.feedback_at {
                Some(at) => met(at <= e.feedback_due_at),
                None => "running",
            }
            .into(),
            limit_working_days: 0,
            task_id: e.task_id.clone(),
        }
    }));
    out
}

pub fn review_case(s: &Stored) -> pb::ReviewCase {
    let c = &s.case;
    pb::ReviewCase {
        id: s.id.to_string(),
        application_id: s.application_id.to_string(),
        center_id: s.center_id.clone(),
        service_type: s.service_type.clone(),
        stage: c.stage.as_str().into(),
        accepted_on: c.accepted_on.to_string(),
        due_date: c.due_date().map(|d| d.to_string()).unwrap_or_default(),
        opened_at: s.opened_at.to_rfc3339(),
        application_no: s.application_no.clone(),
        urgent: s.urgent,
        overdue: c.overdue,
        assignee: c.assignee.clone(),
        clock: Some(clock(c)),
        policy: Some(pb::Policy {
            preliminary_review_days: c.policy.preliminary_days,
            extended_review_days: c.policy.extended_days,
            decision_days: c.policy.decision_days,
        }),
        supplements: c
            .supplements
            .iter()
            .map(|r| pb::SupplementRound {
                missing_items: r.missing_items.clone(),
                reason: r.reason.clone(),
                requested_at: r.requested_at.to_rfc3339(),
                requested_by: r.requested_by.clone(),
                received_items: r.received_items.clone(),
                resumed_at: ts(r.resumed_at),
            })
            .collect(),
        sign_offs: c
            .sign_offs
            .iter()
            .map(|o| pb::SignOff {
                department: o.department.clone(),
                verdict: verdict(o.verdict).into(),
                reason_codes: o.reason_codes.clone(),
                reason_text: o.reason_text.clone(),
                by: o.by.clone(),
                at: ts(o.at),
            })
            .collect(),
        decision: c.decision.as_ref().map(|d| pb::Decision {
            outcome: d.outcome.as_str().into(),
            reason_codes: d.reason_codes.clone(),
            reason_text: d.reason_text.clone(),
            by: d.by.clone(),
            at: d.at.to_rfc3339(),
            on_time: d.on_time,
            working_days_taken: d.working_days_taken,
        }),
        plan: c.plan.as_ref().map(|p| pb::ServicePlan {
            content: p.content.clone(),
            schedule: p.schedule.clone(),
            staff: p.staff.clone(),
            resources: p.resources.clone(),
            tasks: p
                .tasks
                .iter()
                .map(|t| pb::PlannedTask {
                    id: t.id.clone(),
                    title: t.title.clone(),
                    assignee: t.assignee.clone(),
                    status: if t.done { "done" } else { "pending" }.into(),
                })
                .collect(),
        }),
        ledger: c.ledger.iter().map(ledger_entry).collect(),
        acceptance: c.acceptance.as_ref().map(|a| pb::AcceptanceCheck {
            passed: a.passed,
            notes: a.notes.clone(),
            by: a.by.clone(),
            at: a.at.to_rfc3339(),
        }),
        summary: c.summary.as_ref().map(|m| pb::ClosureSummary {
            results: m.results.clone(),
            problems: m.problems.clone(),
            improvements: m.improvements.clone(),
            by: m.by.clone(),
            at: m.at.to_rfc3339(),
        }),
        history: c
            .history
            .iter()
            .map(|t| pb::Transition {
                action: t.action.clone(),
                from_stage: t.from.as_str().into(),
                to_stage: t.to.as_str().into(),
                actor: t.actor.clone(),
                actor_role: t.actor_role.clone(),
                at: t.at.to_rfc3339(),
                reason: t.reason.clone(),
                detail: t.detail.clone(),
            })
            .collect(),
        deadlines: deadlines(c),
    }
}

fn optional_date(field: &str, raw: &str) -> Result<Option<NaiveDate>, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|_| {
        ApiError::invalid(
            field,
            "date_format",
            format!("{field} 须为 YYYY-MM-DD 日期 (must be a YYYY-MM-DD date)"),
        )
    })
}

/// The domain command of a wire action.
pub fn command(action: Option<Action>) -> Result<Command, ApiError> {
    let Some(action) = action else {
        return Err(ApiError::invalid(
            "action",
            "required",
            "请指定操作 (an action is required)",
        ));
    };
    Ok(match action {
        Action::Accept(a) => Command::Accept { reason: a.reason },
        Action::RequestSupplement(a) => Command::RequestSupplement {
            missing_items: a.missing_items,
            reason: a.reason,
        },
        Action::Resume(a) => Command::Resume {
            received_items: a.received_items,
            reason: a.reason,
        },
        Action::Extend(a) => Command::Extend {
            new_due_date: optional_date("new_due_date", &a.new_due_date)?,
            reason: a.reason,
        },
        Action::StartJointReview(a) => Command::StartJointReview {
            departments: a.departments,
            reason: a.reason,
        },
        Action::SignOff(a) => Command::SignOff {
            department: a.department,
            approve: a.approve,
            reason_codes: a.reason_codes,
            reason_text: a.reason_text,
        },
        Action::Decide(a) => Command::Decide {
            outcome: match a.outcome.trim() {
                "approved" => Outcome::Approved,
                "rejected" => Outcome::Rejected,
                _ => {
                    return Err(ApiError::invalid(
                        "outcome",
                        "outcome",
                        "outcome 须为 approved 或 rejected (approved or rejected)",
                    ));
                }
            },
            reason_codes: a.reason_codes,
            reason_text: a.reason_text,
        },
        Action::Plan(a) => {
            let p = a.plan.unwrap_or_default();
            Command::Plan {
                plan: case::Plan {
                    content: p.content,
                    schedule: p.schedule,
                    staff: p.staff,
                    resources: p.resources,
                    tasks: p
                        .tasks
                        .into_iter()
                        .map(|t| case::Task {
                            id: t.id,
                            title: t.title,
                            assignee: t.assignee,
                            done: false,
                        })
                        .collect(),
                },
            }
        }
        Action::CompleteTask(a) => Command::CompleteTask {
            task_id: a.task_id,
            content: a.content,
            minutes_spent: a.minutes_spent,
            result: a.result,
            resident_feedback: a.resident_feedback,
        },
        Action::RecordFeedback(a) => Command::RecordFeedback {
            task_id: a.task_id,
            resident_feedback: a.resident_feedback,
        },
        Action::CheckAcceptance(a) => Command::CheckAcceptance {
            passed: a.passed,
            notes: a.notes,
            reopen_task_ids: a.reopen_task_ids,
        },
        Action::Close(a) => Command::Close {
            results: a.results,
            problems: a.problems,
            improvements: a.improvements,
        },
        Action::Assign(a) => Command::Assign {
            assignee: a.assignee,
            reason: a.reason,
        },
    })
}
