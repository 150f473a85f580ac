//! Who is calling: the principal every gRPC call carries, its role and
//! center scope, and the permission table.
//!
//! Every service checks role and center scope itself, not only the gateway.
//! A record of another center answers NOT_FOUND, never PERMISSION_DENIED,
//! so existence does not leak.
//!
//! The principal travels as a signed token (JWT) in the `authorization`
//! metadata; every service verifies it ([`token`], [`layer`]) against the
//! issuer's published keys, and [`principal`] is the one seam handlers use.
//! What each role may do is data: each service's rules, decided by
//! [`policy`].

pub mod layer;
pub mod policy;
pub mod purpose;
pub mod token;

use serde::{Deserialize, Serialize};

/// Roles (DOMAIN.md "Who uses it") plus district administrators, residents
/// and partner agencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 服务主管: plans, approves, extends, supervises quality.
    Supervisor,
    /// 服务专员: reviews, executes services, talks to residents.
    Specialist,
    /// 技术支撑
    TechSupport,
    /// 质量监督
    QualityInspector,
    /// 应急响应
    EmergencyResponder,
    /// Sees and manages every center of the district.
    DistrictAdmin,
    Resident,
    Partner,
    /// Another service of the platform acting on its own behalf.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Supervisor => "supervisor",
            Role::Specialist => "specialist",
            Role::TechSupport => "tech_support",
            Role::QualityInspector => "quality_inspector",
            Role::EmergencyResponder => "emergency_responder",
            Role::DistrictAdmin => "district_admin",
            Role::Resident => "resident",
            Role::Partner => "partner",
            Role::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// A verified caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable id of the user, partner or service (e.g. `c01-specialist`).
    pub subject: String,
    pub role: Role,
    /// The center a staff member belongs to; `None` for district-wide roles.
    pub center_id: Option<String>,
    /// The centers a partner agency's grant covers (its registry entry,
    /// signed into its token by the partner edge); empty for everyone else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub centers: Vec<String>,
}

impl Principal {
    /// Staff roles belong to one center; the others are district-wide or
    /// personal.
    pub fn is_center_staff(&self) -> bool {
        matches!(
            self.role,
            Role::Supervisor
                | Role::Specialist
                | Role::TechSupport
                | Role::QualityInspector
                | Role::EmergencyResponder
        )
    }

    /// Whether this principal may see records of `center_id`.
    pub fn sees_center(&self, center_id: &str) -> bool {
        match self.role {
            Role::DistrictAdmin | Role::Service => true,
            _ => self.center_id.as_deref() == Some(center_id),
        }
    }
}

/// A verified bearer token, kept beside the principal so a handler can pass
/// the caller's identity on to the services it calls.
#[derive(Clone, Debug)]
pub struct BearerToken(pub String);

/// The caller of a gRPC request, or UNAUTHENTICATED.
///
/// The principal is never read from plain metadata: the server layer
/// ([`layer::AuthLayer`], installed by `grpc::serve`) verifies the
/// `authorization: Bearer <jwt>` metadata against the configured issuer's
/// keys and puts the principal into the request's extensions. A method that
/// is public per the permission table runs without one, and then this
/// answers UNAUTHENTICATED.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(unauthenticated)
}

/// The caller's verified token, to forward to another service.
pub fn bearer<T>(request: &tonic::Request<T>) -> Option<BearerToken> {
    request.extensions().get::<BearerToken>().cloned()
}

/// Puts a token into outgoing request metadata (`authorization: Bearer …`),
/// the way the gateway forwards its caller.
pub fn attach_bearer<T>(request: &mut tonic::Request<T>, token: &str) {
    if let Ok(v) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", v);
    }
}

pub(crate) fn unauthenticated() -> tonic::Status {
    tonic::Status::unauthenticated("未登录或凭证无效 (missing or invalid credentials)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [
            Role::Supervisor,
            Role::Specialist,
            Role::DistrictAdmin,
            Role::QualityInspector,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn staff_see_only_their_center() {
        let staff = Principal {
            subject: "c01-specialist".into(),
            role: Role::Specialist,
            center_id: Some("C01".into()),
            centers: Vec::new(),
        };
        assert!(staff.sees_center("C01"));
        assert!(!staff.sees_center("C02"));
        let admin = Principal {
            subject: "admin".into(),
            role: Role::DistrictAdmin,
            center_id: None,
            centers: Vec::new(),
        };
        assert!(admin.sees_center("C02"));
    }

    #[test]
    fn plain_metadata_is_not_a_principal() {
        let request = tonic::Request::new(());
        assert_eq!(
            principal(&request).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        // The old unverified headers prove nothing any more.
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("x-bianmin-subject", "admin".parse().unwrap());
        request
            .metadata_mut()
            .insert("x-bianmin-role", "district_admin".parse().unwrap());
        assert_eq!(
            principal(&request).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let p = Principal {
            subject: "c01-supervisor".into(),
            role: Role::Supervisor,
            center_id: Some("C01".into()),
            centers: Vec::new(),
        };
        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(p.clone());
        assert_eq!(principal(&request).unwrap(), p);
    }
}
