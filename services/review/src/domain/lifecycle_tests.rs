//! The lifecycle's rules, one by one, and a whole case end to end.

use super::*;
use proptest::prelude::*;

fn cal() -> WorkingCalendar {
    WorkingCalendar::weekdays_only()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn specialist() -> Actor {
    Actor {
        subject: "c01-specialist".into(),
        role: Role::Specialist,
    }
}

fn supervisor() -> Actor {
    Actor {
        subject: "c01-supervisor".into(),
        role: Role::Supervisor,
    }
}

/// Opened Monday 2026-11-23 (Asia/Shanghai), policy 5/10/30.
fn opened() -> Case {
    Case::open(
        &cal(),
        d("2026-11-23"),
        Policy::with_defaults(5, 10, 30),
        at("2026-11-23T02:00:00Z"),
    )
    .unwrap()
}

fn run(case: &mut Case, actor: &Actor, command: Command, now: &str) -> Result<Emit, Refusal> {
    apply(case, actor, command, at(now), &cal())
}

fn accept() -> Command {
    Command::Accept {
        reason: "材料齐全".into(),
    }
}

fn plan() -> Command {
    Command::Plan {
        plan: Plan {
            content: "居家养老上门服务".into(),
            schedule: "每周二、四上午".into(),
            staff: vec!["c01-specialist".into()],
            resources: vec!["护理包".into()],
            tasks: vec![
                Task {
                    title: "上门评估".into(),
                    assignee: "c01-specialist".into(),
                    ..Default::default()
                },
                Task {
                    title: "助浴服务".into(),
                    assignee: "c01-specialist".into(),
                    ..Default::default()
                },
            ],
        },
    }
}

fn complete(task: &str, feedback: &str) -> Command {
    Command::CompleteTask {
        task_id: task.into(),
        content: "完成".into(),
        minutes_spent: 60,
        result: "良好".into(),
        resident_feedback: feedback.into(),
    }
}

#[test]
fn preliminary_review_opens_with_the_policy_limit() {
    let case = opened();
    assert_eq!(case.stage, Stage::PreliminaryReview);
    assert_eq!(case.due_date(), Some(d("2026-11-30")));
    assert_eq!(case.history.len(), 1);
}

#[test]
fn a_whole_case_with_supplement_and_joint_review() {
    let mut case = opened();
    // Wednesday: ask for everything missing at once; clock suspended, and
    // preliminary raised to the extended limit (10 -> due 12-07).
    let emit = run(
        &mut case,
        &specialist(),
        Command::RequestSupplement {
            missing_items: vec!["户口簿".into(), "收入证明".into()],
            reason: "材料不全".into(),
        },
        "2026-11-25T02:00:00Z",
    )
    .unwrap();
    assert_eq!(emit, Emit::SupplementRequested);
    assert_eq!(case.stage, Stage::SupplementRequested);
    assert!(case.is_suspended());
    // 11-25 -> 12-07: Thu, Fri, Mon..Fri, Mon = 8 working days remain.
    assert_eq!(
        case.clock
            .as_ref()
            .unwrap()
            .suspended
            .as_ref()
            .unwrap()
            .remaining,
        8
    );

    // Resumed a week later: the 8 days count from 12-02 -> 12-14.
    run(
        &mut case,
        &specialist(),
        Command::Resume {
            received_items: vec!["户口簿".into(), "收入证明".into()],
            reason: "已补正".into(),
        },
        "2026-12-02T02:00:00Z",
    )
    .unwrap();
    assert_eq!(case.stage, Stage::PreliminaryReview);
    assert_eq!(case.due_date(), Some(d("2026-12-14")));
    assert_eq!(case.suspended_days, 5);

    run(&mut case, &specialist(), accept(), "2026-12-03T02:00:00Z").unwrap();
    assert_eq!(case.stage, Stage::DetailedAssessment);
    // Decision: 30 working days after 11-23 plus the 5 suspended ones.
    assert_eq!(
        case.due_date(),
        Some(cal().add_working_days(d("2026-11-23"), 35).unwrap())
    );

    run(
        &mut case,
        &supervisor(),
        Command::StartJointReview {
            departments: vec!["民政".into(), "卫健".into()],
            reason: "涉及医疗".into(),
        },
        "2026-12-03T03:00:00Z",
    )
    .unwrap();
    for dept in ["民政", "卫健"] {
        run(
            &mut case,
            &specialist(),
            Command::SignOff {
                department: dept.into(),
                approve: true,
                reason_codes: vec![],
                reason_text: String::new(),
            },
            "2026-12-04T02:00:00Z",
        )
        .unwrap();
    }
    run(
        &mut case,
        &supervisor(),
        Command::Decide {
            outcome: Outcome::Approved,
            reason_codes: vec![],
            reason_text: String::new(),
        },
        "2026-12-04T03:00:00Z",
    )
    .unwrap();
    let decision = case.decision.clone().unwrap();
    assert!(decision.on_time);
    // 11-23 -> 12-04 is 9 working days, 5 of them suspended.
    assert_eq!(decision.working_days_taken, 4);
    assert!(case.clock.is_none());
    let ended: Vec<(ClockKind, bool)> = case.ended_clocks.iter().map(|c| (c.kind, c.met)).collect();
    assert_eq!(
        ended,
        [(ClockKind::Preliminary, true), (ClockKind::Decision, true)]
    );

    run(&mut case, &supervisor(), plan(), "2026-12-04T04:00:00Z").unwrap();
    assert_eq!(case.stage, Stage::Execution);
    run(
        &mut case,
        &specialist(),
        complete("T1", "满意"),
        "2026-12-07T02:00:00Z",
    )
    .unwrap();
    assert_eq!(case.stage, Stage::Execution);
    run(
        &mut case,
        &specialist(),
        complete("T2", ""),
        "2026-12-08T02:00:00Z",
    )
    .unwrap();
    assert_eq!(case.stage, Stage::AcceptanceCheck);
    assert_eq!(case.ledger.len(), 2);
    assert_eq!(case.ledger[1].feedback_due_at, at("2026-12-09T02:00:00Z"));
    run(
        &mut case,
        &specialist(),
        Command::RecordFeedback {
            task_id: "T2".into(),
            resident_feedback: "很满意".into(),
        },
        "2026-12-08T05:00:00Z",
    )
    .unwrap();

    run(
        &mut case,
        &supervisor(),
        Command::CheckAcceptance {
            passed: true,
            notes: "合格".into(),
            reopen_task_ids: vec![],
        },
        "2026-12-09T02:00:00Z",
    )
    .unwrap();
    let emit = run(
        &mut case,
        &supervisor(),
        Command::Close {
            results: "服务完成".into(),
            problems: "无".into(),
            improvements: "增加频次".into(),
        },
        "2026-12-09T03:00:00Z",
    )
    .unwrap();
    assert_eq!(emit, Emit::Closed);
    assert_eq!(case.stage, Stage::Closed);
    let actions: Vec<&str> = case.history.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "open",
            "request_supplement",
            "resume",
            "accept",
            "start_joint_review",
            "sign_off",
            "sign_off",
            "decide",
            "plan",
            "complete_task",
            "complete_task",
            "record_feedback",
            "check_acceptance",
            "close",
        ]
    );
    assert!(
        case.history
            .iter()
            .skip(1)
            .all(|t| !t.actor.is_empty() && !t.actor_role.is_empty())
    );
}

