//! A complaint's lifecycle: who owns it (首问负责制), its first judgement,
//! the investigation by two, the finding, the answer and closure. Every
//! step is checked here against the actor and the status, and recorded in
//! the history; the store saves the result.

use super::input::{self, CONTENT_CHARS, MAX_INVESTIGATORS, REASON_CHARS};
use bianmin_common::error::FieldViolation;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The six types of the hotline's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Complaint,
    Report,
    Suggestion,
    Inquiry,
    RequestForHelp,
    Praise,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Complaint,
        Kind::Report,
        Kind::Suggestion,
        Kind::Inquiry,
        Kind::RequestForHelp,
        Kind::Praise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Complaint => "complaint",
            Kind::Report => "report",
            Kind::Suggestion => "suggestion",
            Kind::Inquiry => "inquiry",
            Kind::RequestForHelp => "request_for_help",
            Kind::Praise => "praise",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Complaint => "投诉",
            Kind::Report => "举报",
            Kind::Suggestion => "建议",
            Kind::Inquiry => "咨询",
            Kind::RequestForHelp => "求助",
            Kind::Praise => "表扬",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Only complaints and reports are investigated; the rest get an answer.
    pub fn investigated(self) -> bool {
        matches!(self, Kind::Complaint | Kind::Report)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Staff,
    Center,
    Department,
}

impl PartyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Staff => "staff",
            PartyKind::Center => "center",
            PartyKind::Department => "department",
        }
    }

    pub fn parse(s: &str) -> Option<PartyKind> {
        [PartyKind::Staff, PartyKind::Center, PartyKind::Department]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A resident's own filing nobody has taken yet.
    Filed,
    Owned,
    Classified,
    Investigating,
    Found,
    Answered,
    Closed,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Filed,
        Status::Owned,
        Status::Classified,
        Status::Investigating,
        Status::Found,
        Status::Answered,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Filed => "filed",
            Status::Owned => "owned",
            Status::Classified => "classified",
            Status::Investigating => "investigating",
            Status::Found => "found",
            Status::Answered => "answered",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nature {
    ServiceViolation,
    QualityProblem,
}

impl Nature {
    pub fn as_str(self) -> &'static str {
        match self {
            Nature::ServiceViolation => "service_violation",
            Nature::QualityProblem => "quality_problem",
        }
    }
    pub fn parse(s: &str) -> Option<Nature> {
        [Nature::ServiceViolation, Nature::QualityProblem]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    General,
    Major,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::General => "general",
            Severity::Major => "major",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::General, Severity::Major]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingResult {
    Substantiated,
    Partly,
    NotSubstantiated,
}

impl FindingResult {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingResult::Substantiated => "substantiated",
            FindingResult::Partly => "partly",
            FindingResult::NotSubstantiated => "not_substantiated",
        }
    }
    pub fn parse(s: &str) -> Option<FindingResult> {
        [
            FindingResult::Substantiated,
            FindingResult::Partly,
            FindingResult::NotSubstantiated,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub result: FindingResult,
    pub cause: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// One step of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub action: String,
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub reason: String,
}

/// The complaint as the lifecycle sees it (stored as one document; the
/// complainant is sealed apart from it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub center_id: String,
    pub kind: Kind,
    pub party_kind: PartyKind,
    pub party_id: String,
    pub status: Status,
    pub filed_by: String,
    /// The staff member who recorded it on a resident's behalf.
    pub recorded_by: Option<String>,
    pub owner: Option<String>,
    pub first_owner: Option<String>,
    pub nature: Option<Nature>,
    pub severity: Option<Severity>,
    pub investigators: Vec<String>,
    pub finding: Option<Finding>,
    pub answer: Option<String>,
    /// The general clock's due date; `None` once classified major.
    pub due_date: Option<NaiveDate>,
    pub answered_on_time: Option<bool>,
    pub breached: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub history: Vec<Step>,
}

/// Who acts: the caller's subject, and whether they are the center's staff.
#[derive(Clone, Debug)]
pub struct Actor {
    pub subject: String,
    pub staff: bool,
}

/// Why a step is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// 400: a field breaks a rule.
    #[error("invalid input")]
    Invalid(Vec<FieldViolation>),
    /// 403: not this actor's step.
    #[error("{0}")]
    Forbidden(String),
    /// 409: not in this status.
    #[error("{0}")]
    Illegal(String),
}

