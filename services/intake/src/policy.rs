//! Who may do what in intake: one row per action, with the gRPC methods
//! that perform it, what a record outside the caller's scope answers, and
//! the grants by role. The engine (how a decision is made, the audit of
//! refusals) is `bianmin_common::auth::policy`; the README's table
//! ("Who may do what") is generated from this one and tested against it.

use bianmin_common::auth::Role::*;
use bianmin_common::auth::policy::Scope::*;
use bianmin_common::auth::policy::{Access, Outside, Policy, Rule, grant};

/// Method paths of intake's gRPC service.
macro_rules! intake_methods {
    ($($m:literal),* $(,)?) => {
        &[$(concat!("/bianmin.intake.v1.IntakeService/", $m)),*]
    };
}

/// Centers and the service catalog (办事指南).
pub const READ_CATALOG: Rule = Rule {
    name: "read_catalog",
    summary: "服务中心与服务目录 (centers and the catalog)",
    methods: intake_methods!["ListCenters", "ListServiceTypes"],
    access: Access::Public,
    grants: &[],
};

/// Progress by application number and phone digits.
pub const READ_PUBLIC_PROGRESS: Rule = Rule {
    name: "read_public_progress",
    summary: "凭受理编号与手机尾号查进度 (progress by number and phone digits)",
    methods: intake_methods!["PublicGetProgress"],
    access: Access::Public,
    grants: &[],
};

/// Another center's applications are public knowledge as centers, so a
/// submission there is refused, not hidden.
pub const SUBMIT_APPLICATION: Rule = Rule {
    name: "submit_application",
    summary: "提交申请 (submit an application)",
    methods: intake_methods!["SubmitApplication"],
    access: Access::Granted(Outside::Denied),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(DistrictAdmin, AllCenters),
        grant(Resident, OwnRecords),
        // A partner agency refers applications to the centers its
        // agreement names (the partner registry, signed into its token by
        // the edge).
        grant(Partner, GrantedCenters),
    ],
};

/// A partner agency follows up on any application of its granted centers
/// (a resident may have applied at the counter and asked the agency to
/// follow up), not only what it submitted.
pub const READ_APPLICATION: Rule = Rule {
    name: "read_application",
    summary: "查看申请（脱敏） (an application, masked)",
    methods: intake_methods!["GetApplication", "PartnerGetApplication"],
    access: Access::Granted(Outside::Hidden),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(QualityInspector, OwnCenter),
        grant(DistrictAdmin, AllCenters),
        grant(Resident, OwnRecords),
        grant(Partner, GrantedCenters),
        grant(Service, AllCenters),
    ],
};

/// The applicant's ID and phone number in full (access-logged): a
/// supervisor of the center (who approves and must verify identity against
/// documents) and the district admin; specialists work from the masked
/// view and the look-up.
pub const VIEW_APPLICANT_IN_FULL: Rule = Rule {
    name: "view_applicant_in_full",
    summary: "查看申请人完整身份证号与手机号（留痕） (ID and phone in full, logged)",
    methods: intake_methods!["PiiGetApplicant"],
    access: Access::Granted(Outside::Hidden),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(DistrictAdmin, AllCenters),
    ],
};

/// Has this resident applied before? The center's reviewing staff, the
/// admin district-wide.
pub const FIND_APPLICANT_HISTORY: Rule = Rule {
    name: "find_applicant_history",
    summary: "按身份证号查历史申请 (applications by ID number)",
    methods: intake_methods!["PiiFindApplications"],
    access: Access::Granted(Outside::Denied),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(DistrictAdmin, AllCenters),
    ],
};

/// The applicant (resident or partner agency that submitted) and the
/// center's reviewing staff on their behalf (paper brought to the window).
const APPLICANT_AND_STAFF: &[bianmin_common::auth::policy::Grant] = &[
    grant(Supervisor, OwnCenter),
    grant(Specialist, OwnCenter),
    grant(DistrictAdmin, AllCenters),
    grant(Resident, OwnRecords),
    grant(Partner, OwnRecords),
];

/// Answering a supplement request (补正).
pub const SUPPLEMENT_APPLICATION: Rule = Rule {
    name: "supplement_application",
    summary: "补正材料 (answer a supplement request)",
    methods: intake_methods!["SupplementApplication"],
    access: Access::Granted(Outside::Hidden),
    grants: APPLICANT_AND_STAFF,
};

pub const WITHDRAW_APPLICATION: Rule = Rule {
    name: "withdraw_application",
    summary: "撤回申请 (withdraw an application)",
    methods: intake_methods!["WithdrawApplication"],
    access: Access::Granted(Outside::Hidden),
    grants: APPLICANT_AND_STAFF,
};

/// The catalog is district-wide: only a scope of every center reaches it.
pub const MANAGE_CATALOG: Rule = Rule {
    name: "manage_catalog",
    summary: "维护服务目录并查看变更历史 (create, change, retire service types; history)",
    methods: intake_methods![
        "CatalogCreateServiceType",
        "CatalogUpdateServiceType",
        "CatalogRetireServiceType",
        "CatalogListServiceTypeHistory",
    ],
    access: Access::Granted(Outside::Denied),
    grants: &[grant(DistrictAdmin, AllCenters)],
};

/// Uploading to another center's application answers as if it did not
/// exist, like reading it. A quality inspector reads but does not upload.
pub const UPLOAD_MATERIAL: Rule = Rule {
    name: "upload_material",
    summary: "上传申请材料 (add a file to an application)",
    methods: intake_methods!["MaterialsUpload"],
    access: Access::Granted(Outside::Hidden),
    grants: APPLICANT_AND_STAFF,
};

