//! The lifecycle as an explicit state machine: which action is legal in
//! which stage, for which role, and what it changes. Pure: the caller loads
//! the case, passes the time and calendar, and stores what comes back.
//!
//! ```text
//! preliminary_review ─accept─► detailed_assessment ─start_joint_review─► joint_review
//!   │  ▲ │ request_supplement / resume (clock suspended)   │ decide │ sign_off (all approve) / any reject
//!   ▼  │ ▼                                                 ▼        ▼
//! supplement_requested                                    decided ─plan─► execution ─complete_task (all)─► acceptance_check
//! decided (rejected) ─close─► closed ◄─close (after a passed check)─ acceptance_check ─failed─► execution
//! any stage before decided ─withdraw (the applicant, relayed by intake)─► withdrawn
//! ```

use super::case::*;
use super::clock::{Clock, ClockKind};
use super::reasons;
use crate::policy;
use bianmin_common::auth::Role;
use bianmin_common::auth::policy::Rule;
use bianmin_common::calendar::{self, WorkingCalendar};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashSet;

/// Who acts.
#[derive(Clone, Debug)]
pub struct Actor {
    pub subject: String,
    pub role: Role,
}

/// Staff record the resident's feedback within this long of completion.
pub const FEEDBACK_WITHIN: Duration = Duration::hours(24);

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Accept {
        reason: String,
    },
    RequestSupplement {
        missing_items: Vec<String>,
        reason: String,
    },
    Resume {
        received_items: Vec<String>,
        reason: String,
    },
    Extend {
        reason: String,
        new_due_date: Option<NaiveDate>,
    },
    StartJointReview {
        departments: Vec<String>,
        reason: String,
    },
    SignOff {
        department: String,
        approve: bool,
        reason_codes: Vec<String>,
        reason_text: String,
    },
    Decide {
        outcome: Outcome,
        reason_codes: Vec<String>,
        reason_text: String,
    },
    Plan {
        plan: Plan,
    },
    CompleteTask {
        task_id: String,
        content: String,
        minutes_spent: u32,
        result: String,
        resident_feedback: String,
    },
    RecordFeedback {
        task_id: String,
        resident_feedback: String,
    },
    CheckAcceptance {
        passed: bool,
        notes: String,
        reopen_task_ids: Vec<String>,
    },
    Close {
        results: String,
        problems: String,
        improvements: String,
    },
    Assign {
        assignee: String,
        reason: String,
    },
    /// The applicant withdrew (relayed by intake's `ApplicationWithdrawn`).
    Withdraw {
        reason: String,
        /// Who withdrew, for the history.
        by: String,
    },
}

impl Command {
    /// The action's name in the REST path and the history.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Accept { .. } => "accept",
            Command::RequestSupplement { .. } => "request_supplement",
            Command::Resume { .. } => "resume",
            Command::Extend { .. } => "extend",
            Command::StartJointReview { .. } => "start_joint_review",
            Command::SignOff { .. } => "sign_off",
            Command::Decide { .. } => "decide",
            Command::Plan { .. } => "plan",
            Command::CompleteTask { .. } => "complete_task",
            Command::RecordFeedback { .. } => "record_feedback",
            Command::CheckAcceptance { .. } => "check_acceptance",
            Command::Close { .. } => "close",
            Command::Assign { .. } => "assign",
            Command::Withdraw { .. } => "withdraw",
        }
    }
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Bad input: names the field and the rule.
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        rule: &'static str,
        message: String,
    },
    /// This role may not take this action.
    #[error("{0}")]
    Forbidden(String),
    /// Not in this stage (or not any more).
    #[error("{0}")]
    Illegal(String),
}

fn invalid(field: &str, rule: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        field: field.into(),
        rule,
        message: message.into(),
    }
}

fn required(field: &str, value: &str) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        return Err(invalid(
            field,
            "required",
            format!("{field} 不能为空 ({field} is required)"),
        ));
    }
    Ok(())
}

/// What the store publishes after the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emit {
    StageChanged,
    SupplementRequested,
    Resumed,
    Extended {
        previous_due: Option<NaiveDate>,
        approved_by: String,
    },
    Decided,
    Planned,
    TaskCompleted {
        task_id: String,
    },
    Closed,
}

