//! Who may do what with complaints: one row per action, each with the gRPC
//! method that performs it. The table says which roles of which centers may
//! take a step at all; the lifecycle (`domain::complaint`) then says which
//! staff member may (the owner, an investigator). The engine is
//! `bianmin_common::auth::policy`; the README's table ("Who may do what")
//! is generated from this one and tested against it.

use bianmin_common::auth::Role::*;
use bianmin_common::auth::policy::Scope::*;
use bianmin_common::auth::policy::{Access, Grant, Outside, Policy, Rule, grant};

/// Method paths of the complaint service.
macro_rules! complaint_methods {
    ($($m:literal),* $(,)?) => {
        &[$(concat!("/bianmin.complaint.v1.ComplaintService/", $m)),*]
    };
}

/// A resident files their own; the center's staff record one on a
/// resident's behalf (and own it). Another center is refused, not hidden.
pub const FILE_COMPLAINT: Rule = Rule {
    name: "file_complaint",
    summary: "提交或代录投诉 (file, or record on a resident's behalf)",
    methods: complaint_methods!["FileComplaint"],
    access: Access::Granted(Outside::Denied),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(Resident, OwnRecords),
    ],
};

/// A complaint, masked, and the list of them.
pub const READ_COMPLAINT: Rule = Rule {
    name: "read_complaint",
    summary: "查看投诉（脱敏）与列表 (a complaint, masked; the list)",
    methods: complaint_methods!["GetComplaint", "ListComplaints"],
    access: Access::Granted(Outside::Hidden),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(QualityInspector, OwnCenter),
        grant(DistrictAdmin, AllCenters),
        grant(Resident, OwnRecords),
    ],
};

/// The center's staff who handle complaints.
const HANDLERS: &[Grant] = &[grant(Supervisor, OwnCenter), grant(Specialist, OwnCenter)];

const fn step(
    name: &'static str,
    summary: &'static str,
    methods: &'static [&'static str],
    grants: &'static [Grant],
) -> Rule {
    Rule {
        name,
        summary,
        methods,
        access: Access::Granted(Outside::Hidden),
        grants,
    }
}

pub const TAKE_COMPLAINT: Rule = step(
    "take_complaint",
    "首问接单 (take a resident's filing; the first to take it owns it)",
    complaint_methods!["TakeComplaint"],
    HANDLERS,
);
pub const HAND_OVER_COMPLAINT: Rule = step(
    "hand_over_complaint",
    "负责人移交（须说明理由） (the owner hands over, with a reason)",
    complaint_methods!["HandOverComplaint"],
    HANDLERS,
);
pub const CLASSIFY_COMPLAINT: Rule = step(
    "classify_complaint",
    "负责人定性定级 (the owner classifies: nature and severity)",
    complaint_methods!["ClassifyComplaint"],
    HANDLERS,
);
pub const ASSIGN_INVESTIGATORS: Rule = step(
    "assign_investigators",
    "负责人指定至少两名调查人员 (the owner names two or more investigators)",
    complaint_methods!["AssignInvestigators"],
    HANDLERS,
);
/// An investigator may be a quality inspector of the center.
pub const RECORD_FINDING: Rule = step(
    "record_finding",
    "调查人员记录调查结论 (an investigator records the finding)",
    complaint_methods!["RecordFinding"],
    &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(QualityInspector, OwnCenter),
    ],
);
pub const ANSWER_COMPLAINT: Rule = step(
    "answer_complaint",
    "负责人答复建议、咨询、求助、表扬 (the owner answers the types not investigated)",
    complaint_methods!["AnswerComplaint"],
    HANDLERS,
);
pub const CLOSE_COMPLAINT: Rule = step(
    "close_complaint",
    "负责人结案 (the owner closes it)",
    complaint_methods!["CloseComplaint"],
    HANDLERS,
);

/// The whole table, handed to the server bootstrap.
pub const POLICY: Policy = Policy {
    service: "bianmin.complaint.v1.ComplaintService",
    rules: &[
        &FILE_COMPLAINT,
        &READ_COMPLAINT,
        &TAKE_COMPLAINT,
        &HAND_OVER_COMPLAINT,
        &CLASSIFY_COMPLAINT,
        &ASSIGN_INVESTIGATORS,
        &RECORD_FINDING,
        &ANSWER_COMPLAINT,
        &CLOSE_COMPLAINT,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_common::auth::Principal;
    use bianmin_common::auth::policy::{Decision, Listing, Target, decide, listing};
    use bianmin_common::testkit::staff;

    fn at(center: &str) -> Target<'_> {
        Target {
            center_id: center,
            owner: None,
        }
    }

    fn resident() -> Principal {
        Principal {
            subject: "resident-1".into(),
            role: Resident,
            center_id: None,
            centers: Vec::new(),
        }
    }

    bianmin_common::policy_readme_tests!(POLICY);

    #[test]
    fn the_centers_own_staff_handle_its_complaints_others_see_nothing() {
        for rule in [
            &TAKE_COMPLAINT,
            &HAND_OVER_COMPLAINT,
            &CLASSIFY_COMPLAINT,
            &ASSIGN_INVESTIGATORS,
            &RECORD_FINDING,
            &ANSWER_COMPLAINT,
            &CLOSE_COMPLAINT,
        ] {
            assert_eq!(
                decide(&staff(Specialist, "C01"), rule, at("C01")),
                Decision::Allow,
                "{}",
                rule.name
            );
            assert_eq!(
                decide(&staff(Supervisor, "C02"), rule, at("C01")),
                Decision::Hidden,
                "{}",
                rule.name
            );
            assert_eq!(
                decide(&resident(), rule, at("C01")),
                Decision::Denied,
                "{}",
                rule.name
            );
            assert!(!rule.allows(DistrictAdmin), "{}", rule.name);
        }
        // An inspector investigates but does not own.
        assert!(RECORD_FINDING.allows(QualityInspector));
        assert!(!CLOSE_COMPLAINT.allows(QualityInspector));
    }

    #[test]
    fn residents_file_and_read_their_own() {
        let mine = Target {
            center_id: "C01",
            owner: Some("resident-1"),
        };
        let theirs = Target {
            center_id: "C01",
            owner: Some("resident-2"),
        };
        assert_eq!(decide(&resident(), &FILE_COMPLAINT, mine), Decision::Allow);
        assert_eq!(decide(&resident(), &READ_COMPLAINT, mine), Decision::Allow);
        assert_eq!(
            decide(&resident(), &READ_COMPLAINT, theirs),
            Decision::Hidden
        );
        // Another center's staff may not record here.
        assert_eq!(
            decide(&staff(Specialist, "C02"), &FILE_COMPLAINT, at("C01")),
            Decision::Denied
        );
        assert_eq!(
            decide(&staff(DistrictAdmin, "C01"), &READ_COMPLAINT, at("C02")),
            Decision::Allow
        );
    }

    #[test]
    fn lists_cover_the_own_center_or_what_an_admin_asks() {
        assert_eq!(
            listing(&staff(Specialist, "C01"), &READ_COMPLAINT, "C02"),
            Listing::Centers(Some("C01".into()))
        );
        assert_eq!(
            listing(&staff(DistrictAdmin, "C01"), &READ_COMPLAINT, ""),
            Listing::Centers(None)
        );
        assert_eq!(
            listing(&staff(TechSupport, "C01"), &READ_COMPLAINT, ""),
            Listing::Denied
        );
    }
}
