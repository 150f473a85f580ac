//! Property tests over any Unicode for the shared parsers a caller
//! reaches (headers, keys, purposes, masks, calendar dates): each answers
//! and never panics, and what it accepts keeps its promise.

use proptest::prelude::*;

proptest! {
    #[test]
    fn a_grpc_timeout_header_of_any_text_gets_an_answer(s in any::<String>()) {
        let _ = crate::deadline::parse_grpc_timeout(&s);
    }

    #[test]
    fn an_idempotency_key_is_printable_ascii_of_bounded_length(s in any::<String>()) {
        if let Ok(Some(key)) = crate::error::idempotency_key(&s) {
            prop_assert!(!key.is_empty() && key.len() <= 200);
            prop_assert!(key.chars().all(|c| c.is_ascii_graphic()));
        }
    }

    #[test]
    fn a_purpose_of_any_text_gets_an_answer(s in any::<String>()) {
        if let Some(p) = crate::auth::purpose::valid(&s) {
            prop_assert!(!crate::text::has_control_characters(p));
        }
    }

    #[test]
    fn masks_never_show_the_middle(s in any::<String>()) {
        let id = crate::pii::mask_id_number(&s);
        let phone = crate::pii::mask_phone(&s);
        let _ = crate::pii::mask_name(&s);
        // At least four characters of any value are hidden, and the mask
        // keeps the value's length.
        let n = s.chars().count();
        for masked in [&id, &phone] {
            prop_assert_eq!(masked.chars().count(), n);
            let hidden = masked.chars().filter(|c| *c == '*').count();
            prop_assert!(hidden >= n.min(4), "{masked:?} of {s:?}");
        }
    }

    #[test]
    fn any_date_text_is_a_date_or_a_refusal(s in any::<String>()) {
        let _ = s.parse::<chrono::NaiveDate>();
        let _ = crate::text::halfwidth(&s);
    }
}

#[test]
fn a_multibyte_last_character_is_no_timeout() {
    assert_eq!(crate::deadline::parse_grpc_timeout("1é"), None);
    assert_eq!(crate::deadline::parse_grpc_timeout("12３"), None);
    assert_eq!(
        crate::deadline::parse_grpc_timeout("100m"),
        Some(std::time::Duration::from_millis(100))
    );
}