#[test]
fn wrong_roles_are_forbidden_and_leave_the_case_unchanged() {
    let mut case = opened();
    let before = case.clone();
    let admin = Actor {
        subject: "admin".into(),
        role: Role::DistrictAdmin,
    };
    assert!(matches!(
        run(&mut case, &admin, accept(), "2026-11-24T02:00:00Z"),
        Err(Refusal::Forbidden(_))
    ));
    run(&mut case, &specialist(), accept(), "2026-11-24T02:00:00Z").unwrap();
    // A specialist neither approves nor starts a joint review.
    let approve = Command::Decide {
        outcome: Outcome::Approved,
        reason_codes: vec![],
        reason_text: String::new(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), approve, "2026-11-24T03:00:00Z"),
        Err(Refusal::Forbidden(_))
    ));
    let joint = Command::StartJointReview {
        departments: vec!["民政".into()],
        reason: String::new(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), joint, "2026-11-24T03:00:00Z"),
        Err(Refusal::Forbidden(_))
    ));
    assert_eq!(before.history.len() + 1, case.history.len());
}

#[test]
fn illegal_transitions_are_refused() {
    let mut case = opened();
    // Nothing to close, plan or check yet.
    let close = Command::Close {
        results: "x".into(),
        problems: String::new(),
        improvements: String::new(),
    };
    let refused = run(&mut case, &supervisor(), close, "2026-11-24T02:00:00Z").unwrap_err();
    assert!(
        matches!(refused, Refusal::Illegal(ref m) if m.contains("初审") && m.contains("preliminary_review")),
        "{refused:?}"
    );
    assert!(matches!(
        run(&mut case, &supervisor(), plan(), "2026-11-24T02:00:00Z"),
        Err(Refusal::Illegal(_))
    ));
    assert!(matches!(
        run(
            &mut case,
            &specialist(),
            Command::Resume {
                received_items: vec!["x".into()],
                reason: String::new()
            },
            "2026-11-24T02:00:00Z"
        ),
        Err(Refusal::Illegal(_))
    ));
    assert_eq!(case.history.len(), 1);
}

