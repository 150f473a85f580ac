//! Who is calling: the principal every gRPC call carries, its role and
//! center scope, and the permission table.
//!
//! Every service checks role and center scope itself, not only the gateway.
//! A record of another center answers NOT_FOUND, never PERMISSION_DENIED,
//! so existence does not leak.
//!
//! The principal travels in gRPC metadata (see [`principal`]). How it is
//! proven (a verified token) is the identity layer's concern; this module is
//! the one seam every service uses.

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
}

impl Principal {
    /// Whether this principal may see records of `center_id`.
    pub fn sees_center(&self, center_id: &str) -> bool {
        match self.role {
            Role::DistrictAdmin | Role::Service => true,
            _ => self.center_id.as_deref() == Some(center_id),
        }
    }
}

/// Metadata keys the principal travels under between services.
pub mod metadata {
    pub const SUBJECT: &str = "x-bianmin-subject";
    pub const ROLE: &str = "x-bianmin-role";
    pub const CENTER: &str = "x-bianmin-center";
}

/// The caller of a gRPC request, or UNAUTHENTICATED.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    let m = request.metadata();
    let get = |k: &str| m.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
    let unauthenticated = || tonic::Status::unauthenticated("未登录或凭证无效 (missing or invalid credentials)");
    let subject = get(metadata::SUBJECT).filter(|s| !s.is_empty()).ok_or_else(unauthenticated)?;
    let role = get(metadata::ROLE).and_then(|r| Role::parse(&r)).ok_or_else(unauthenticated)?;
    Ok(Principal { subject, role, center_id: get(metadata::CENTER).filter(|c| !c.is_empty()) })
}

/// Writes a principal into outgoing request metadata.
pub fn attach<T>(request: &mut tonic::Request<T>, principal: &Principal) {
    let m = request.metadata_mut();
    if let Ok(v) = principal.subject.parse() {
        m.insert(metadata::SUBJECT, v);
    }
    if let Ok(v) = principal.role.as_str().parse() {
        m.insert(metadata::ROLE, v);
    }
    if let Some(c) = principal.center_id.as_deref().and_then(|c| c.parse().ok()) {
        m.insert(metadata::CENTER, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::Supervisor, Role::Specialist, Role::DistrictAdmin, Role::QualityInspector] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn staff_see_only_their_center() {
        let staff = Principal { subject: "c01-specialist".into(), role: Role::Specialist, center_id: Some("C01".into()) };
        assert!(staff.sees_center("C01"));
        assert!(!staff.sees_center("C02"));
        let admin = Principal { subject: "admin".into(), role: Role::DistrictAdmin, center_id: None };
        assert!(admin.sees_center("C02"));
    }

    #[test]
    fn a_request_without_a_principal_is_unauthenticated() {
        let request = tonic::Request::new(());
        assert_eq!(principal(&request).unwrap_err().code(), tonic::Code::Unauthenticated);
        let mut request = tonic::Request::new(());
        let p = Principal { subject: "c01-supervisor".into(), role: Role::Supervisor, center_id: Some("C01".into()) };
        attach(&mut request, &p);
        assert_eq!(principal(&request).unwrap(), p);
    }
}
