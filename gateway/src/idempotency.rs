//! The `Idempotency-Key` header, read the same way on every creating
//! route: absent is allowed (no replay protection), present must be
//! printable ASCII of at most 200 characters (the services check the same
//! rule; refusing it here names the header, not a gRPC field).

use crate::error::HttpError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The key a retry repeats; empty when the caller sent none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

/// Longest key accepted.
pub const MAX_LEN: usize = 200;

impl IdempotencyKey {
    /// The key from a header value. Pure.
    pub fn parse(value: Option<&[u8]>) -> Result<Self, HttpError> {
        let Some(raw) = value else {
            return Ok(Self::default());
        };
        let bad = || {
            HttpError::invalid(
                "Idempotency-Key",
                "idempotency_key_format",
                "幂等键须为不超过 200 个可见 ASCII 字符 (at most 200 printable ASCII characters)",
            )
        };
        if raw.len() > MAX_LEN || !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        Ok(Self(String::from_utf8(raw.to_vec()).map_err(|_| bad())?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all("idempotency-key").iter();
        let first = values.next();
        if values.next().is_some() {
            // Two keys: which one would a retry repeat?
            return Err(HttpError::invalid(
                "Idempotency-Key",
                "idempotency_key_repeated",
                "只能有一个幂等键 (send one Idempotency-Key header)",
            ));
        }
        Self::parse(first.map(|v| v.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_none_and_bad_keys_name_the_header() {
        assert_eq!(
            IdempotencyKey::parse(None).unwrap(),
            IdempotencyKey::default()
        );
        assert_eq!(
            IdempotencyKey::parse(Some(b"demo-1")).unwrap(),
            IdempotencyKey("demo-1".into())
        );
        for bad in [&b"has space"[..], "幂等".as_bytes(), &[b'a'; 201][..], b""] {
            if bad.is_empty() {
                continue;
            }
            let e = IdempotencyKey::parse(Some(bad)).unwrap_err();
            assert_eq!(e.violations[0].field, "Idempotency-Key", "{bad:?}");
        }
    }
}
