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
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadCatalog => "read_catalog",
            Action::SubmitApplication => "submit_application",
            Action::ReadApplication => "read_application",
            Action::ReadReviewCase => "read_review_case",
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
pub const COLUMNS: [(Action, Outside); 3] = [
    (Action::SubmitApplication, Outside::Denied),
    (Action::ReadApplication, Outside::Hidden),
    (Action::ReadReviewCase, Outside::Hidden),
];

/// Actions anyone may perform, without a token.
pub const PUBLIC: &[Action] = &[Action::ReadCatalog];

/// THE permission table: one row per role, one column per [`COLUMNS`]
/// action. A role not listed may do none of them.
#[rustfmt::skip]
pub const TABLE: &[(Role, [Option<Scope>; 3])] = &[
    //                   submit  read application  read review case
    (Supervisor,        [OWN,    OWN,              OWN]),
    (Specialist,        [OWN,    OWN,              OWN]),
    (QualityInspector,  [NO,     OWN,              OWN]),
    (TechSupport,       [NO,     NO,               NO]),
    (EmergencyResponder,[NO,     NO,               NO]),
    (DistrictAdmin,     [ALL,    ALL,              ALL]),
    (Resident,          [MINE,   MINE,             NO]),
    // A partner agency works for the residents of the centers its agreement
    // names: it refers applications there and follows up on any of them
    // (a resident may have applied at the counter and asked the agency to
    // follow up), so its scope is its granted centers, not only what it
    // submitted. Which centers is data too: the partner registry, signed
    // into the partner's token by the edge. Review cases stay closed: the
    // edge answers only the masked status fields it needs.
    (Partner,           [GRANTED, GRANTED,         NO]),
    (Service,           [NO,     ALL,              ALL]),
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
        "/bianmin.intake.v1.IntakeService/PartnerGetApplication",
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
        GrantedCenters => principal.centers.iter().any(|c| c == target.center_id),
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