/// The documents themselves (ID card copies, proofs): a partner's grant to
/// follow a center's applications does not reach them, only what it
/// submitted.
pub const DOWNLOAD_MATERIAL: Rule = Rule {
    name: "download_material",
    summary: "下载申请材料 (a material's content)",
    methods: intake_methods!["MaterialsDownload"],
    access: Access::Granted(Outside::Hidden),
    grants: &[
        grant(Supervisor, OwnCenter),
        grant(Specialist, OwnCenter),
        grant(QualityInspector, OwnCenter),
        grant(DistrictAdmin, AllCenters),
        grant(Resident, OwnRecords),
        grant(Partner, OwnRecords),
        grant(Service, AllCenters),
    ],
};

/// Intake's whole table, handed to the server bootstrap.
pub const POLICY: Policy = Policy {
    service: "bianmin.intake.v1.IntakeService",
    rules: &[
        &READ_CATALOG,
        &READ_PUBLIC_PROGRESS,
        &SUBMIT_APPLICATION,
        &READ_APPLICATION,
        &VIEW_APPLICANT_IN_FULL,
        &FIND_APPLICANT_HISTORY,
        &SUPPLEMENT_APPLICATION,
        &WITHDRAW_APPLICATION,
        &MANAGE_CATALOG,
        &UPLOAD_MATERIAL,
        &DOWNLOAD_MATERIAL,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_common::auth::policy::{Decision, Target, decide};
    use bianmin_common::auth::{Principal, Role};
    use bianmin_common::testkit::staff;

    fn district(role: Role, centers: &[&str]) -> Principal {
        Principal {
            subject: "someone".into(),
            role,
            center_id: None,
            centers: centers.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn at(center: &str) -> Target<'_> {
        Target {
            center_id: center,
            owner: Some("someone-else"),
        }
    }

    bianmin_common::policy_readme_tests!(POLICY);

    #[test]
    fn staff_read_and_submit_for_their_own_center_only() {
        let s = staff(Specialist, "C01");
        assert_eq!(decide(&s, &READ_APPLICATION, at("C01")), Decision::Allow);
        assert_eq!(decide(&s, &READ_APPLICATION, at("C02")), Decision::Hidden);
        assert_eq!(decide(&s, &SUBMIT_APPLICATION, at("C01")), Decision::Allow);
        assert_eq!(decide(&s, &SUBMIT_APPLICATION, at("C02")), Decision::Denied);
        assert_eq!(
            decide(&staff(TechSupport, "C01"), &SUBMIT_APPLICATION, at("C01")),
            Decision::Denied
        );
    }

    #[test]
    fn only_district_admins_manage_the_catalog() {
        let whole = Target {
            center_id: "",
            owner: None,
        };
        assert_eq!(
            decide(&district(DistrictAdmin, &[]), &MANAGE_CATALOG, whole),
            Decision::Allow
        );
        for role in [Supervisor, Specialist, QualityInspector, TechSupport] {
            assert_eq!(
                decide(&staff(role, "C01"), &MANAGE_CATALOG, whole),
                Decision::Denied
            );
        }
    }

    #[test]
    fn uploads_to_another_center_are_hidden_and_inspectors_only_read() {
        let s = staff(Specialist, "C01");
        assert_eq!(decide(&s, &UPLOAD_MATERIAL, at("C01")), Decision::Allow);
        assert_eq!(decide(&s, &UPLOAD_MATERIAL, at("C02")), Decision::Hidden);
        let inspector = staff(QualityInspector, "C01");
        assert_eq!(
            decide(&inspector, &UPLOAD_MATERIAL, at("C01")),
            Decision::Denied
        );
        assert_eq!(
            decide(&inspector, &DOWNLOAD_MATERIAL, at("C01")),
            Decision::Allow
        );
    }

    #[test]
    fn full_views_for_supervisors_of_the_center_and_admins_only() {
        let own = at("C01");
        assert_eq!(
            decide(&staff(Supervisor, "C01"), &VIEW_APPLICANT_IN_FULL, own),
            Decision::Allow
        );
        assert_eq!(
            decide(&staff(Supervisor, "C02"), &VIEW_APPLICANT_IN_FULL, own),
            Decision::Hidden
        );
        assert_eq!(
            decide(&staff(Specialist, "C01"), &VIEW_APPLICANT_IN_FULL, own),
            Decision::Denied
        );
        assert_eq!(
            decide(&staff(Specialist, "C01"), &FIND_APPLICANT_HISTORY, own),
            Decision::Allow
        );
        let resident = district(Resident, &[]);
        let mine = Target {
            center_id: "C01",
            owner: Some("someone"),
        };
        assert_eq!(
            decide(&resident, &SUPPLEMENT_APPLICATION, mine),
            Decision::Allow
        );
        assert_eq!(
            decide(&resident, &SUPPLEMENT_APPLICATION, own),
            Decision::Hidden
        );
        assert_eq!(
            decide(&resident, &VIEW_APPLICANT_IN_FULL, mine),
            Decision::Denied
        );
    }

    #[test]
    fn partners_reach_their_granted_centers_and_only_their_own_files() {
        let partner = district(Partner, &["C01"]);
        assert_eq!(
            decide(&partner, &READ_APPLICATION, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&partner, &READ_APPLICATION, at("C02")),
            Decision::Hidden
        );
        assert_eq!(
            decide(&partner, &SUBMIT_APPLICATION, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&partner, &SUBMIT_APPLICATION, at("C02")),
            Decision::Denied
        );
        assert_eq!(
            decide(&partner, &DOWNLOAD_MATERIAL, at("C01")),
            Decision::Hidden
        );
        // No grant, no centers: a partner token without one touches nothing.
        let bare = district(Partner, &[]);
        assert_eq!(
            decide(&bare, &SUBMIT_APPLICATION, at("C01")),
            Decision::Denied
        );
    }
}
