//! Who may do what in review: one row per action. The first rows are the
//! gRPC methods (who may read a center's cases and act on them at all);
//! the rest are the steps of a case, one row each, which the lifecycle
//! (`domain::lifecycle`) applies to the acting role: one place says which
//! role takes which step. The engine is `bianmin_common::auth::policy`;
//! the README's table ("Who may do what") is generated from this one and
//! tested against it.

use bianmin_common::auth::Role::*;
use bianmin_common::auth::policy::Scope::*;
use bianmin_common::auth::policy::{Access, Grant, Outside, Policy, Rule, grant};

/// Method paths of review's gRPC service.
macro_rules! review_methods {
    ($($m:literal),* $(,)?) => {
        &[$(concat!("/bianmin.review.v1.ReviewService/", $m)),*]
    };
}

/// A review case, and the queue of them.
pub const READ_REVIEW_CASE: Rule = Rule {
    name: "read_review_case",
    summary: "查看审核案件与待办队列 (a review case, the queue)",
    methods: review_methods!["GetReviewCase", "ListReviewCases"],
    access: Access::Granted(Outside::Hidden),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(QualityInspector, OwnCenter),
        grant(DistrictAdmin, AllCenters),
        grant(Service, AllCenters),
    ],
};

/// Any step of a case: who may act on a center's cases at all. Which role
/// takes which step is the step rows below. District administrators
/// oversee every center; the steps of a case belong to the center's own
/// staff.
pub const ACT_ON_REVIEW_CASE: Rule = Rule {
    name: "act_on_review_case",
    summary: "办理案件（各步骤见下） (act on a case; steps below)",
    methods: review_methods!["ActOnReviewCase"],
    access: Access::Granted(Outside::Hidden),
    grants: &[grant(Supervisor, OwnCenter), grant(Specialist, OwnCenter)],
};

/// On-time rates and overdue counts (the supervision figures).
pub const READ_REVIEW_MEASURES: Rule = Rule {
    name: "read_review_measures",
    summary: "按时办结率与超期统计 (on-time rates, overdue counts)",
    methods: review_methods!["GetReviewMeasures"],
    access: Access::Granted(Outside::Hidden),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(QualityInspector, OwnCenter),
        grant(DistrictAdmin, AllCenters),
        grant(Service, AllCenters),
    ],
};

/// 服务专员 and 服务主管: the center's reviewing staff.
const REVIEWERS: &[Grant] = &[grant(Specialist, OwnCenter), grant(Supervisor, OwnCenter)];
/// 服务主管 only: approvals, plans, closure, extensions past the policy.
const SUPERVISORS: &[Grant] = &[grant(Supervisor, OwnCenter)];

/// A step of a case, checked by the lifecycle against the acting role.
const fn step(name: &'static str, summary: &'static str, grants: &'static [Grant]) -> Rule {
    Rule {
        name,
        summary,
        methods: &[],
        access: Access::Granted(Outside::Hidden),
        grants,
    }
}

pub const ACCEPT: Rule = step("accept", "受理（初审通过） (accept)", REVIEWERS);
pub const REQUEST_SUPPLEMENT: Rule = step(
    "request_supplement",
    "一次性告知补正 (request a supplement)",
    REVIEWERS,
);
/// The staff `resume` (a supplement brought on paper) and the applicant's
/// own answer (relayed by intake as a platform service) take one path.
pub const RESUME: Rule = step(
    "resume",
    "补正后恢复计时 (resume after a supplement)",
    &[
        grant(Specialist, OwnCenter),
        grant(Supervisor, OwnCenter),
        grant(Service, AllCenters),
    ],
);
pub const EXTEND: Rule = step(
    "extend",
    "延长时限（政策内） (extend within the policy)",
    REVIEWERS,
);
pub const EXTEND_BEYOND_LIMIT: Rule = step(
    "extend_beyond_limit",
    "超出政策时限的延期，须主管批准 (extend beyond the policy limit)",
    SUPERVISORS,
);
pub const START_JOINT_REVIEW: Rule = step(
    "start_joint_review",
    "发起联合审核 (start a joint review)",
    SUPERVISORS,
);
pub const SIGN_OFF: Rule = step("sign_off", "部门会签 (a department signs off)", REVIEWERS);
pub const APPROVE: Rule = step("approve", "批准 (approve)", SUPERVISORS);
/// A specialist may reject at 初审; later only a supervisor decides.
pub const REJECT_AT_PRELIMINARY_REVIEW: Rule = step(
    "reject_at_preliminary_review",
    "初审不予受理 (reject at preliminary review)",
    REVIEWERS,
);
pub const REJECT: Rule = step(
    "reject",
    "审核后不予批准 (reject after assessment)",
    SUPERVISORS,
);
pub const PLAN: Rule = step("plan", "制定服务计划 (plan the service)", SUPERVISORS);
pub const COMPLETE_TASK: Rule = step("complete_task", "完成服务任务 (complete a task)", REVIEWERS);
pub const RECORD_FEEDBACK: Rule = step(
    "record_feedback",
    "记录服务对象反馈 (record the resident's feedback)",
    REVIEWERS,
);
pub const CHECK_ACCEPTANCE: Rule = step("check_acceptance", "验收 (acceptance check)", SUPERVISORS);
pub const CLOSE: Rule = step("close", "结案 (close)", SUPERVISORS);
pub const ASSIGN: Rule = step("assign", "指派经办人 (assign)", SUPERVISORS);
/// A platform service relaying what the applicant did (intake's events);
/// no staff member answers for the applicant through review.
pub const WITHDRAW: Rule = step(
    "withdraw",
    "申请人撤回（由受理服务转达） (withdrawal, relayed by intake)",
    &[grant(Service, AllCenters)],
);