/// Applies `command` by `actor` at `now`, or refuses it and leaves `case`
/// unchanged.
pub fn apply(
    case: &mut Case,
    actor: &Actor,
    command: Command,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) -> Result<Emit, Refusal> {
    let mut next = case.clone();
    let from = case.stage;
    let Stepped {
        emit,
        reason,
        detail,
    } = step(&mut next, actor, &command, now, calendar)?;
    next.history.push(Transition {
        action: command.name().into(),
        from,
        to: next.stage,
        actor: actor.subject.clone(),
        actor_role: actor.role.as_str().into(),
        at: now,
        reason,
        detail,
    });
    *case = next;
    Ok(emit)
}

/// The step rows `command` may be taken under, whatever the stage.
fn rules_of(command: &Command) -> &'static [&'static Rule] {
    match command {
        Command::Accept { .. } => &[&policy::ACCEPT],
        Command::RequestSupplement { .. } => &[&policy::REQUEST_SUPPLEMENT],
        Command::Resume { .. } => &[&policy::RESUME],
        Command::Extend { .. } => &[&policy::EXTEND, &policy::EXTEND_BEYOND_LIMIT],
        Command::StartJointReview { .. } => &[&policy::START_JOINT_REVIEW],
        Command::SignOff { .. } => &[&policy::SIGN_OFF],
        Command::Decide { .. } => &[
            &policy::APPROVE,
            &policy::REJECT_AT_PRELIMINARY_REVIEW,
            &policy::REJECT,
        ],
        Command::Plan { .. } => &[&policy::PLAN],
        Command::CompleteTask { .. } => &[&policy::COMPLETE_TASK],
        Command::RecordFeedback { .. } => &[&policy::RECORD_FEEDBACK],
        Command::CheckAcceptance { .. } => &[&policy::CHECK_ACCEPTANCE],
        Command::Close { .. } => &[&policy::CLOSE],
        Command::Assign { .. } => &[&policy::ASSIGN],
        Command::Withdraw { .. } => &[&policy::WITHDRAW],
    }
}

/// What is decided before the case's stage: a role that may take this
/// action in no stage at all is refused (403), then input out of its
/// bounds (400, `input::check`); only then does the stage (409) count.
/// So a caller learns first what it can fix by itself, and the answer to
/// bad input does not depend on a case's state.
pub fn admit(actor: &Actor, command: &Command, center_id: &str) -> Result<(), Refusal> {
    let rules = rules_of(command);
    if !rules.iter().any(|r| r.allows(actor.role)) {
        return may(actor, rules[0]);
    }
    super::input::check(command, center_id)
}

/// Ok when `value` is one of `allowed`; else the refusal `refuse` makes
/// from the allowed names joined with " or ".
fn one_of<T: PartialEq + Copy>(
    value: T,
    allowed: &[T],
    name: fn(T) -> &'static str,
    refuse: impl FnOnce(String) -> Refusal,
) -> Result<(), Refusal> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(refuse(
        allowed
            .iter()
            .map(|v| name(*v))
            .collect::<Vec<_>>()
            .join(" or "),
    ))
}

/// Whether the actor's role takes this step: the step's row of review's
/// policy (`crate::policy`). The center was checked before the case was
/// loaded; here only the role counts.
fn may(actor: &Actor, rule: &Rule) -> Result<(), Refusal> {
    if rule.allows(actor.role) {
        return Ok(());
    }
    let (role, action) = (actor.role.as_str(), rule.name);
    let needs = rule
        .roles()
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(" or ");
    Err(Refusal::Forbidden(format!(
        "角色 {role} 无权执行 {action}，需要 {needs} (role {role} may not {action}; needs {needs})"
    )))
}

fn stage_in(case: &Case, allowed: &[Stage], action: &str) -> Result<(), Refusal> {
    let (label, stage) = (case.stage.label(), case.stage.as_str());
    one_of(case.stage, allowed, Stage::as_str, |needs| {
        Refusal::Illegal(format!(
            "案件处于{label}阶段，不能执行 {action} (case is in {stage}; {action} needs {needs})"
        ))
    })
}

/// Stages a withdrawal ends: every one before the decision. A decided case
/// is a record of the decision; the resident appeals it instead.
pub const WITHDRAWABLE: &[Stage] = &[
    Stage::PreliminaryReview,
    Stage::SupplementRequested,
    Stage::DetailedAssessment,
    Stage::JointReview,
];

fn clean_list(field: &str, items: &[String]) -> Result<Vec<String>, Refusal> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item = item.trim();
        if item.is_empty() {
            return Err(invalid(
                &format!("{field}[{i}]"),
                "required",
                "不能为空 (must not be empty)",
            ));
        }
        if !seen.insert(item.to_string()) {
            return Err(invalid(
                &format!("{field}[{i}]"),
                "duplicate",
                format!("重复：{item} (listed twice)"),
            ));
        }
        out.push(item.to_string());
    }
    if out.is_empty() {
        return Err(invalid(
            field,
            "required",
            format!("{field} 至少一项 (at least one item)"),
        ));
    }
    Ok(out)
}

