//! Who may do what: the permission table, as data, in one place.
//!
//! Each service maps its RPCs to an [`Action`] ([`METHODS`]) and asks
//! [`decide`] before it acts. The README's permission table is this one.
//!
//! A grant has a scope: every center, the caller's own center, or only the
//! records the caller submitted. A record outside the scope is *hidden* for
//! reads (NOT_FOUND, so existence does not leak) and *denied* for creation
//! (PERMISSION_DENIED: the centers are public anyway).

use super::{Principal, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Centers and the service catalog (办事指南): public.
    ReadCatalog,
    SubmitApplication,
    ReadApplication,
    /// A review case, and the queue of them.
    ReadReviewCase,
    /// Any step of a case's lifecycle. Which role takes which step (a
    /// specialist reviews, a supervisor decides and extends) is the
    /// lifecycle's rule (review's `domain::lifecycle`); this column says who
    /// may act on a center's cases at all.
    ActOnReviewCase,
    /// On-time rates and overdue counts (the supervision figures).
    ReadReviewMeasures,
    /// The applicant's ID and phone number in full (access-logged).
    ViewApplicantInFull,
    /// A resident's applications found by ID number.
    FindApplicantHistory,
    /// Answering a supplement request (补正) for the applicant.
    SupplementApplication,
    /// Withdrawing an application for the applicant.
    WithdrawApplication,
    /// Progress by application number and phone digits: public.
    ReadPublicProgress,
    /// Create, change and retire service types; read their history.
    ManageCatalog,
    /// Add a file to an application's materials.
    UploadMaterial,
    /// A material's content: the documents themselves (ID card copies,
    /// proofs), so a partner's grant to follow a center's applications
    /// does not reach them, only what it submitted.
    DownloadMaterial,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadCatalog => "read_catalog",
            Action::SubmitApplication => "submit_application",
            Action::ReadApplication => "read_application",
            Action::ReadReviewCase => "read_review_case",
            Action::ActOnReviewCase => "act_on_review_case",
            Action::ReadReviewMeasures => "read_review_measures",
            Action::ViewApplicantInFull => "view_applicant_in_full",
            Action::FindApplicantHistory => "find_applicant_history",
            Action::SupplementApplication => "supplement_application",
            Action::WithdrawApplication => "withdraw_application",
            Action::ReadPublicProgress => "read_public_progress",
            Action::ManageCatalog => "manage_catalog",
            Action::UploadMaterial => "upload_material",
            Action::DownloadMaterial => "download_material",
        }
    }
}

/// How far a grant reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    AllCenters,
    OwnCenter,
    /// Records whose submitter is the caller.
    OwnRecords,
    /// The centers named in the caller's grant ([`Principal::centers`]).
    GrantedCenters,
}

/// What an out-of-scope record answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside {
    Hidden,
    Denied,
}

use Role::*;
use Scope::*;

const ALL: Option<Scope> = Some(AllCenters);
const OWN: Option<Scope> = Some(OwnCenter);
const MINE: Option<Scope> = Some(OwnRecords);
const GRANTED: Option<Scope> = Some(GrantedCenters);
const NO: Option<Scope> = None;

/// The actions that need a token: the columns of [`TABLE`], with what a
/// record outside the caller's scope answers.
pub const COLUMNS: [(Action, Outside); 8] = [
    (Action::SubmitApplication, Outside::Denied),
    (Action::ReadApplication, Outside::Hidden),
    (Action::ReadReviewCase, Outside::Hidden),
    (Action::ActOnReviewCase, Outside::Hidden),
    (Action::ReadReviewMeasures, Outside::Hidden),
    // The catalog is district-wide: only a scope of every center reaches it.
    (Action::ManageCatalog, Outside::Denied),
    // Uploading to another center's application answers as if it did not
    // exist, like reading it.
    (Action::UploadMaterial, Outside::Hidden),
    (Action::DownloadMaterial, Outside::Hidden),
];

/// Actions anyone may perform, without a token.
pub const PUBLIC: &[Action] = &[Action::ReadCatalog, Action::ReadPublicProgress];

