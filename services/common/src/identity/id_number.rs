//! Resident identity card numbers (公民身份号码, GB 11643-1999).

use chrono::NaiveDate;

/// Why a number is refused; each maps to a rule code and a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdNumberError {
    Length,
    Characters,
    Region,
    BirthDate,
    CheckDigit,
}

impl IdNumberError {
    pub fn rule(self) -> &'static str {
        match self {
            Self::Length => "id_number_length",
            Self::Characters => "id_number_characters",
            Self::Region => "id_number_region",
            Self::BirthDate => "id_number_birth_date",
            Self::CheckDigit => "id_number_check_digit",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Length => "身份证号应为 18 位 (must be 18 characters)",
            Self::Characters => {
                "身份证号前 17 位应为数字，末位为数字或 X (17 digits then a digit or X)"
            }
            Self::Region => "身份证号前 6 位不是有效的行政区划代码 (unknown region code)",
            Self::BirthDate => "身份证号中的出生日期无效 (birth date is not a real past date)",
            Self::CheckDigit => "身份证号校验位错误，请核对 (check digit does not match)",
        }
    }
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes (the first two digits) in use.
const PROVINCES: [u32; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// The check character for the first 17 digits.
pub fn check_digit(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(CHECK[(sum % 11) as usize])
}

/// Validates a number and returns it normalised (ASCII, upper-case X,
/// trimmed; full-width digits as typed by a Chinese input method are read
/// as digits). `today` bounds the birth date. Any UTF-8 is safe here: the
/// number is sliced only once it is known to be 18 ASCII characters.
pub fn validate(raw: &str, today: NaiveDate) -> Result<String, IdNumberError> {
    let id = crate::text::halfwidth(raw).trim().to_uppercase();
    if id.chars().count() != 18 {
        return Err(IdNumberError::Length);
    }
    if !id.is_ascii() {
        return Err(IdNumberError::Characters);
    }
    let (body, last) = id.split_at(17);
    if !body.chars().all(|c| c.is_ascii_digit())
        || !last.chars().all(|c| c.is_ascii_digit() || c == 'X')
    {
        return Err(IdNumberError::Characters);
    }
    let province: u32 = body[..2].parse().map_err(|_| IdNumberError::Region)?;
    if !PROVINCES.contains(&province)
        || &body[2..6] == "0000" && province != 71 && province != 81 && province != 82
    {
        return Err(IdNumberError::Region);
    }
    let birth =
        NaiveDate::parse_from_str(&body[6..14], "%Y%m%d").map_err(|_| IdNumberError::BirthDate)?;
    if birth > today || birth < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(birth) {
        return Err(IdNumberError::BirthDate);
    }
    if check_digit(body) != last.chars().next() {
        return Err(IdNumberError::CheckDigit);
    }
    Ok(id)
}

/// Builds a valid number from region, birth date and sequence (for seed data
/// and tests).
pub fn compose(region: &str, birth: NaiveDate, sequence: u32) -> String {
    let body = format!("{region}{}{:03}", birth.format("%Y%m%d"), sequence % 1000);
    let check = check_digit(&body).unwrap_or('0');
    format!("{body}{check}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn accepts_the_standard_example() {
        // The worked example of GB 11643-1999.
        assert_eq!(
            validate("11010519491231002X", today()).unwrap(),
            "11010519491231002X"
        );
        assert_eq!(
            validate(" 11010519491231002x ", today()).unwrap(),
            "11010519491231002X"
        );
    }

    #[test]
    fn names_the_broken_rule() {
        assert_eq!(
            validate("1101051949123100", today()),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            validate("11010519491231A02X", today()),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            validate("99010519491231002X", today()),
            Err(IdNumberError::Region)
        );
        assert_eq!(
            validate("110105194902300021", today()).unwrap_err(),
            IdNumberError::BirthDate
        );
        assert_eq!(
            validate(
                &compose("110105", NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(), 1),
                today()
            ),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            validate("110105194912310021", today()),
            Err(IdNumberError::CheckDigit)
        );
    }

    #[test]
    fn full_width_digits_are_digits_and_other_scripts_are_refused() {
        assert_eq!(
            validate("１１０１０５１９４９１２３１００２Ｘ", today()).unwrap(),
            "11010519491231002X"
        );
        // 18 characters, not ASCII: refused, not sliced.
        assert_eq!(
            validate("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", today()),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            validate("11010519491231002é", today()),
            Err(IdNumberError::Characters)
        );
    }

    proptest! {
        /// Any text at all: an answer, never a panic.
        #[test]
        fn any_text_is_answered(raw in "\\PC{0,40}") {
            let _ = validate(&raw, today());
        }

        /// Eighteen characters of any script, the length that reaches the
        /// slicing.
        #[test]
        fn any_eighteen_characters_are_answered(raw in "\\PC{18}") {
            let _ = validate(&raw, today());
        }

        #[test]
        fn composed_numbers_validate(days in 0i64..40_000, seq in 0u32..1000) {
            let birth = NaiveDate::from_ymd_opt(1910, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assume!(birth <= today());
            let id = compose("310104", birth, seq);
            prop_assert_eq!(validate(&id, today()), Ok(id.clone()));
        }

        #[test]
        fn any_single_digit_change_is_caught(pos in 0usize..17, delta in 1u32..10) {
            let id = compose("440305", NaiveDate::from_ymd_opt(1985, 6, 15).unwrap(), 123);
            let mut chars: Vec<char> = id.chars().collect();
            let d = chars[pos].to_digit(10).unwrap();
            chars[pos] = char::from_digit((d + delta) % 10, 10).unwrap();
            let changed: String = chars.into_iter().collect();
            prop_assert!(validate(&changed, today()).is_err());
        }
    }
}