fn reason_codes(field: &str, codes: &[String], text: &str) -> Result<(), Refusal> {
    if codes.is_empty() {
        return Err(invalid(
            field,
            "reason_required",
            "不予批准须写明理由，请从理由清单中选择 (a rejection needs reasons from the list)",
        ));
    }
    for (i, code) in codes.iter().enumerate() {
        if reasons::label(code).is_none() {
            let known: Vec<&str> = reasons::REASONS.iter().map(|(c, _)| *c).collect();
            return Err(invalid(
                &format!("{field}[{i}]"),
                "reason_code",
                format!(
                    "未知理由 {code} (unknown reason; one of {})",
                    known.join(", ")
                ),
            ));
        }
    }
    if codes.iter().any(|c| c == "other") && text.trim().is_empty() {
        return Err(invalid(
            "reason_text",
            "required",
            "选择“其他”时须填写理由 (reason_text is required with `other`)",
        ));
    }
    Ok(())
}

fn running_clock<'a>(case: &'a mut Case, action: &str) -> Result<&'a mut Clock, Refusal> {
    case.clock.as_mut().ok_or_else(|| {
        Refusal::Illegal(format!(
            "此阶段没有计时 (no clock runs in this stage; cannot {action})"
        ))
    })
}

fn calendar_error(e: calendar::CalendarError) -> Refusal {
    invalid("new_due_date", "calendar", e.to_string())
}

/// What a step changed besides the case: the event to publish, and why
/// and what for the history.
struct Stepped {
    emit: Emit,
    reason: String,
    detail: String,
}

fn stepped(emit: Emit, reason: impl Into<String>, detail: impl Into<String>) -> Stepped {
    Stepped {
        emit,
        reason: reason.into(),
        detail: detail.into(),
    }
}

/// What every step is taken with besides the case, the actor and the
/// command's fields.
struct Ctx<'a> {
    now: DateTime<Utc>,
    /// `now` as a date in Asia/Shanghai, where limits are counted.
    today: NaiveDate,
    calendar: &'a WorkingCalendar,
    /// The command's name, for refusals.
    action: &'static str,
}

/// Dispatches `command` to its step.
fn step(
    case: &mut Case,
    actor: &Actor,
    command: &Command,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) -> Result<Stepped, Refusal> {
    let ctx = &Ctx {
        now,
        today: calendar::local_date(now),
        calendar,
        action: command.name(),
    };
    match command {
        Command::Accept { reason } => accept(case, actor, reason, ctx),
        Command::RequestSupplement {
            missing_items,
            reason,
        } => request_supplement(case, actor, missing_items, reason, ctx),
        Command::Resume {
            received_items,
            reason,
        } => resume(case, actor, received_items, reason, ctx),
        Command::Extend {
            reason,
            new_due_date,
        } => extend(case, actor, reason, *new_due_date, ctx),
        Command::StartJointReview {
            departments,
            reason,
        } => start_joint_review(case, actor, departments, reason, ctx),
        Command::SignOff {
            department,
            approve,
            reason_codes: codes,
            reason_text,
        } => sign_off(case, actor, department, *approve, codes, reason_text, ctx),
        Command::Decide {
            outcome,
            reason_codes: codes,
            reason_text,
        } => decide(case, actor, *outcome, codes, reason_text, ctx),
        Command::Plan { plan: proposed } => plan(case, actor, proposed, ctx),
        Command::CompleteTask {
            task_id,
            content,
            minutes_spent,
            result,
            resident_feedback,
        } => complete_task(
            case,
            actor,
            Report {
                task_id,
                content,
                minutes_spent: *minutes_spent,
                result,
                resident_feedback,
            },
            ctx,
        ),
        Command::RecordFeedback {
            task_id,
            resident_feedback,
        } => record_feedback(case, actor, task_id, resident_feedback, ctx),
        Command::CheckAcceptance {
            passed,
            notes,
            reopen_task_ids,
        } => check_acceptance(case, actor, *passed, notes, reopen_task_ids, ctx),
        Command::Close {
            results,
            problems,
            improvements,
        } => close(case, actor, results, problems, improvements, ctx),
        Command::Withdraw { reason, by } => withdraw(case, actor, reason, by, ctx),
        Command::Assign { assignee, reason } => assign(case, actor, assignee, reason),
    }
}