/// THE permission table: one row per role, one column per [`COLUMNS`]
/// action. A role not listed may do none of them.
#[rustfmt::skip]
pub const TABLE: &[(Role, [Option<Scope>; 8])] = &[
    //                   submit   read application  read review case  act on case  measures  manage catalog  upload material  download material
    (Supervisor,        [OWN,     OWN,              OWN,              OWN,         OWN,      NO,             OWN,             OWN]),
    (Specialist,        [OWN,     OWN,              OWN,              OWN,         OWN,      NO,             OWN,             OWN]),
    (QualityInspector,  [NO,      OWN,              OWN,              NO,          OWN,      NO,             NO,              OWN]),
    (TechSupport,       [NO,      NO,               NO,               NO,          NO,       NO,             NO,              NO]),
    (EmergencyResponder,[NO,      NO,               NO,               NO,          NO,       NO,             NO,              NO]),
    // District administrators oversee every center and keep the catalog;
    // the steps of a case belong to the center's own staff.
    (DistrictAdmin,     [ALL,     ALL,              ALL,              NO,          ALL,      ALL,            ALL,             ALL]),
    (Resident,          [MINE,    MINE,             NO,               NO,          NO,       NO,             MINE,            MINE]),
    // A partner agency works for the residents of the centers its agreement
    // names: it refers applications there and follows up on any of them
    // (a resident may have applied at the counter and asked the agency to
    // follow up), so its scope is its granted centers, not only what it
    // submitted. Which centers is data too: the partner registry, signed
    // into the partner's token by the edge. Review cases stay closed: the
    // edge answers only the masked status fields it needs.
    (Partner,           [GRANTED, GRANTED,          NO,               NO,          NO,       NO,             MINE,            MINE]),
    (Service,           [NO,      ALL,              ALL,              NO,          ALL,      NO,             NO,              ALL]),
];

/// The applicant's personal data and the applicant's own answers: a
/// second table beside [`TABLE`], read the same way, so each stays narrow.
pub const APPLICANT_COLUMNS: [(Action, Outside); 4] = [
    (Action::ViewApplicantInFull, Outside::Hidden),
    (Action::FindApplicantHistory, Outside::Denied),
    (Action::SupplementApplication, Outside::Hidden),
    (Action::WithdrawApplication, Outside::Hidden),
];

/// Full views: a supervisor of the center (who approves and must verify
/// identity against documents, and answers for the center's data) and the
/// district admin; specialists work from the masked view and the look-up.
/// Look-ups by ID number: the center's reviewing staff (has this resident
/// applied before?), the admin district-wide. Supplements and withdrawal:
/// the applicant (resident or partner agency that submitted) and the
/// center's reviewing staff on their behalf (paper brought to the window).
#[rustfmt::skip]
pub const APPLICANT_TABLE: &[(Role, [Option<Scope>; 4])] = &[
    //                   full view  look-up  supplement  withdraw
    (Supervisor,        [OWN,       OWN,     OWN,        OWN]),
    (Specialist,        [NO,        OWN,     OWN,        OWN]),
    (QualityInspector,  [NO,        NO,      NO,         NO]),
    (TechSupport,       [NO,        NO,      NO,         NO]),
    (EmergencyResponder,[NO,        NO,      NO,         NO]),
    (DistrictAdmin,     [ALL,       ALL,     ALL,        ALL]),
    (Resident,          [NO,        NO,      MINE,       MINE]),
    (Partner,           [NO,        NO,      MINE,       MINE]),
    (Service,           [NO,        NO,      NO,         NO]),
];