/// Review's whole table, handed to the server bootstrap.
pub const POLICY: Policy = Policy {
    service: "bianmin.review.v1.ReviewService",
    rules: &[
        &READ_REVIEW_CASE,
        &ACT_ON_REVIEW_CASE,
        &READ_REVIEW_MEASURES,
        &ACCEPT,
        &REQUEST_SUPPLEMENT,
        &RESUME,
        &EXTEND,
        &EXTEND_BEYOND_LIMIT,
        &START_JOINT_REVIEW,
        &SIGN_OFF,
        &APPROVE,
        &REJECT_AT_PRELIMINARY_REVIEW,
        &REJECT,
        &PLAN,
        &COMPLETE_TASK,
        &RECORD_FEEDBACK,
        &CHECK_ACCEPTANCE,
        &CLOSE,
        &ASSIGN,
        &WITHDRAW,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_common::auth::policy::{Decision, Listing, Target, decide, listing};
    use bianmin_common::testkit::staff;

    fn at(center: &str) -> Target<'_> {
        Target {
            center_id: center,
            owner: None,
        }
    }

    bianmin_common::policy_readme_tests!(POLICY);

    #[test]
    fn only_the_centers_own_staff_act_on_its_cases() {
        assert_eq!(
            decide(&staff(Supervisor, "C01"), &ACT_ON_REVIEW_CASE, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&staff(Supervisor, "C02"), &ACT_ON_REVIEW_CASE, at("C01")),
            Decision::Hidden
        );
        assert_eq!(
            decide(
                &staff(QualityInspector, "C01"),
                &ACT_ON_REVIEW_CASE,
                at("C01")
            ),
            Decision::Denied
        );
        assert_eq!(
            decide(
                &staff(QualityInspector, "C01"),
                &READ_REVIEW_CASE,
                at("C01")
            ),
            Decision::Allow
        );
    }

    #[test]
    fn supervisors_decide_plan_and_close_specialists_review() {
        for rule in [&APPROVE, &REJECT, &PLAN, &CHECK_ACCEPTANCE, &CLOSE, &ASSIGN] {
            assert!(rule.allows(Supervisor), "{}", rule.name);
            assert!(!rule.allows(Specialist), "{}", rule.name);
        }
        for rule in [&ACCEPT, &REQUEST_SUPPLEMENT, &SIGN_OFF, &COMPLETE_TASK] {
            assert!(rule.allows(Specialist), "{}", rule.name);
        }
        assert!(REJECT_AT_PRELIMINARY_REVIEW.allows(Specialist));
        // Only the relay of the applicant's own act withdraws.
        assert_eq!(WITHDRAW.roles().collect::<Vec<_>>(), vec![Service]);
        assert!(RESUME.allows(Service) && !ACCEPT.allows(Service));
    }

    #[test]
    fn queues_cover_the_own_center_or_what_an_admin_asks() {
        assert_eq!(
            listing(&staff(Specialist, "C01"), &READ_REVIEW_CASE, "C02"),
            Listing::Centers(Some("C01".into()))
        );
        assert_eq!(
            listing(&staff(TechSupport, "C01"), &READ_REVIEW_CASE, ""),
            Listing::Denied
        );
    }
}