/// `accept` (初审通过): the decision clock starts from the acceptance date.
fn accept(case: &mut Case, actor: &Actor, reason: &str, ctx: &Ctx<'_>) -> Result<Stepped, Refusal> {
    stage_in(case, &[Stage::PreliminaryReview], ctx.action)?;
    may(actor, &policy::ACCEPT)?;
    let clock = Clock::start(
        ctx.calendar,
        ClockKind::Decision,
        case.accepted_on,
        case.policy.decision_days,
        case.suspended_days,
    )
    .map_err(calendar_error)?;
    let detail = format!(
        "初审通过，决定时限至 {} (decision due {})",
        clock.due, clock.due
    );
    case.end_clock(ctx.now);
    case.overdue = clock.is_overdue(ctx.today);
    case.clock = Some(clock);
    case.stage = Stage::DetailedAssessment;
    Ok(stepped(Emit::StageChanged, reason, detail))
}

/// `request_supplement` (一次性告知): asks for everything missing at once and suspends the clock.
fn request_supplement(
    case: &mut Case,
    actor: &Actor,
    missing_items: &[String],
    reason: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(
        case,
        &[Stage::PreliminaryReview, Stage::DetailedAssessment],
        ctx.action,
    )?;
    may(actor, &policy::REQUEST_SUPPLEMENT)?;
    let items = clean_list("missing_items", missing_items)?;
    required("reason", reason)?;
    // 一次性告知: what the resident already supplied is not asked again.
    let present: HashSet<&str> = case
        .supplements
        .iter()
        .flat_map(|r| r.received_items.iter().map(String::as_str))
        .collect();
    if let Some((i, item)) = items
        .iter()
        .enumerate()
        .find(|(_, it)| present.contains(it.as_str()))
    {
        return Err(invalid(
            &format!("missing_items[{i}]"),
            "already_present",
            format!(
                "{item} 已补正，不得重复要求 (already supplied; ask only for what is missing, all at once)"
            ),
        ));
    }
    let mut detail = String::new();
    // DOMAIN.md: supplements allow the extended preliminary limit.
    if case.stage == Stage::PreliminaryReview {
        detail = extend_to_policy(case, ctx.calendar)?;
    }
    let clock = running_clock(case, ctx.action)?;
    clock.suspend(ctx.calendar, ctx.today);
    let remaining = clock.suspended.as_ref().map(|s| s.remaining).unwrap_or(0);
    detail = format!(
        "{detail}计时暂停，剩余 {remaining} 个工作日；需补正：{} (clock suspended)",
        items.join("、")
    );
    case.supplements.push(SupplementRound {
        missing_items: items,
        reason: reason.to_string(),
        requested_at: ctx.now,
        requested_by: actor.subject.clone(),
        received_items: Vec::new(),
        resumed_at: None,
        return_to: case.stage,
    });
    case.overdue = false;
    case.stage = Stage::SupplementRequested;
    Ok(stepped(Emit::SupplementRequested, reason, detail))
}

/// `resume`: The supplements arrived: the clock runs again without the days it stood.
fn resume(
    case: &mut Case,
    actor: &Actor,
    received_items: &[String],
    reason: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(case, &[Stage::SupplementRequested], ctx.action)?;
    may(actor, &policy::RESUME)?;
    let received = clean_list("received_items", received_items)?;
    let round = case
        .supplements
        .last()
        .cloned()
        .ok_or_else(|| Refusal::Illegal("没有补正请求 (no supplement request)".into()))?;
    let missing: Vec<&String> = round
        .missing_items
        .iter()
        .filter(|m| !received.contains(m))
        .collect();
    if !missing.is_empty() {
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(invalid(
            "received_items",
            "supplement_incomplete",
            format!("尚缺：{} (still missing)", list.join("、")),
        ));
    }
    let clock = running_clock(case, ctx.action)?;
    let spent = clock
        .resume(ctx.calendar, ctx.today)
        .map_err(calendar_error)?;
    let due = clock.due;
    case.overdue = clock.is_overdue(ctx.today);
    case.suspended_days += spent;
    if let Some(last) = case.supplements.last_mut() {
        last.received_items = received;
        last.resumed_at = Some(ctx.now);
    }
    case.stage = round.return_to;
    Ok(stepped(
        Emit::Resumed,
        reason.to_string(),
        format!("计时恢复，暂停 {spent} 个工作日不计入，新期限 {due} (clock resumed, due {due})"),
    ))
}

