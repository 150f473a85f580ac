//! Text as residents type it. Chinese input methods often produce
//! full-width forms (`１３８`, `Ｘ`, the ideographic space): for fields made
//! of ASCII (ID numbers, phone numbers, codes) they mean the same as the
//! ASCII characters, so they are read as those, never refused and never
//! sliced as bytes.

/// `s` with full-width ASCII variants (U+FF01–U+FF5E) and the ideographic
/// space (U+3000) replaced by their ASCII forms; anything else unchanged.
pub fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Whether `s` holds a control character other than tab and line breaks:
/// what no text field accepts (a NUL fails in the database, an escape
/// sequence on a staff member's screen).
pub fn has_control_characters(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_width_digits_letters_and_spaces_become_ascii() {
        assert_eq!(
            halfwidth("１１０１０５１９４９１２３１００２Ｘ"),
            "11010519491231002X"
        );
        assert_eq!(
            halfwidth("１３８\u{3000}１２３４\u{3000}５６７８"),
            "138 1234 5678"
        );
        assert_eq!(halfwidth("张秀兰"), "张秀兰");
        // Other scripts' digits stay what they are: the field's own rule
        // refuses them.
        assert_eq!(halfwidth("٣٤"), "٣٤");
    }

    #[test]
    fn tabs_and_line_breaks_are_text_other_controls_are_not() {
        assert!(!has_control_characters("第一行\n第二行\t制表\r\n"));
        assert!(has_control_characters("a\0b"));
        assert!(has_control_characters("\u{1b}[31m"));
    }

    proptest! {
        #[test]
        fn only_full_width_forms_change(s in "\\PC*") {
            let out = halfwidth(&s);
            prop_assert_eq!(out.chars().count(), s.chars().count());
            for (a, b) in s.chars().zip(out.chars()) {
                let full_width = ('\u{FF01}'..='\u{FF5E}').contains(&a) || a == '\u{3000}';
                prop_assert!(a == b || full_width, "{:?} became {:?}", a, b);
            }
        }
    }
}