fn invalid(field: &str, rule: &str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid(vec![FieldViolation::new(field, rule, message)])
}

/// One command of the lifecycle, as validated by `apply`.
#[derive(Clone, Debug)]
pub enum Command {
    Take,
    HandOver { to: String, reason: String },
    Classify { nature: String, severity: String },
    AssignInvestigators { investigators: Vec<String> },
    RecordFinding { result: String, cause: String },
    Answer { answer: String },
    Close,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Take => "take",
            Command::HandOver { .. } => "hand_over",
            Command::Classify { .. } => "classify",
            Command::AssignInvestigators { .. } => "assign_investigators",
            Command::RecordFinding { .. } => "record_finding",
            Command::Answer { .. } => "answer",
            Command::Close => "close",
        }
    }
}

/// What a step emits besides saving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    Nothing,
    Closed,
    /// The clock no longer runs (answered, closed, or classified major).
    Disarm,
}

impl Complaint {
    /// A new complaint: staff recording it own it; a resident's own filing
    /// waits to be taken.
    pub fn filed(v: &input::Valid, actor: &Actor, due_date: NaiveDate, at: DateTime<Utc>) -> Self {
        let owner = actor.staff.then(|| actor.subject.clone());
        Complaint {
            center_id: v.center_id.clone(),
            kind: v.kind,
            party_kind: v.party_kind,
            party_id: v.party_id.clone(),
            status: if owner.is_some() {
                Status::Owned
            } else {
                Status::Filed
            },
            filed_by: actor.subject.clone(),
            recorded_by: owner.clone(),
            first_owner: owner.clone(),
            owner,
            nature: None,
            severity: None,
            investigators: Vec::new(),
            finding: None,
            answer: None,
            due_date: Some(due_date),
            answered_on_time: None,
            breached: false,
            closed_at: None,
            history: vec![Step {
                action: "file".into(),
                by: actor.subject.clone(),
                at,
                from: String::new(),
                to: String::new(),
                reason: String::new(),
            }],
        }
    }

    fn is_owner(&self, actor: &Actor) -> bool {
        self.owner.as_deref() == Some(actor.subject.as_str())
    }

    fn require_owner(&self, actor: &Actor) -> Result<(), Refusal> {
        if self.is_owner(actor) {
            Ok(())
        } else {
            Err(Refusal::Forbidden(
                "只有负责人可办理此步骤 (only the complaint's owner takes this step)".into(),
            ))
        }
    }

    fn require(&self, statuses: &[Status], step: &str) -> Result<(), Refusal> {
        if statuses.contains(&self.status) {
            Ok(())
        } else {
            Err(Refusal::Illegal(format!(
                "{} 状态下不能 {step} (cannot {step} a complaint that is {})",
                self.status.as_str(),
                self.status.as_str()
            )))
        }
    }

    fn record(&mut self, action: &str, actor: &Actor, at: DateTime<Utc>) -> &mut Step {
        self.history.push(Step {
            action: action.into(),
            by: actor.subject.clone(),
            at,
            from: String::new(),
            to: String::new(),
            reason: String::new(),
        });
        self.history.last_mut().expect("just pushed")
    }

    /// Whether the answer (or closure) on `today` is within the clock.
    fn on_time(&self, today: NaiveDate) -> bool {
        self.due_date.is_none_or(|due| today <= due)
    }