/// `extend`: Extends the running limit: to the policy's extended limit freely, beyond it with a supervisor.
fn extend(
    case: &mut Case,
    actor: &Actor,
    reason: &str,
    new_due_date: Option<NaiveDate>,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(
        case,
        &[
            Stage::PreliminaryReview,
            Stage::DetailedAssessment,
            Stage::JointReview,
        ],
        ctx.action,
    )?;
    may(actor, &policy::EXTEND)?;
    required("reason", reason)?;
    let previous_due = case.due_date();
    let within_policy = matches!(case.clock.as_ref(), Some(c) if c.kind == ClockKind::Preliminary && c.limit < case.policy.extended_days);
    if within_policy && new_due_date.is_none() {
        let detail = extend_to_policy(case, ctx.calendar)?;
        case.overdue = case.clock.as_ref().is_some_and(|c| c.is_overdue(ctx.today));
        return Ok(stepped(
            Emit::Extended {
                previous_due,
                approved_by: String::new(),
            },
            reason,
            detail,
        ));
    }
    // Beyond the policy: only with a supervisor's recorded approval.
    may(actor, &policy::EXTEND_BEYOND_LIMIT)?;
    let Some(new_due) = new_due_date else {
        return Err(invalid(
            "new_due_date",
            "required",
            "超出政策时限的延期须给出新的期限 (an extension beyond the policy needs new_due_date)",
        ));
    };
    let clock = running_clock(case, ctx.action)?;
    if new_due <= clock.due || new_due <= ctx.today {
        return Err(invalid(
            "new_due_date",
            "after_current_due",
            format!(
                "新期限须晚于 {} 和今天 (must be after the current due date and ctx.today)",
                clock.due
            ),
        ));
    }
    if !ctx.calendar.is_working_day(new_due) {
        return Err(invalid(
            "new_due_date",
            "working_day",
            "新期限须为工作日 (must be a working day)",
        ));
    }
    clock.limit += ctx.calendar.working_days_between(clock.due, new_due);
    clock.due = new_due;
    clock.extended_beyond_policy = true;
    case.overdue = false;
    let detail =
        format!("经主管批准延期至 {new_due} (extended to {new_due} with supervisor approval)");
    Ok(stepped(
        Emit::Extended {
            previous_due,
            approved_by: actor.subject.clone(),
        },
        reason,
        detail,
    ))
}

/// `start_joint_review`: Hands the case to the departments that must each sign off.
fn start_joint_review(
    case: &mut Case,
    actor: &Actor,
    departments: &[String],
    reason: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(case, &[Stage::DetailedAssessment], ctx.action)?;
    may(actor, &policy::START_JOINT_REVIEW)?;
    let departments = clean_list("departments", departments)?;
    let detail = format!(
        "联合审核部门：{} (joint review by these departments)",
        departments.join("、")
    );
    case.sign_offs = departments
        .into_iter()
        .map(|department| SignOff {
            department,
            verdict: Verdict::Pending,
            reason_codes: Vec::new(),
            reason_text: String::new(),
            by: String::new(),
            at: None,
        })
        .collect();
    case.stage = Stage::JointReview;
    Ok(stepped(Emit::StageChanged, reason, detail))
}

/// `sign_off`: One department's verdict; any rejection decides the case.
fn sign_off(
    case: &mut Case,
    actor: &Actor,
    department: &str,
    approve: bool,
    codes: &[String],
    reason_text: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(case, &[Stage::JointReview], ctx.action)?;
    may(actor, &policy::SIGN_OFF)?;
    required("department", department)?;
    if !approve {
        reason_codes("reason_codes", codes, reason_text)?;
    }
    let sign_off = case
        .sign_offs
        .iter_mut()
        .find(|s| s.department == department.trim())
        .ok_or_else(|| {
            invalid(
                "department",
                "not_in_joint_review",
                format!("{department} 不在联合审核部门之列 (not one of the departments)"),
            )
        })?;
    if sign_off.verdict != Verdict::Pending {
        return Err(Refusal::Illegal(format!(
            "{department} 已签署意见 (has already signed off)"
        )));
    }
    sign_off.verdict = if approve {
        Verdict::Approved
    } else {
        Verdict::Rejected
    };
    sign_off.reason_codes = codes.to_vec();
    sign_off.reason_text = reason_text.to_string();
    sign_off.by = actor.subject.clone();
    sign_off.at = Some(ctx.now);
    if approve {
        let pending = case
            .sign_offs
            .iter()
            .filter(|s| s.verdict == Verdict::Pending)
            .count();
        return Ok(stepped(
            Emit::StageChanged,
            "",
            format!("{department} 同意；待签 {pending} 个部门 (approved; {pending} pending)"),
        ));
    }
    // Any rejection rejects the case, with that department's reasons.
    let why = format!("{department}：{}", reasons::describe(codes, reason_text));
    record_decision(
        case,
        actor,
        Outcome::Rejected,
        codes.to_vec(),
        why.clone(),
        ctx.now,
        ctx.calendar,
    );
    Ok(stepped(
        Emit::Decided,
        why,
        "联合审核不同意，不予批准 (joint review rejected)",
    ))
}