/// gRPC methods and the action each performs. The server layer uses it to
/// know which methods are open (public actions). A method not listed still
/// needs a valid token, and its handler must apply the table itself (via
/// `audit::enforce`); list every new RPC here.
pub const METHODS: &[(&str, Action)] = &[
    (
        "/bianmin.intake.v1.IntakeService/SubmitApplication",
        Action::SubmitApplication,
    ),
    (
        "/bianmin.intake.v1.IntakeService/GetApplication",
        Action::ReadApplication,
    ),
    (
        "/bianmin.intake.v1.IntakeService/ListCenters",
        Action::ReadCatalog,
    ),
    (
        "/bianmin.intake.v1.IntakeService/ListServiceTypes",
        Action::ReadCatalog,
    ),
    (
        "/bianmin.review.v1.ReviewService/GetReviewCase",
        Action::ReadReviewCase,
    ),
    (
        "/bianmin.review.v1.ReviewService/ListReviewCases",
        Action::ReadReviewCase,
    ),
    (
        "/bianmin.review.v1.ReviewService/ActOnReviewCase",
        Action::ActOnReviewCase,
    ),
    (
        "/bianmin.review.v1.ReviewService/GetReviewMeasures",
        Action::ReadReviewMeasures,
    ),
    (
        "/bianmin.intake.v1.IntakeService/PartnerGetApplication",
        Action::ReadApplication,
    ),
    (
        "/bianmin.intake.v1.IntakeService/PiiGetApplicant",
        Action::ViewApplicantInFull,
    ),
    (
        "/bianmin.intake.v1.IntakeService/PiiFindApplications",
        Action::FindApplicantHistory,
    ),
    (
        "/bianmin.intake.v1.IntakeService/SupplementApplication",
        Action::SupplementApplication,
    ),
    (
        "/bianmin.intake.v1.IntakeService/WithdrawApplication",
        Action::WithdrawApplication,
    ),
    (
        "/bianmin.intake.v1.IntakeService/PublicGetProgress",
        Action::ReadPublicProgress,
    ),
    (
        "/bianmin.intake.v1.IntakeService/CatalogCreateServiceType",
        Action::ManageCatalog,
    ),
    (
        "/bianmin.intake.v1.IntakeService/CatalogUpdateServiceType",
        Action::ManageCatalog,
    ),
    (
        "/bianmin.intake.v1.IntakeService/CatalogRetireServiceType",
        Action::ManageCatalog,
    ),
    (
        "/bianmin.intake.v1.IntakeService/CatalogListServiceTypeHistory",
        Action::ManageCatalog,
    ),
    (
        "/bianmin.intake.v1.IntakeService/MaterialsUpload",
        Action::UploadMaterial,
    ),
    (
        "/bianmin.intake.v1.IntakeService/MaterialsDownload",
        Action::DownloadMaterial,
    ),
];

/// Infrastructure every caller (probes, `grpcurl`) may use without a token.
const OPEN_PREFIXES: &[&str] = &["/grpc.health.v1.Health/", "/grpc.reflection."];

pub fn is_public(action: Action) -> bool {
    PUBLIC.contains(&action)
}

pub fn action_of_method(path: &str) -> Option<Action> {
    METHODS.iter().find(|(m, _)| *m == path).map(|(_, a)| *a)
}

/// Whether a gRPC path may be called without credentials.
pub fn is_open_method(path: &str) -> bool {
    OPEN_PREFIXES.iter().any(|p| path.starts_with(p))
        || action_of_method(path).is_some_and(is_public)
}

fn column(action: Action) -> Option<(usize, Outside)> {
    let find = |columns: &[(Action, Outside)]| {
        columns
            .iter()
            .position(|(a, _)| *a == action)
            .map(|i| (i, columns[i].1))
    };
    find(&COLUMNS).or_else(|| find(&APPLICANT_COLUMNS))
}

/// The scope `role` holds for `action`, if any.
pub fn grant(role: Role, action: Action) -> Option<Scope> {
    fn row<const N: usize>(
        table: &[(Role, [Option<Scope>; N])],
        role: Role,
        i: usize,
    ) -> Option<Scope> {
        table
            .iter()
            .find(|(r, _)| *r == role)
            .and_then(|(_, row)| row[i])
    }
    let (i, _) = column(action)?;
    if COLUMNS.iter().any(|(a, _)| *a == action) {
        row(TABLE, role, i)
    } else {
        row(APPLICANT_TABLE, role, i)
    }
}

/// The record an action touches.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub center_id: &'a str,
    /// Subject that submitted it (for [`Scope::OwnRecords`]); for a record
    /// being created, the caller.
    pub owner: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Answer NOT_FOUND / 404.
    Hidden,
    /// Answer PERMISSION_DENIED / 403.
    Denied,
}

/// The rule applied to one caller, action and record. Pure.
pub fn decide(principal: &Principal, action: Action, target: Target<'_>) -> Decision {
    if is_public(action) {
        return Decision::Allow;
    }
    let (Some(scope), Some((_, outside))) = (grant(principal.role, action), column(action)) else {
        return Decision::Denied;
    };
    let inside = match scope {
        AllCenters => true,
        OwnCenter => principal.center_id.as_deref() == Some(target.center_id),
        OwnRecords => target.owner == Some(principal.subject.as_str()),
        GrantedCenters => principal.centers.iter().any(|c| c == target.center_id),
    };
    match (inside, outside) {
        (true, _) => Decision::Allow,
        (false, Outside::Hidden) => Decision::Hidden,
        (false, Outside::Denied) => Decision::Denied,
    }
}