#[test]
fn rejection_needs_reasons_from_the_list() {
    let mut case = opened();
    let no_reason = Command::Decide {
        outcome: Outcome::Rejected,
        reason_codes: vec![],
        reason_text: "不行".into(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), no_reason, "2026-11-24T02:00:00Z"),
        Err(Refusal::Invalid {
            rule: "reason_required",
            ..
        })
    ));
    let unknown = Command::Decide {
        outcome: Outcome::Rejected,
        reason_codes: vec!["nope".into()],
        reason_text: String::new(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), unknown, "2026-11-24T02:00:00Z"),
        Err(Refusal::Invalid {
            rule: "reason_code",
            ..
        })
    ));
    let other = Command::Decide {
        outcome: Outcome::Rejected,
        reason_codes: vec!["other".into()],
        reason_text: " ".into(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), other, "2026-11-24T02:00:00Z"),
        Err(Refusal::Invalid { .. })
    ));
    // A specialist may reject at 初审.
    let ok = Command::Decide {
        outcome: Outcome::Rejected,
        reason_codes: vec!["materials_incomplete".into()],
        reason_text: "缺少身份证复印件".into(),
    };
    run(&mut case, &specialist(), ok, "2026-11-24T02:00:00Z").unwrap();
    assert_eq!(case.stage, Stage::Decided);
    // A rejected case is closed, never planned.
    assert!(matches!(
        run(&mut case, &supervisor(), plan(), "2026-11-24T03:00:00Z"),
        Err(Refusal::Illegal(_))
    ));
    let close = Command::Close {
        results: "不予批准".into(),
        problems: String::new(),
        improvements: String::new(),
    };
    run(&mut case, &supervisor(), close, "2026-11-24T03:00:00Z").unwrap();
    assert_eq!(case.stage, Stage::Closed);
}