/// `decide`: Approves or rejects; approval after a joint review needs every department.
fn decide(
    case: &mut Case,
    actor: &Actor,
    outcome: Outcome,
    codes: &[String],
    reason_text: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    match outcome {
        Outcome::Approved => {
            stage_in(
                case,
                &[Stage::DetailedAssessment, Stage::JointReview],
                ctx.action,
            )?;
            may(actor, &policy::APPROVE)?;
            if case.stage == Stage::JointReview
                && case
                    .sign_offs
                    .iter()
                    .any(|s| s.verdict != Verdict::Approved)
            {
                let pending: Vec<&str> = case
                    .sign_offs
                    .iter()
                    .filter(|s| s.verdict != Verdict::Approved)
                    .map(|s| s.department.as_str())
                    .collect();
                return Err(Refusal::Illegal(format!(
                    "联合审核尚未全部同意：{} (joint review not yet approved by all)",
                    pending.join("、")
                )));
            }
        }
        Outcome::Rejected => {
            stage_in(
                case,
                &[
                    Stage::PreliminaryReview,
                    Stage::DetailedAssessment,
                    Stage::JointReview,
                ],
                ctx.action,
            )?;
            // A specialist may reject at 初审; later only a supervisor decides.
            let rule = if case.stage == Stage::PreliminaryReview {
                &policy::REJECT_AT_PRELIMINARY_REVIEW
            } else {
                &policy::REJECT
            };
            may(actor, rule)?;
            reason_codes("reason_codes", codes, reason_text)?;
        }
    }
    let why = reasons::describe(codes, reason_text);
    record_decision(
        case,
        actor,
        outcome,
        codes.to_vec(),
        reason_text.to_string(),
        ctx.now,
        ctx.calendar,
    );
    Ok(stepped(
        Emit::Decided,
        why,
        format!("决定：{} (decided)", outcome.as_str()),
    ))
}

/// `plan`: The service plan of an approved case, split into tasks.
fn plan(case: &mut Case, actor: &Actor, plan: &Plan, ctx: &Ctx<'_>) -> Result<Stepped, Refusal> {
    stage_in(case, &[Stage::Decided], ctx.action)?;
    may(actor, &policy::PLAN)?;
    if !matches!(case.decision.as_ref(), Some(d) if d.outcome == Outcome::Approved) {
        return Err(Refusal::Illegal(
            "不予批准的案件不能制定服务计划 (a rejected case gets no service plan)".into(),
        ));
    }
    let plan = validate_plan(plan)?;
    let detail = format!(
        "服务计划：{} 项任务 ({} tasks)",
        plan.tasks.len(),
        plan.tasks.len()
    );
    case.plan = Some(plan);
    case.stage = Stage::Execution;
    Ok(stepped(Emit::Planned, "", detail))
}

/// What staff report on finishing a task: `Command::CompleteTask`'s fields.
struct Report<'a> {
    task_id: &'a str,
    content: &'a str,
    minutes_spent: u32,
    result: &'a str,
    resident_feedback: &'a str,
}

/// `complete_task`: Records a task done in the ledger; the last one leads to the acceptance check.
fn complete_task(
    case: &mut Case,
    actor: &Actor,
    report: Report<'_>,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    let Report {
        task_id,
        content,
        minutes_spent,
        result,
        resident_feedback,
    } = report;
    stage_in(case, &[Stage::Execution], ctx.action)?;
    may(actor, &policy::COMPLETE_TASK)?;
    required("content", content)?;
    required("result", result)?;
    let task = find_task(case, task_id)?;
    if task.done {
        return Err(Refusal::Illegal(format!(
            "任务 {task_id} 已完成 (task already completed)"
        )));
    }
    task.done = true;
    let title = task.title.clone();
    let feedback = resident_feedback.trim().to_string();
    case.ledger.push(LedgerEntry {
        task_id: task_id.trim().to_string(),
        content: content.to_string(),
        completed_at: ctx.now,
        completed_by: actor.subject.clone(),
        minutes_spent,
        result: result.to_string(),
        feedback_at: (!feedback.is_empty()).then_some(ctx.now),
        resident_feedback: feedback,
        feedback_due_at: ctx.now + FEEDBACK_WITHIN,
    });
    if case
        .plan
        .as_ref()
        .is_some_and(|p| p.tasks.iter().all(|t| t.done))
    {
        case.stage = Stage::AcceptanceCheck;
    }
    Ok(stepped(
        Emit::TaskCompleted {
            task_id: task_id.trim().to_string(),
        },
        "",
        format!("完成任务：{title} (task completed)"),
    ))
}

