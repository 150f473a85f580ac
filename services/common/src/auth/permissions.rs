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
    ReadReviewCase,
    /// Create, change and retire service types; read their history.
    ManageCatalog,
    /// Add a file to an application's materials.
    UploadMaterial,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadCatalog => "read_catalog",
            Action::SubmitApplication => "submit_application",
            Action::ReadApplication => "read_application",
            Action::ReadReviewCase => "read_review_case",
            Action::ManageCatalog => "manage_catalog",
            Action::UploadMaterial => "upload_material",
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
const NO: Option<Scope> = None;

/// The actions that need a token: the columns of [`TABLE`], with what a
/// record outside the caller's scope answers.
pub const COLUMNS: [(Action, Outside); 5] = [
    (Action::SubmitApplication, Outside::Denied),
    (Action::ReadApplication, Outside::Hidden),
    (Action::ReadReviewCase, Outside::Hidden),
    // The catalog is district-wide: only a scope of every center reaches it.
    (Action::ManageCatalog, Outside::Denied),
    // Uploading to another center's application answers as if it did not
    // exist, like reading it.
    (Action::UploadMaterial, Outside::Hidden),
];

/// Actions anyone may perform, without a token.
pub const PUBLIC: &[Action] = &[Action::ReadCatalog];

/// THE permission table: one row per role, one column per [`COLUMNS`]
/// action. A role not listed may do none of them.
#[rustfmt::skip]
pub const TABLE: &[(Role, [Option<Scope>; 5])] = &[
    //                   submit  read application  read review case  manage catalog  upload material
    (Supervisor,        [OWN,    OWN,              OWN,              NO,             OWN]),
    (Specialist,        [OWN,    OWN,              OWN,              NO,             OWN]),
    (QualityInspector,  [NO,     OWN,              OWN,              NO,             NO]),
    (TechSupport,       [NO,     NO,               NO,               NO,             NO]),
    (EmergencyResponder,[NO,     NO,               NO,               NO,             NO]),
    (DistrictAdmin,     [ALL,    ALL,              ALL,              ALL,            ALL]),
    (Resident,          [MINE,   MINE,             NO,               NO,             MINE]),
    (Partner,           [MINE,   MINE,             NO,               NO,             MINE]),
    (Service,           [NO,     ALL,              ALL,              NO,             NO]),
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
    // Downloading a material is reading the application.
    (
        "/bianmin.intake.v1.IntakeService/MaterialsDownload",
        Action::ReadApplication,
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
    COLUMNS
        .iter()
        .position(|(a, _)| *a == action)
        .map(|i| (i, COLUMNS[i].1))
}

/// The scope `role` holds for `action`, if any.
pub fn grant(role: Role, action: Action) -> Option<Scope> {
    let (i, _) = column(action)?;
    TABLE
        .iter()
        .find(|(r, _)| *r == role)
        .and_then(|(_, row)| row[i])
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
    };
    match (inside, outside) {
        (true, _) => Decision::Allow,
        (false, Outside::Hidden) => Decision::Hidden,
        (false, Outside::Denied) => Decision::Denied,
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
        Decision::Denied => Err(tonic::Status::permission_denied(
            "无权执行此操作 (not permitted for your role or center)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role, center: &str) -> Principal {
        Principal {
            subject: format!("{}-{}", center.to_lowercase(), role.as_str()),
            role,
            center_id: Some(center.into()),
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
    fn admins_see_everything_partners_their_own() {
        let admin = Principal {
            subject: "admin".into(),
            role: DistrictAdmin,
            center_id: None,
        };
        assert_eq!(
            decide(&admin, Action::ReadApplication, at("C09")),
            Decision::Allow
        );
        let partner = Principal {
            subject: "partner".into(),
            role: Partner,
            center_id: None,
        };
        assert_eq!(
            decide(&partner, Action::ReadApplication, at("C01")),
            Decision::Hidden
        );
        let own = Target {
            center_id: "C01",
            owner: Some("partner"),
        };
        assert_eq!(
            decide(&partner, Action::ReadApplication, own),
            Decision::Allow
        );
        assert_eq!(
            decide(&partner, Action::ReadReviewCase, own),
            Decision::Denied
        );
    }
}