#[test]
fn any_joint_rejection_rejects_with_its_reasons() {
    let mut case = opened();
    run(&mut case, &specialist(), accept(), "2026-11-24T02:00:00Z").unwrap();
    run(
        &mut case,
        &supervisor(),
        Command::StartJointReview {
            departments: vec!["民政".into(), "卫健".into()],
            reason: String::new(),
        },
        "2026-11-24T02:00:00Z",
    )
    .unwrap();
    run(
        &mut case,
        &specialist(),
        Command::SignOff {
            department: "民政".into(),
            approve: true,
            reason_codes: vec![],
            reason_text: String::new(),
        },
        "2026-11-24T03:00:00Z",
    )
    .unwrap();
    // Approval before all sign-offs is refused.
    let approve = Command::Decide {
        outcome: Outcome::Approved,
        reason_codes: vec![],
        reason_text: String::new(),
    };
    assert!(
        matches!(run(&mut case, &supervisor(), approve, "2026-11-24T03:00:00Z"), Err(Refusal::Illegal(ref m)) if m.contains("卫健"))
    );
    // A rejection without reasons is refused; with them it rejects the case.
    let bare = Command::SignOff {
        department: "卫健".into(),
        approve: false,
        reason_codes: vec![],
        reason_text: String::new(),
    };
    assert!(run(&mut case, &specialist(), bare, "2026-11-24T03:00:00Z").is_err());
    let reject = Command::SignOff {
        department: "卫健".into(),
        approve: false,
        reason_codes: vec!["policy_mismatch".into()],
        reason_text: "不属医疗救助范围".into(),
    };
    assert_eq!(
        run(&mut case, &specialist(), reject, "2026-11-24T04:00:00Z").unwrap(),
        Emit::Decided
    );
    let decision = case.decision.as_ref().unwrap();
    assert_eq!(decision.outcome, Outcome::Rejected);
    assert!(decision.reason_text.contains("卫健"));
}

#[test]
fn a_second_request_for_supplied_items_is_refused() {
    let mut case = opened();
    run(
        &mut case,
        &specialist(),
        Command::RequestSupplement {
            missing_items: vec!["户口簿".into()],
            reason: "缺".into(),
        },
        "2026-11-24T02:00:00Z",
    )
    .unwrap();
    // Resuming without every item is refused, naming what is missing.
    let partial = Command::Resume {
        received_items: vec!["别的".into()],
        reason: String::new(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), partial, "2026-11-25T02:00:00Z"),
        Err(Refusal::Invalid {
            rule: "supplement_incomplete",
            ..
        })
    ));
    run(
        &mut case,
        &specialist(),
        Command::Resume {
            received_items: vec!["户口簿".into()],
            reason: String::new(),
        },
        "2026-11-25T02:00:00Z",
    )
    .unwrap();
    let again = Command::RequestSupplement {
        missing_items: vec!["收入证明".into(), "户口簿".into()],
        reason: "再缺".into(),
    };
    let refused = run(&mut case, &specialist(), again, "2026-11-26T02:00:00Z").unwrap_err();
    assert!(
        matches!(refused, Refusal::Invalid { ref field, rule: "already_present", .. } if field == "missing_items[1]"),
        "{refused:?}"
    );
    // Duplicates and empty lists are bad input too.
    let dup = Command::RequestSupplement {
        missing_items: vec!["a".into(), "a".into()],
        reason: "x".into(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), dup, "2026-11-26T02:00:00Z"),
        Err(Refusal::Invalid {
            rule: "duplicate",
            ..
        })
    ));
    let empty = Command::RequestSupplement {
        missing_items: vec![],
        reason: "x".into(),
    };
    assert!(matches!(
        run(&mut case, &specialist(), empty, "2026-11-26T02:00:00Z"),
        Err(Refusal::Invalid {
            rule: "required",
            ..
        })
    ));
}