/// `record_feedback`: The resident's feedback on a completed task, once.
fn record_feedback(
    case: &mut Case,
    actor: &Actor,
    task_id: &str,
    resident_feedback: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(
        case,
        &[Stage::Execution, Stage::AcceptanceCheck, Stage::Closed],
        ctx.action,
    )?;
    may(actor, &policy::RECORD_FEEDBACK)?;
    required("resident_feedback", resident_feedback)?;
    let entry = case
        .ledger
        .iter_mut()
        .rev()
        .find(|e| e.task_id == task_id.trim())
        .ok_or_else(|| {
            invalid(
                "task_id",
                "not_completed",
                format!("任务 {task_id} 尚未完成 (task not completed)"),
            )
        })?;
    if entry.feedback_at.is_some() {
        return Err(Refusal::Illegal(format!(
            "任务 {task_id} 已有反馈 (feedback already recorded)"
        )));
    }
    entry.resident_feedback = resident_feedback.trim().to_string();
    entry.feedback_at = Some(ctx.now);
    let late = ctx.now > entry.feedback_due_at;
    Ok(stepped(
        Emit::StageChanged,
        "",
        format!(
            "记录服务反馈{} (feedback recorded)",
            if late { "（逾期）" } else { "" }
        ),
    ))
}

/// `check_acceptance`: Passes the service, or sends the named tasks back to execution.
fn check_acceptance(
    case: &mut Case,
    actor: &Actor,
    passed: bool,
    notes: &str,
    reopen_task_ids: &[String],
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(case, &[Stage::AcceptanceCheck], ctx.action)?;
    may(actor, &policy::CHECK_ACCEPTANCE)?;
    if case.acceptance.as_ref().is_some_and(|a| a.passed) {
        return Err(Refusal::Illegal(
            "已验收合格 (acceptance already passed)".into(),
        ));
    }
    if !passed {
        required("notes", notes)?;
        let ids = clean_list("reopen_task_ids", reopen_task_ids)?;
        for id in &ids {
            find_task(case, id)?.done = false;
        }
        case.stage = Stage::Execution;
    }
    case.acceptance = Some(AcceptanceCheck {
        passed,
        notes: notes.to_string(),
        by: actor.subject.clone(),
        at: ctx.now,
    });
    let detail = if passed {
        "验收合格 (acceptance passed)"
    } else {
        "验收不合格，返回执行 (acceptance failed; back to execution)"
    };
    Ok(stepped(Emit::StageChanged, notes, detail))
}

/// `close`: Closes a case after a passed acceptance check or a rejection.
fn close(
    case: &mut Case,
    actor: &Actor,
    results: &str,
    problems: &str,
    improvements: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    let rejected = case.stage == Stage::Decided
        && case
            .decision
            .as_ref()
            .is_some_and(|d| d.outcome == Outcome::Rejected);
    let accepted =
        case.stage == Stage::AcceptanceCheck && case.acceptance.as_ref().is_some_and(|a| a.passed);
    if !rejected && !accepted {
        return Err(Refusal::Illegal(format!(
            "案件处于{}阶段，须验收合格或不予批准后方可结案 (case is in {}; close needs a passed acceptance check or a rejection)",
            case.stage.label(),
            case.stage.as_str()
        )));
    }
    may(actor, &policy::CLOSE)?;
    required("results", results)?;
    case.summary = Some(Summary {
        results: results.to_string(),
        problems: problems.to_string(),
        improvements: improvements.to_string(),
        by: actor.subject.clone(),
        at: ctx.now,
    });
    case.clock = None;
    case.overdue = false;
    case.stage = Stage::Closed;
    Ok(stepped(Emit::Closed, "", "结案 (closed)"))
}

