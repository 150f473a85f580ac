//! Who is calling: the one place the gateway learns the caller.
//!
//! INTERIM, until the identity layer lands: the caller is read from the
//! headers `X-Bianmin-Subject`, `X-Bianmin-Role` and `X-Bianmin-Center`,
//! unverified. The identity layer replaces the body of [`caller`] with token
//! verification; every handler keeps calling it the same way.

use crate::error::HttpError;
use axum::http::{HeaderMap, StatusCode};
use bianmin_common::auth::{Principal, Role};

pub fn caller(headers: &HeaderMap) -> Result<Principal, HttpError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let unauthenticated = || HttpError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthenticated",
        message: "未登录或凭证无效 (missing or invalid credentials)".into(),
        violations: Vec::new(),
    };
    let subject = get("x-bianmin-subject").ok_or_else(unauthenticated)?;
    let role = get("x-bianmin-role").and_then(|r| Role::parse(&r)).ok_or_else(unauthenticated)?;
    Ok(Principal { subject, role, center_id: get("x-bianmin-center") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_interim_headers() {
        let mut h = HeaderMap::new();
        assert!(caller(&h).is_err());
        h.insert("x-bianmin-subject", "c01-supervisor".parse().unwrap());
        h.insert("x-bianmin-role", "supervisor".parse().unwrap());
        h.insert("x-bianmin-center", "C01".parse().unwrap());
        let p = caller(&h).unwrap();
        assert_eq!((p.role, p.center_id.as_deref()), (Role::Supervisor, Some("C01")));
        h.insert("x-bianmin-role", "king".parse().unwrap());
        assert_eq!(caller(&h).unwrap_err().status, StatusCode::UNAUTHORIZED);
    }
}