/// Which centers a listing (a queue, a report) covers for this caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing {
    /// Every center, or the one the caller asked for.
    Centers(Option<String>),
    /// Nothing: the caller's role holds no grant for the action.
    Denied,
}

/// The centers a listing may cover: a district-wide grant covers the center
/// asked for (all when none is asked); a center grant covers the caller's
/// own center whatever was asked (a staff member without a center sees
/// nothing rather than everything). Pure.
pub fn listing(principal: &Principal, action: Action, asked: &str) -> Listing {
    let asked = asked.trim();
    match grant(principal.role, action) {
        Some(AllCenters) => Listing::Centers((!asked.is_empty()).then(|| asked.to_string())),
        Some(OwnCenter) => Listing::Centers(Some(principal.center_id.clone().unwrap_or_default())),
        // Listings cover one center or every center; scopes by record owner
        // or by granted centers have none.
        Some(OwnRecords) | Some(GrantedCenters) | None => Listing::Denied,
    }
}

/// The decision as a gRPC answer. `not_found` is exactly what the service
/// answers for a record that does not exist, so a hidden one is
/// indistinguishable from it, message included.
pub fn status(
    decision: Decision,
    not_found: impl FnOnce() -> tonic::Status,
) -> Result<(), tonic::Status> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Hidden => Err(not_found()),
        Decision::Denied => Err(denied()),
    }
}