#[test]
fn extension_within_policy_then_only_with_a_supervisor_and_a_date() {
    let mut case = opened();
    let within = Command::Extend {
        reason: "需要入户调查".into(),
        new_due_date: None,
    };
    run(
        &mut case,
        &specialist(),
        within.clone(),
        "2026-11-24T02:00:00Z",
    )
    .unwrap();
    assert_eq!(case.due_date(), Some(d("2026-12-07")));
    // Beyond the policy: a specialist is refused; a supervisor needs a date.
    assert!(matches!(
        run(
            &mut case,
            &specialist(),
            within.clone(),
            "2026-11-24T02:00:00Z"
        ),
        Err(Refusal::Forbidden(_))
    ));
    assert!(matches!(
        run(&mut case, &supervisor(), within, "2026-11-24T02:00:00Z"),
        Err(Refusal::Invalid {
            rule: "required",
            ..
        })
    ));
    let earlier = Command::Extend {
        reason: "x".into(),
        new_due_date: Some(d("2026-12-01")),
    };
    assert!(run(&mut case, &supervisor(), earlier, "2026-11-24T02:00:00Z").is_err());
    let sunday = Command::Extend {
        reason: "x".into(),
        new_due_date: Some(d("2026-12-13")),
    };
    assert!(matches!(
        run(&mut case, &supervisor(), sunday, "2026-11-24T02:00:00Z"),
        Err(Refusal::Invalid {
            rule: "working_day",
            ..
        })
    ));
    let approved = Command::Extend {
        reason: "主任批准：需第三方鉴定".into(),
        new_due_date: Some(d("2026-12-14")),
    };
    let emit = run(&mut case, &supervisor(), approved, "2026-11-24T03:00:00Z").unwrap();
    assert_eq!(
        emit,
        Emit::Extended {
            previous_due: Some(d("2026-12-07")),
            approved_by: "c01-supervisor".into()
        }
    );
    assert!(case.clock.as_ref().unwrap().extended_beyond_policy);
    assert_eq!(
        case.history.last().unwrap().reason,
        "主任批准：需第三方鉴定"
    );
}

#[test]
fn a_failed_acceptance_check_reopens_tasks() {
    let mut case = opened();
    run(&mut case, &specialist(), accept(), "2026-11-24T02:00:00Z").unwrap();
    run(
        &mut case,
        &supervisor(),
        Command::Decide {
            outcome: Outcome::Approved,
            reason_codes: vec![],
            reason_text: String::new(),
        },
        "2026-11-24T02:00:00Z",
    )
    .unwrap();
    run(&mut case, &supervisor(), plan(), "2026-11-24T03:00:00Z").unwrap();
    run(
        &mut case,
        &specialist(),
        complete("T1", "好"),
        "2026-11-24T04:00:00Z",
    )
    .unwrap();
    assert!(matches!(
        run(
            &mut case,
            &specialist(),
            complete("T1", "好"),
            "2026-11-24T04:00:00Z"
        ),
        Err(Refusal::Illegal(_))
    ));
    assert!(matches!(
        run(
            &mut case,
            &specialist(),
            complete("T9", "好"),
            "2026-11-24T04:00:00Z"
        ),
        Err(Refusal::Invalid {
            rule: "unknown_task",
            ..
        })
    ));
    run(
        &mut case,
        &specialist(),
        complete("T2", "好"),
        "2026-11-24T05:00:00Z",
    )
    .unwrap();
    let failed = Command::CheckAcceptance {
        passed: false,
        notes: "助浴不到位".into(),
        reopen_task_ids: vec!["T2".into()],
    };
    run(&mut case, &supervisor(), failed, "2026-11-25T02:00:00Z").unwrap();
    assert_eq!(case.stage, Stage::Execution);
    run(
        &mut case,
        &specialist(),
        complete("T2", "好"),
        "2026-11-25T05:00:00Z",
    )
    .unwrap();
    assert_eq!(case.stage, Stage::AcceptanceCheck);
    assert_eq!(case.ledger.len(), 3);
}

fn any_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(accept()),
        Just(Command::RequestSupplement {
            missing_items: vec!["户口簿".into()],
            reason: "缺".into()
        }),
        Just(Command::Resume {
            received_items: vec!["户口簿".into()],
            reason: String::new()
        }),
        Just(Command::Extend {
            reason: "调查".into(),
            new_due_date: None
        }),
        Just(Command::StartJointReview {
            departments: vec!["民政".into()],
            reason: String::new()
        }),
        Just(Command::SignOff {
            department: "民政".into(),
            approve: true,
            reason_codes: vec![],
            reason_text: String::new()
        }),
        Just(Command::Decide {
            outcome: Outcome::Approved,
            reason_codes: vec![],
            reason_text: String::new()
        }),
        Just(Command::Decide {
            outcome: Outcome::Rejected,
            reason_codes: vec!["other".into()],
            reason_text: "x".into()
        }),
        Just(plan()),
        Just(complete("T1", "")),
        Just(complete("T2", "好")),
        Just(Command::CheckAcceptance {
            passed: true,
            notes: String::new(),
            reopen_task_ids: vec![]
        }),
        Just(Command::Close {
            results: "完成".into(),
            problems: String::new(),
            improvements: String::new()
        }),
    ]
}