/// `withdraw`: The applicant withdrew before the decision.
fn withdraw(
    case: &mut Case,
    actor: &Actor,
    reason: &str,
    by: &str,
    ctx: &Ctx<'_>,
) -> Result<Stepped, Refusal> {
    stage_in(case, WITHDRAWABLE, ctx.action)?;
    may(actor, &policy::WITHDRAW)?;
    // The clock stops without counting as met or missed: there is
    // nothing left to decide.
    case.clock = None;
    case.overdue = false;
    case.stage = Stage::Withdrawn;
    Ok(stepped(
        Emit::StageChanged,
        reason.to_string(),
        format!("申请人撤回申请（{by}）(withdrawn by the applicant)"),
    ))
}

/// `assign`: Names the case's assignee, in any stage before the end.
fn assign(
    case: &mut Case,
    actor: &Actor,
    assignee: &str,
    reason: &str,
) -> Result<Stepped, Refusal> {
    if matches!(case.stage, Stage::Closed | Stage::Withdrawn) {
        return Err(Refusal::Illegal("已结案 (case is closed)".into()));
    }
    may(actor, &policy::ASSIGN)?;
    required("assignee", assignee)?;
    case.assignee = assignee.trim().to_string();
    Ok(stepped(
        Emit::StageChanged,
        reason.to_string(),
        format!("承办人：{} (assigned)", case.assignee),
    ))
}

/// Raises a preliminary clock to the policy's extended limit; no approval
/// needed (DOMAIN.md: up to 10 working days when investigation or
/// supplements are needed). Returns what changed, for the history.
fn extend_to_policy(case: &mut Case, calendar: &WorkingCalendar) -> Result<String, Refusal> {
    let extended = case.policy.extended_days;
    let Some(clock) = case.clock.as_mut() else {
        return Ok(String::new());
    };
    if clock.kind != ClockKind::Preliminary || clock.limit >= extended {
        return Ok(String::new());
    }
    let added = extended - clock.limit;
    clock.limit = extended;
    clock.due = calendar
        .add_working_days(clock.due, added)
        .map_err(calendar_error)?;
    Ok(format!(
        "初审时限延长至 {extended} 个工作日，至 {} (extended to the policy limit, due {})；",
        clock.due, clock.due
    ))
}

fn record_decision(
    case: &mut Case,
    actor: &Actor,
    outcome: Outcome,
    reason_codes: Vec<String>,
    reason_text: String,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) {
    let today = calendar::local_date(now);
    let on_time = case.clock.as_ref().is_none_or(|c| today <= c.due);
    let taken = calendar
        .working_days_between(case.accepted_on, today)
        .saturating_sub(case.suspended_days);
    case.decision = Some(Decision {
        outcome,
        reason_codes,
        reason_text,
        by: actor.subject.clone(),
        at: now,
        on_time,
        working_days_taken: taken,
    });
    case.end_clock(now);
    case.overdue = false;
    case.stage = Stage::Decided;
}

fn find_task<'a>(case: &'a mut Case, task_id: &str) -> Result<&'a mut Task, Refusal> {
    case.plan
        .as_mut()
        .and_then(|p| p.tasks.iter_mut().find(|t| t.id == task_id.trim()))
        .ok_or_else(|| {
            invalid(
                "task_id",
                "unknown_task",
                format!("没有任务 {task_id} (no such task in the plan)"),
            )
        })
}

fn validate_plan(plan: &Plan) -> Result<Plan, Refusal> {
    required("plan.content", &plan.content)?;
    required("plan.schedule", &plan.schedule)?;
    if plan.tasks.is_empty() {
        return Err(invalid(
            "plan.tasks",
            "required",
            "服务计划须分解为至少一项任务 (at least one task)",
        ));
    }
    let mut ids = HashSet::new();
    let mut tasks = Vec::new();
    for (i, t) in plan.tasks.iter().enumerate() {
        required(&format!("plan.tasks[{i}].title"), &t.title)?;
        required(&format!("plan.tasks[{i}].assignee"), &t.assignee)?;
        let id = if t.id.trim().is_empty() {
            format!("T{}", i + 1)
        } else {
            t.id.trim().to_string()
        };
        if !ids.insert(id.clone()) {
            return Err(invalid(
                &format!("plan.tasks[{i}].id"),
                "duplicate",
                format!("任务编号重复：{id} (duplicate task id)"),
            ));
        }
        tasks.push(Task {
            id,
            title: t.title.trim().into(),
            assignee: t.assignee.trim().into(),
            done: false,
        });
    }
    Ok(Plan {
        content: plan.content.clone(),
        schedule: plan.schedule.clone(),
        staff: plan.staff.clone(),
        resources: plan.resources.clone(),
        tasks,
    })
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
