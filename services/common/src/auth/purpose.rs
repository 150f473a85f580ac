//! The purpose (用途) a partner states for an exchange, carried from the
//! partner edge to the service that answers it, which writes it into the
//! audit log beside the decision.
//!
//! It travels as binary metadata (`bianmin-purpose-bin`) because it is
//! free text, usually Chinese, which ASCII metadata cannot hold. It is not
//! a credential: only the principal (a verified token) says who calls; the
//! purpose only says why, and is recorded as given.

use tonic::metadata::MetadataValue;

pub const METADATA_KEY: &str = "bianmin-purpose-bin";

/// Longest purpose accepted, in characters.
pub const MAX_CHARS: usize = 200;

/// Sets the purpose of an outgoing request.
pub fn attach<T>(request: &mut tonic::Request<T>, purpose: &str) {
    request
        .metadata_mut()
        .insert_bin(METADATA_KEY, MetadataValue::from_bytes(purpose.as_bytes()));
}

/// The purpose an incoming request states, trimmed; `None` when absent,
/// empty, not UTF-8 or longer than [`MAX_CHARS`].
pub fn of<T>(request: &tonic::Request<T>) -> Option<String> {
    let bytes = request.metadata().get_bin(METADATA_KEY)?.to_bytes().ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    valid(&text).map(str::to_string)
}

/// A purpose as accepted: trimmed, not empty, at most [`MAX_CHARS`]. Pure.
pub fn valid(raw: &str) -> Option<&str> {
    let text = raw.trim();
    (!text.is_empty() && text.chars().count() <= MAX_CHARS).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_purpose_survives_the_metadata_round_trip() {
        let mut request = tonic::Request::new(());
        attach(&mut request, " 核实低保申请进度 ");
        assert_eq!(of(&request).as_deref(), Some("核实低保申请进度"));
        assert_eq!(of(&tonic::Request::new(())), None);
    }

    #[test]
    fn empty_or_overlong_purposes_are_not_purposes() {
        assert_eq!(valid("   "), None);
        assert_eq!(valid(&"用".repeat(MAX_CHARS + 1)), None);
        assert_eq!(
            valid(&"用".repeat(MAX_CHARS)).map(str::len),
            Some(MAX_CHARS * 3)
        );
    }
}