proptest! {
    /// Whatever staff try in whatever order: a refusal changes nothing, a
    /// success records exactly one transition, a closed case stays closed,
    /// and only a supervisor ever decides approval or closes.
    #[test]
    fn refusals_change_nothing_and_successes_record_one_transition(
        steps in proptest::collection::vec((any_command(), any::<bool>()), 1..40)
    ) {
        let mut case = opened();
        for (i, (command, as_supervisor)) in steps.into_iter().enumerate() {
            let actor = if as_supervisor { supervisor() } else { specialist() };
            let before = case.clone();
            let now = at("2026-11-24T02:00:00Z") + chrono::Duration::hours(i as i64);
            let name = command.name();
            match apply(&mut case, &actor, command, now, &cal()) {
                Ok(_) => {
                    prop_assert_eq!(case.history.len(), before.history.len() + 1);
                    prop_assert!(before.stage != Stage::Closed);
                    if name == "close" { prop_assert!(as_supervisor); }
                }
                Err(_) => prop_assert_eq!(&case, &before),
            }
        }
    }
}

fn relay() -> Actor {
    Actor {
        subject: "intake:resident-1".into(),
        role: Role::Service,
    }
}

fn withdraw() -> Command {
    Command::Withdraw {
        reason: "已获得其他渠道救助".into(),
        by: "resident-1".into(),
    }
}

#[test]
fn the_applicants_answer_resumes_like_staff_and_a_withdrawal_ends_the_case() {
    let mut case = opened();
    run(
        &mut case,
        &specialist(),
        Command::RequestSupplement {
            missing_items: vec!["户口簿".into()],
            reason: "材料不全".into(),
        },
        "2026-11-25T02:00:00Z",
    )
    .unwrap();
    // Relayed by intake: the same resume, on the extended limit.
    let emit = run(
        &mut case,
        &relay(),
        Command::Resume {
            received_items: vec!["户口簿".into()],
            reason: "申请人补正".into(),
        },
        "2026-11-26T02:00:00Z",
    )
    .unwrap();
    assert_eq!(emit, Emit::Resumed);
    assert_eq!(case.stage, Stage::PreliminaryReview);
    assert_eq!(case.clock.as_ref().unwrap().limit, 10);
    assert_eq!(case.history.last().unwrap().actor, "intake:resident-1");

    // Only the relay withdraws; staff cannot end a case that way.
    assert!(matches!(
        run(&mut case, &specialist(), withdraw(), "2026-11-26T03:00:00Z"),
        Err(Refusal::Forbidden(_))
    ));
    run(&mut case, &relay(), withdraw(), "2026-11-26T03:00:00Z").unwrap();
    assert_eq!(case.stage, Stage::Withdrawn);
    assert!(case.clock.is_none() && !case.overdue);
    assert!(matches!(
        run(&mut case, &relay(), withdraw(), "2026-11-26T04:00:00Z"),
        Err(Refusal::Illegal(_))
    ));
    assert!(matches!(
        run(&mut case, &supervisor(), accept(), "2026-11-26T04:00:00Z"),
        Err(Refusal::Illegal(_))
    ));
}

#[test]
fn a_decided_case_cannot_be_withdrawn() {
    let mut case = opened();
    run(&mut case, &specialist(), accept(), "2026-11-24T02:00:00Z").unwrap();
    run(
        &mut case,
        &supervisor(),
        Command::Decide {
            outcome: Outcome::Approved,
            reason_codes: vec![],
            reason_text: String::new(),
        },
        "2026-11-25T02:00:00Z",
    )
    .unwrap();
    assert_eq!(case.stage, Stage::Decided);
    assert!(matches!(
        run(&mut case, &relay(), withdraw(), "2026-11-25T03:00:00Z"),
        Err(Refusal::Illegal(_))
    ));
}
