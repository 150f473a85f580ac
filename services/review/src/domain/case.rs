//! The review case: everything review knows about one application, from
//! acceptance to closure. Stored whole (JSONB) and changed only through
//! [`crate::domain::lifecycle::apply`].

use super::clock::{Clock, ClockKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 初审
    PreliminaryReview,
    /// 补正: waiting for the resident; the clock is suspended.
    SupplementRequested,
    /// The business department's assessment.
    DetailedAssessment,
    /// 联合审核: each named department signs off.
    JointReview,
    /// Approved or rejected.
    Decided,
    /// The service plan runs; tasks complete into the ledger.
    Execution,
    /// 验收
    AcceptanceCheck,
    /// 结案
    Closed,
    /// The applicant withdrew before a decision; the case ends here.
    Withdrawn,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::PreliminaryReview,
        Stage::SupplementRequested,
        Stage::DetailedAssessment,
        Stage::JointReview,
        Stage::Decided,
        Stage::Execution,
        Stage::AcceptanceCheck,
        Stage::Closed,
        Stage::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PreliminaryReview => "preliminary_review",
            Stage::SupplementRequested => "supplement_requested",
            Stage::DetailedAssessment => "detailed_assessment",
            Stage::JointReview => "joint_review",
            Stage::Decided => "decided",
            Stage::Execution => "execution",
            Stage::AcceptanceCheck => "acceptance_check",
            Stage::Closed => "closed",
            Stage::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// For people, Chinese first.
    pub fn label(self) -> &'static str {
        match self {
            Stage::PreliminaryReview => "初审",
            Stage::SupplementRequested => "待补正",
            Stage::DetailedAssessment => "详细评估",
            Stage::JointReview => "联合审核",
            Stage::Decided => "已决定",
            Stage::Execution => "服务执行",
            Stage::AcceptanceCheck => "验收",
            Stage::Closed => "已结案",
            Stage::Withdrawn => "已撤回",
        }
    }
}

/// The service type's limits, carried by `ApplicationSubmitted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub preliminary_days: u32,
    pub extended_days: u32,
    pub decision_days: u32,
}

impl Policy {
    /// DOMAIN.md defaults (5, 10, 30) where the event carries none.
    pub fn with_defaults(preliminary: u32, extended: u32, decision: u32) -> Self {
        let preliminary_days = if preliminary == 0 { 5 } else { preliminary };
        Self {
            preliminary_days,
            extended_days: if extended == 0 { 10 } else { extended }.max(preliminary_days),
            decision_days: if decision == 0 { 30 } else { decision },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplementRound {
    pub missing_items: Vec<String>,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    pub received_items: Vec<String>,
    pub resumed_at: Option<DateTime<Utc>>,
    /// The stage the case returns to.
    pub return_to: Stage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pending,
    Approved,
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub department: String,
    pub verdict: Verdict,
    pub reason_codes: Vec<String>,
    pub reason_text: String,
    pub by: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Rejected => "rejected",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub reason_codes: Vec<String>,
    pub reason_text: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub on_time: bool,
    /// From acceptance to decision, suspensions not counted.
    pub working_days_taken: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub assignee: String,
    pub done: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub content: String,
    pub schedule: String,
    pub staff: Vec<String>,
    pub resources: Vec<String>,
    pub tasks: Vec<Task>,
}

/// 服务台账: one task's completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub task_id: String,
    pub content: String,
    pub completed_at: DateTime<Utc>,
    pub completed_by: String,
    pub minutes_spent: u32,
    pub result: String,
    pub resident_feedback: String,
    /// Staff record the feedback within 24 hours of completion.
    pub feedback_due_at: DateTime<Utc>,
    pub feedback_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceCheck {
    pub passed: bool,
    pub notes: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub results: String,
    pub problems: String,
    pub improvements: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A working-day clock that has ended: met or missed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedClock {
    pub kind: ClockKind,
    pub limit: u32,
    pub due: NaiveDate,
    pub ended_at: DateTime<Utc>,
    pub met: bool,
}

/// One recorded transition: who did what, when, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub action: String,
    pub from: Stage,
    pub to: Stage,
    pub actor: String,
    pub actor_role: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub stage: Stage,
    pub accepted_on: NaiveDate,
    pub policy: Policy,
    /// The running clock; none once decided.
    pub clock: Option<Clock>,
    /// Working days spent suspended, over every round.
    pub suspended_days: u32,
    pub overdue: bool,
    pub assignee: String,
    pub supplements: Vec<SupplementRound>,
    pub sign_offs: Vec<SignOff>,
    pub decision: Option<Decision>,
    pub plan: Option<Plan>,
    pub ledger: Vec<LedgerEntry>,
    pub acceptance: Option<AcceptanceCheck>,
    pub summary: Option<Summary>,
    pub history: Vec<Transition>,
    /// Clocks that ended (preliminary at acceptance, decision at the
    /// decision), so every due date of the case stays visible.
    #[serde(default)]
    pub ended_clocks: Vec<EndedClock>,
}

impl Case {
    /// A case in preliminary review with its clock started on the date of
    /// acceptance (not counted).
    pub fn open(
        calendar: &bianmin_common::calendar::WorkingCalendar,
        accepted_on: NaiveDate,
        policy: Policy,
        at: DateTime<Utc>,
    ) -> Result<Self, bianmin_common::calendar::CalendarError> {
        let clock = Clock::start(
            calendar,
            ClockKind::Preliminary,
            accepted_on,
            policy.preliminary_days,
            0,
        )?;
        let detail = format!(
            "初审时限 {} 个工作日，至 {} (due {})",
            policy.preliminary_days, clock.due, clock.due
        );
        Ok(Self {
            stage: Stage::PreliminaryReview,
            accepted_on,
            policy,
            clock: Some(clock),
            suspended_days: 0,
            overdue: false,
            assignee: String::new(),
            supplements: Vec::new(),
            sign_offs: Vec::new(),
            decision: None,
            plan: None,
            ledger: Vec::new(),
            acceptance: None,
            summary: None,
            history: vec![Transition {
                action: "open".into(),
                from: Stage::PreliminaryReview,
                to: Stage::PreliminaryReview,
                actor: "system".into(),
                actor_role: "service".into(),
                at,
                reason: "申请已受理 (application accepted)".into(),
                detail,
            }],
            ended_clocks: Vec::new(),
        })
    }

    pub fn due_date(&self) -> Option<NaiveDate> {
        self.clock.as_ref().map(|c| c.due)
    }

    /// Stops the running clock on `now`, recording whether it was met.
    pub fn end_clock(&mut self, now: DateTime<Utc>) {
        if let Some(c) = self.clock.take() {
            let met = bianmin_common::calendar::local_date(now) <= c.due;
            self.ended_clocks.push(EndedClock {
                kind: c.kind,
                limit: c.limit,
                due: c.due,
                ended_at: now,
                met,
            });
        }
    }

    pub fn is_suspended(&self) -> bool {
        self.clock.as_ref().is_some_and(Clock::is_suspended)
    }
}