/// PERMISSION_DENIED, worded the same wherever the table refuses.
pub fn denied() -> tonic::Status {
    tonic::Status::permission_denied("无权执行此操作 (not permitted for your role or center)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role, center: &str) -> Principal {
        Principal {
            subject: format!("{}-{}", center.to_lowercase(), role.as_str()),
            role,
            center_id: Some(center.into()),
            centers: Vec::new(),
        }
    }

    fn at(center: &str) -> Target<'_> {
        Target {
            center_id: center,
            owner: Some("someone"),
        }
    }

    #[test]
    fn every_action_and_method_has_a_rule() {
        for (_, action) in METHODS {
            assert!(
                is_public(*action) || column(*action).is_some(),
                "{action:?} is in no column"
            );
        }
        assert!(is_open_method("/grpc.health.v1.Health/Check"));
        assert!(is_open_method(
            "/bianmin.intake.v1.IntakeService/ListCenters"
        ));
        assert!(!is_open_method(
            "/bianmin.intake.v1.IntakeService/GetApplication"
        ));
        assert!(!is_open_method(
            "/bianmin.intake.v1.IntakeService/SomethingNew"
        ));
    }

    #[test]
    fn staff_read_their_center_and_another_center_is_hidden() {
        let s = staff(Specialist, "C01");
        assert_eq!(
            decide(&s, Action::ReadApplication, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::ReadApplication, at("C02")),
            Decision::Hidden
        );
        assert_eq!(
            decide(&s, Action::ReadReviewCase, at("C02")),
            Decision::Hidden
        );
    }

    #[test]
    fn staff_submit_only_for_their_center() {
        let s = staff(Supervisor, "C01");
        assert_eq!(
            decide(&s, Action::SubmitApplication, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::SubmitApplication, at("C02")),
            Decision::Denied
        );
        assert_eq!(
            decide(
                &staff(TechSupport, "C01"),
                Action::SubmitApplication,
                at("C01")
            ),
            Decision::Denied
        );
    }

    #[test]
    fn only_district_admins_manage_the_catalog() {
        let admin = Principal {
            subject: "admin".into(),
            role: DistrictAdmin,
            center_id: None,
            centers: Vec::new(),
        };
        let district = Target {
            center_id: "",
            owner: None,
        };
        assert_eq!(
            decide(&admin, Action::ManageCatalog, district),
            Decision::Allow
        );
        for role in [Supervisor, Specialist, QualityInspector, TechSupport] {
            assert_eq!(
                decide(&staff(role, "C01"), Action::ManageCatalog, district),
                Decision::Denied
            );
        }
    }

    #[test]
    fn uploads_to_another_center_are_hidden() {
        let s = staff(Specialist, "C01");
        assert_eq!(
            decide(&s, Action::UploadMaterial, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&s, Action::UploadMaterial, at("C02")),
            Decision::Hidden
        );
        assert_eq!(
            decide(
                &staff(QualityInspector, "C01"),
                Action::UploadMaterial,
                at("C01")
            ),
            Decision::Denied
        );
    }

    #[test]
    fn full_views_for_supervisors_of_the_center_and_admins_only() {
        let own = at("C01");
        assert_eq!(
            decide(&staff(Supervisor, "C01"), Action::ViewApplicantInFull, own),
            Decision::Allow
        );
        assert_eq!(
            decide(&staff(Supervisor, "C02"), Action::ViewApplicantInFull, own),
            Decision::Hidden
        );
        assert_eq!(
            decide(&staff(Specialist, "C01"), Action::ViewApplicantInFull, own),
            Decision::Denied
        );
        assert_eq!(
            decide(&staff(Specialist, "C01"), Action::FindApplicantHistory, own),
            Decision::Allow
        );
        let resident = Principal {
            subject: "someone".into(),
            role: Resident,
            center_id: None,
            centers: Vec::new(),
        };
        assert_eq!(
            decide(&resident, Action::SupplementApplication, own),
            Decision::Allow
        );
        assert_eq!(
            decide(&resident, Action::ViewApplicantInFull, own),
            Decision::Denied
        );
        assert!(is_open_method(
            "/bianmin.intake.v1.IntakeService/PublicGetProgress"
        ));
    }

    #[test]
    fn listings_cover_the_own_center_or_what_an_admin_asks() {
        let s = staff(Specialist, "C01");
        assert_eq!(
            listing(&s, Action::ReadReviewCase, "C02"),
            Listing::Centers(Some("C01".into()))
        );
        let admin = Principal {
            subject: "admin".into(),
            role: DistrictAdmin,
            center_id: None,
            centers: Vec::new(),
        };
        assert_eq!(
            listing(&admin, Action::ReadReviewMeasures, ""),
            Listing::Centers(None)
        );
        assert_eq!(
            listing(&admin, Action::ReadReviewCase, " C02 "),
            Listing::Centers(Some("C02".into()))
        );
        assert_eq!(
            listing(&staff(TechSupport, "C01"), Action::ReadReviewCase, ""),
            Listing::Denied
        );
    }

    #[test]
    fn only_center_staff_act_on_cases() {
        let at_c01 = Target {
            center_id: "C01",
            owner: None,
        };
        assert_eq!(
            decide(&staff(Supervisor, "C01"), Action::ActOnReviewCase, at_c01),
            Decision::Allow
        );
        assert_eq!(
            decide(&staff(Supervisor, "C02"), Action::ActOnReviewCase, at_c01),
            Decision::Hidden
        );
        assert_eq!(
            decide(
                &staff(QualityInspector, "C01"),
                Action::ActOnReviewCase,
                at_c01
            ),
            Decision::Denied
        );
    }

    #[test]
    fn admins_see_everything_partners_their_granted_centers() {
        let admin = Principal {
            subject: "admin".into(),
            role: DistrictAdmin,
            center_id: None,
            centers: Vec::new(),
        };
        assert_eq!(
            decide(&admin, Action::ReadApplication, at("C09")),
            Decision::Allow
        );
        let partner = Principal {
            subject: "partner:civil-affairs".into(),
            role: Partner,
            center_id: None,
            centers: vec!["C01".into()],
        };
        // Any record of a granted center, whoever submitted it.
        assert_eq!(
            decide(&partner, Action::ReadApplication, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&partner, Action::ReadApplication, at("C02")),
            Decision::Hidden
        );
        assert_eq!(
            decide(&partner, Action::SubmitApplication, at("C01")),
            Decision::Allow
        );
        assert_eq!(
            decide(&partner, Action::SubmitApplication, at("C02")),
            Decision::Denied
        );
        assert_eq!(
            decide(&partner, Action::ReadReviewCase, at("C01")),
            Decision::Denied
        );
        // No grant, no centers: a partner token without one touches nothing.
        let bare = Principal {
            centers: Vec::new(),
            ..partner
        };
        assert_eq!(
            decide(&bare, Action::SubmitApplication, at("C01")),
            Decision::Denied
        );
    }
}