    /// Applies `command` by `actor` at `at` (`today` its local date).
    pub fn apply(
        &mut self,
        actor: &Actor,
        command: Command,
        at: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<Emit, Refusal> {
        if !actor.staff {
            return Err(Refusal::Forbidden(
                "只有本中心工作人员办理投诉 (only the center's staff handle complaints)".into(),
            ));
        }
        match command {
            Command::Take => {
                self.require(&[Status::Filed], "take")?;
                self.owner = Some(actor.subject.clone());
                self.first_owner = Some(actor.subject.clone());
                self.status = Status::Owned;
                self.record("take", actor, at);
                Ok(Emit::Nothing)
            }
            Command::HandOver { to, reason } => {
                self.require_owner(actor)?;
                self.require(
                    &[
                        Status::Owned,
                        Status::Classified,
                        Status::Investigating,
                        Status::Found,
                        Status::Answered,
                    ],
                    "hand over",
                )?;
                let mut v = Vec::new();
                let reason = input::text(&mut v, "reason", &reason, REASON_CHARS, true);
                let to = match input::staff_of_center("to", &to, &self.center_id) {
                    Ok(to) => Some(to),
                    Err(e) => {
                        v.push(e);
                        None
                    }
                };
                if let Some(t) = &to
                    && self.is_owner(&Actor {
                        subject: t.clone(),
                        staff: true,
                    })
                {
                    v.push(FieldViolation::new(
                        "to",
                        "another_staff_member",
                        "须移交给另一位工作人员 (hand over to another staff member)",
                    ));
                }
                let (Some(to), Some(reason), true) = (to, reason, v.is_empty()) else {
                    return Err(Refusal::Invalid(v));
                };
                let from = self.owner.replace(to.clone()).unwrap_or_default();
                let step = self.record("hand_over", actor, at);
                step.from = from;
                step.to = to;
                step.reason = reason;
                Ok(Emit::Nothing)
            }
            Command::Classify { nature, severity } => {
                self.require_owner(actor)?;
                if !self.kind.investigated() {
                    return Err(Refusal::Illegal(format!(
                        "{}不需定性，直接答复 (a {} is answered, not classified)",
                        self.kind.label(),
                        self.kind.as_str()
                    )));
                }
                self.require(&[Status::Owned, Status::Classified], "classify")?;
                let mut v = Vec::new();
                let n = Nature::parse(nature.trim());
                if n.is_none() {
                    v.push(FieldViolation::new(
                        "nature",
                        "nature",
                        "定性须为 service_violation 或 quality_problem (nature: service_violation or quality_problem)",
                    ));
                }
                let s = Severity::parse(severity.trim());
                if s.is_none() {
                    v.push(FieldViolation::new(
                        "severity",
                        "severity",
                        "程度须为 general 或 major (severity: general or major)",
                    ));
                }
                let (Some(n), Some(s)) = (n, s) else {
                    return Err(Refusal::Invalid(v));
                };
                self.nature = Some(n);
                self.severity = Some(s);
                self.status = Status::Classified;
                let step = self.record("classify", actor, at);
                step.reason = format!("{} {}", n.as_str(), s.as_str());
                if s == Severity::Major {
                    // The finer clocks of major complaints are not built yet;
                    // the general clock does not apply to them.
                    self.due_date = None;
                    return Ok(Emit::Disarm);
                }
                Ok(Emit::Nothing)
            }
            Command::AssignInvestigators { investigators } => {
                self.require_owner(actor)?;
                self.require(&[Status::Classified], "assign investigators")?;
                let chosen = two_investigators(&investigators, self)?;
                self.investigators = chosen.clone();
                self.status = Status::Investigating;
                let step = self.record("assign_investigators", actor, at);
                step.to = chosen.join(",");
                Ok(Emit::Nothing)
            }
            Command::RecordFinding { result, cause } => {
                self.require(&[Status::Investigating], "record a finding")?;
                if !self.investigators.contains(&actor.subject) {
                    return Err(Refusal::Forbidden(
                        "只有调查人员可记录调查结论 (only an investigator records the finding)"
                            .into(),
                    ));
                }
                let mut v = Vec::new();
                let r = FindingResult::parse(result.trim());
                if r.is_none() {
                    v.push(FieldViolation::new(
                        "result",
                        "finding_result",
                        "结论须为 substantiated, partly 或 not_substantiated (result: substantiated, partly or not_substantiated)",
                    ));
                }
                let cause = input::text(&mut v, "cause", &cause, CONTENT_CHARS, true);
                let (Some(result), Some(cause), true) = (r, cause, v.is_empty()) else {
                    return Err(Refusal::Invalid(v));
                };
                self.finding = Some(Finding {
                    result,
                    cause,
                    recorded_by: actor.subject.clone(),
                    recorded_at: at,
                });
                self.status = Status::Found;
                self.record("record_finding", actor, at).reason = result.as_str().into();
                Ok(Emit::Nothing)
            }
            Command::Answer { answer } => {
                self.require_owner(actor)?;
                if self.kind.investigated() {
                    return Err(Refusal::Illegal(format!(
                        "{}须经调查后结案 (a {} is investigated and closed with its finding)",
                        self.kind.label(),
                        self.kind.as_str()
                    )));
                }
                self.require(&[Status::Owned], "answer")?;
                let mut v = Vec::new();
                let Some(answer) = input::text(&mut v, "answer", &answer, CONTENT_CHARS, true)
                else {
                    return Err(Refusal::Invalid(v));
                };
                self.answer = Some(answer);
                self.answered_on_time = Some(self.on_time(today));
                self.status = Status::Answered;
                self.record("answer", actor, at);
                Ok(Emit::Disarm)
            }
            Command::Close => {
                self.require_owner(actor)?;
                let after = if self.kind.investigated() {
                    Status::Found
                } else {
                    Status::Answered
                };
                self.require(&[after], "close")?;
                if self.kind.investigated() {
                    // The result goes to the complainant with the closure.
                    self.answered_on_time = Some(self.on_time(today));
                }
                self.status = Status::Closed;
                self.closed_at = Some(at);
                self.record("close", actor, at);
                Ok(Emit::Closed)
            }
        }
    }
}

/// At least two distinct staff accounts of the complaint's center, none of
/// them the staff member complained about.
pub fn two_investigators(raw: &[String], c: &Complaint) -> Result<Vec<String>, Refusal> {
    if raw.len() > MAX_INVESTIGATORS {
        return Err(invalid(
            "investigators",
            "too_many",
            format!("最多 {MAX_INVESTIGATORS} 名调查人员 (at most {MAX_INVESTIGATORS})"),
        ));
    }
    let mut chosen: Vec<String> = Vec::new();
    let mut v = Vec::new();
    for (i, who) in raw.iter().enumerate() {
        let field = format!("investigators[{i}]");
        match input::staff_of_center(&field, who, &c.center_id) {
            Ok(who) => {
                if c.party_kind == PartyKind::Staff && who.eq_ignore_ascii_case(&c.party_id) {
                    v.push(FieldViolation::new(
                        field,
                        "not_the_party",
                        "被投诉人不得参与调查 (the staff member complained about may not investigate)",
                    ));
                } else if !chosen.contains(&who) {
                    chosen.push(who);
                }
            }
            Err(e) => v.push(e),
        }
    }
    if !v.is_empty() {
        return Err(Refusal::Invalid(v));
    }
    if chosen.len() < 2 {
        return Err(invalid(
            "investigators",
            "two_investigators",
            "至少两名不同的调查人员 (at least two distinct investigators)",
        ));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::input::{Draft, validate};

    fn at() -> DateTime<Utc> {
        "2026-12-07T02:00:00Z".parse().unwrap()
    }
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }
    fn staff(s: &str) -> Actor {
        Actor {
            subject: s.into(),
            staff: true,
        }
    }

    fn filed(kind: &str, actor: &Actor) -> Complaint {
        let v = validate(
            &Draft {
                center_id: "C01",
                channel: if actor.staff { "window" } else { "web" },
                name: "王建国",
                id_number: "11010519491231002X",
                phone: "13912345678",
                party_kind: "staff",
                party_id: "c01-window-3",
                kind,
                content: "态度恶劣",
                demand: "",
                sensitive: false,
                by_staff: actor.staff,
            },
            today(),
        )
        .unwrap();
        Complaint::filed(
            &v,
            actor,
            NaiveDate::from_ymd_opt(2026, 12, 10).unwrap(),
            at(),
        )
    }

    fn apply(c: &mut Complaint, who: &str, cmd: Command) -> Result<Emit, Refusal> {
        c.apply(&staff(who), cmd, at(), today())
    }

    fn rules(r: Result<Emit, Refusal>) -> Vec<(String, String)> {
        match r {
            Err(Refusal::Invalid(v)) => v.into_iter().map(|v| (v.field, v.rule)).collect(),
            other => panic!("not an input refusal: {other:?}"),
        }
    }

    fn classify(s: &str) -> Command {
        Command::Classify {
            nature: "service_violation".into(),
            severity: s.into(),
        }
    }

    fn assign(who: &[&str]) -> Command {
        Command::AssignInvestigators {
            investigators: who.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn staff_who_record_it_own_it_a_residents_filing_is_taken() {
        let c = filed("complaint", &staff("c01-specialist"));
        assert_eq!(c.status, Status::Owned);
        assert_eq!(c.owner.as_deref(), Some("c01-specialist"));
        assert_eq!(c.recorded_by.as_deref(), Some("c01-specialist"));
        let resident = Actor {
            subject: "resident-1".into(),
            staff: false,
        };
        let mut c = filed("complaint", &resident);
        assert_eq!((c.status, c.owner.clone()), (Status::Filed, None));
        // A resident takes no step.
        assert!(matches!(
            c.apply(&resident, Command::Take, at(), today()),
            Err(Refusal::Forbidden(_))
        ));
        apply(&mut c, "c01-supervisor", Command::Take).unwrap();
        assert_eq!(c.first_owner.as_deref(), Some("c01-supervisor"));
        // Taken once: the next one cannot take it away.
        assert!(matches!(
            apply(&mut c, "c01-specialist", Command::Take),
            Err(Refusal::Illegal(_))
        ));
    }

    #[test]
    fn a_hand_over_needs_a_reason_and_keeps_the_first_owner() {
        let mut c = filed("complaint", &staff("c01-specialist"));
        let hand = |to: &str, reason: &str| Command::HandOver {
            to: to.into(),
            reason: reason.into(),
        };
        assert_eq!(
            rules(apply(&mut c, "c01-specialist", hand("c01-supervisor", ""))),
            [("reason".to_string(), "required".to_string())]
        );
        assert_eq!(
            rules(apply(
                &mut c,
                "c01-specialist",
                hand("c02-supervisor", "休假")
            )),
            [("to".to_string(), "staff_of_center".to_string())]
        );
        assert_eq!(
            rules(apply(
                &mut c,
                "c01-specialist",
                hand("c01-specialist", "休假")
            )),
            [("to".to_string(), "another_staff_member".to_string())]
        );
        // Only the owner hands over.
        assert!(matches!(
            apply(&mut c, "c01-supervisor", hand("c01-supervisor", "休假")),
            Err(Refusal::Forbidden(_))
        ));
        apply(&mut c, "c01-specialist", hand("c01-supervisor", "休假")).unwrap();
        assert_eq!(c.owner.as_deref(), Some("c01-supervisor"));
        assert_eq!(c.first_owner.as_deref(), Some("c01-specialist"));
        let step = c.history.last().unwrap();
        assert_eq!(
            (
                step.action.as_str(),
                step.by.as_str(),
                step.from.as_str(),
                step.to.as_str(),
                step.reason.as_str()
            ),
            (
                "hand_over",
                "c01-specialist",
                "c01-specialist",
                "c01-supervisor",
                "休假"
            )
        );
    }

    #[test]
    fn classification_is_the_owners_for_complaints_and_reports_only() {
        let mut c = filed("complaint", &staff("c01-specialist"));
        assert_eq!(
            rules(apply(
                &mut c,
                "c01-specialist",
                Command::Classify {
                    nature: "x".into(),
                    severity: "y".into()
                }
            )),
            [
                ("nature".to_string(), "nature".to_string()),
                ("severity".to_string(), "severity".to_string())
            ]
        );
        assert!(matches!(
            apply(&mut c, "c01-supervisor", classify("general")),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(
            apply(&mut c, "c01-specialist", classify("general")),
            Ok(Emit::Nothing)
        );
        assert_eq!(c.severity, Some(Severity::General));
        assert!(c.due_date.is_some());
        // Major: the general clock stops (its finer clocks come later).
        assert_eq!(
            apply(&mut c, "c01-specialist", classify("major")),
            Ok(Emit::Disarm)
        );
        assert_eq!(c.due_date, None);

        let mut s = filed("suggestion", &staff("c01-specialist"));
        assert!(matches!(
            apply(&mut s, "c01-specialist", classify("general")),
            Err(Refusal::Illegal(_))
        ));
    }

    #[test]
    fn two_distinct_investigators_neither_the_party() {
        let mut c = filed("complaint", &staff("c01-specialist"));
        // Not before classification.
        assert!(matches!(
            apply(&mut c, "c01-specialist", assign(&["c01-a", "c01-b"])),
            Err(Refusal::Illegal(_))
        ));
        apply(&mut c, "c01-specialist", classify("general")).unwrap();
        let two = [("investigators".to_string(), "two_investigators".to_string())];
        assert_eq!(
            rules(apply(&mut c, "c01-specialist", assign(&["c01-a"]))),
            two
        );
        assert_eq!(
            rules(apply(&mut c, "c01-specialist", assign(&["c01-a", "c01-a"]))),
            two
        );
        assert_eq!(
            rules(apply(
                &mut c,
                "c01-specialist",
                assign(&["c01-a", "c01-window-3"])
            )),
            [("investigators[1]".to_string(), "not_the_party".to_string())]
        );
        assert_eq!(
            rules(apply(&mut c, "c01-specialist", assign(&["c01-a", "c02-b"]))),
            [(
                "investigators[1]".to_string(),
                "staff_of_center".to_string()
            )]
        );
        assert_eq!(c.status, Status::Classified);
        apply(
            &mut c,
            "c01-specialist",
            assign(&["c01-supervisor", "c01-inspector"]),
        )
        .unwrap();
        assert_eq!(c.status, Status::Investigating);
        assert_eq!(c.investigators, ["c01-supervisor", "c01-inspector"]);
    }

    #[test]
    fn the_finding_is_an_investigators_and_closure_follows_it() {
        let mut c = filed("report", &staff("c01-specialist"));
        let finding = Command::RecordFinding {
            result: "partly".into(),
            cause: "流程不清".into(),
        };
        // No finding before two investigators, whoever asks.
        assert!(matches!(
            apply(&mut c, "c01-specialist", finding.clone()),
            Err(Refusal::Illegal(_))
        ));
        apply(&mut c, "c01-specialist", classify("general")).unwrap();
        apply(
            &mut c,
            "c01-specialist",
            assign(&["c01-supervisor", "c01-inspector"]),
        )
        .unwrap();
        assert!(matches!(
            apply(&mut c, "c01-specialist", Command::Close),
            Err(Refusal::Illegal(_))
        ));
        // The owner is no investigator.
        assert!(matches!(
            apply(&mut c, "c01-specialist", finding.clone()),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(
            rules(apply(
                &mut c,
                "c01-supervisor",
                Command::RecordFinding {
                    result: "maybe".into(),
                    cause: "".into()
                }
            )),
            [
                ("result".to_string(), "finding_result".to_string()),
                ("cause".to_string(), "required".to_string())
            ]
        );
        apply(&mut c, "c01-supervisor", finding).unwrap();
        assert_eq!(c.finding.as_ref().unwrap().result, FindingResult::Partly);
        assert!(matches!(
            apply(&mut c, "c01-supervisor", Command::Close),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(
            apply(&mut c, "c01-specialist", Command::Close),
            Ok(Emit::Closed)
        );
        assert_eq!(c.status, Status::Closed);
        assert_eq!(c.answered_on_time, Some(true));
    }

    #[test]
    fn the_other_types_are_answered_then_closed_and_the_answer_says_if_on_time() {
        let mut c = filed("inquiry", &staff("c01-specialist"));
        assert!(matches!(
            apply(&mut c, "c01-specialist", Command::Close),
            Err(Refusal::Illegal(_))
        ));
        let late = NaiveDate::from_ymd_opt(2026, 12, 11).unwrap();
        let emit = c
            .apply(
                &staff("c01-specialist"),
                Command::Answer {
                    answer: "请于周一携带身份证办理".into(),
                },
                at(),
                late,
            )
            .unwrap();
        assert_eq!(emit, Emit::Disarm);
        assert_eq!(c.answered_on_time, Some(false));
        assert_eq!(
            apply(&mut c, "c01-specialist", Command::Close),
            Ok(Emit::Closed)
        );
        // A complaint is not answered without its investigation.
        let mut k = filed("complaint", &staff("c01-specialist"));
        assert!(matches!(
            apply(
                &mut k,
                "c01-specialist",
                Command::Answer { answer: "x".into() }
            ),
            Err(Refusal::Illegal(_))
        ));
    }

    #[test]
    fn kinds_have_codes_and_chinese_labels() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::RequestForHelp.label(), "求助");
        assert_eq!(
            Kind::ALL.iter().filter(|k| k.investigated()).count(),
            2,
            "only 投诉 and 举报 are investigated"
        );
    }
}
