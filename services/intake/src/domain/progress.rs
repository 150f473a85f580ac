//! The public progress page: what a resident may see without logging in,
//! given the application number and the last four digits of the phone.

use bianmin_common::calendar::WorkingCalendar;
use bianmin_common::error::FieldViolation;
use chrono::NaiveDate;

/// The one answer for a wrong number and a wrong phone alike, so the page
/// cannot be used to find out which application numbers exist.
pub const NOT_FOUND: &str =
    "未找到该申请，请核对申请编号和手机号后四位 (no application matches this number and phone)";

pub const MAX_NO_CHARS: usize = 40;

/// Wrong phone digits one application number takes within
/// [`GUESS_WINDOW`] before it is locked.
pub const MAX_WRONG_GUESSES: i32 = 5;
/// How long wrong guesses are counted together.
pub const GUESS_WINDOW: chrono::Duration = chrono::Duration::hours(1);
/// How long a number stays locked: every look-up of it answers
/// [`NOT_FOUND`], right digits or not, exactly like a number that does not
/// exist, so the guesser learns neither the digits nor that it was locked.
pub const LOCK_FOR: chrono::Duration = chrono::Duration::hours(1);

/// The wrong guesses at one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guesses {
    pub failures: i32,
    pub window_started: chrono::DateTime<chrono::Utc>,
    pub locked_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Guesses {
    /// Whether the number is locked at `now`. Pure.
    pub fn locked(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// The count after one more wrong guess at `now` (from none when
    /// `before` is `None`): a window that has passed starts again, and the
    /// last guess it allows locks the number. Pure.
    pub fn after_wrong(before: Option<Guesses>, now: chrono::DateTime<chrono::Utc>) -> Guesses {
        let current = before.filter(|g| now - g.window_started < GUESS_WINDOW);
        let failures = current.map_or(0, |g| g.failures) + 1;
        Guesses {
            failures,
            window_started: current.map_or(now, |g| g.window_started),
            locked_until: if failures >= MAX_WRONG_GUESSES {
                Some(now + LOCK_FOR)
            } else {
                before
                    .and_then(|g| g.locked_until)
                    .filter(|until| now < *until)
            },
        }
    }
}

/// Checks the shape of both inputs; normalises the number to upper case.
pub fn lookup(
    application_no: &str,
    phone_last4: &str,
) -> Result<(String, String), Vec<FieldViolation>> {
    let mut v = Vec::new();
    let no = application_no.trim().to_ascii_uppercase();
    if no.is_empty() {
        v.push(FieldViolation::new(
            "application_no",
            "required",
            "请填写申请编号 (application_no is required)",
        ));
    } else if no.len() > MAX_NO_CHARS || !no.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        v.push(FieldViolation::new(
            "application_no",
            "application_no_format",
            "申请编号格式不正确，例如 C01-20261124-000001 (e.g. C01-20261124-000001)",
        ));
    }
    let last4 = phone_last4.trim();
    if last4.len() != 4 || !last4.chars().all(|c| c.is_ascii_digit()) {
        v.push(FieldViolation::new(
            "phone_last4",
            "phone_last4_format",
            "请填写手机号后四位数字 (phone_last4 must be exactly 4 digits)",
        ));
    }
    if v.is_empty() {
        Ok((no, last4.to_string()))
    } else {
        Err(v)
    }
}

/// `张秀兰` -> `张*兰`, `李四` -> `李*`: enough for the resident to
/// recognise, too little for anyone else.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Working days from `today` to `due` (0 once due or past).
pub fn working_days_left(calendar: &WorkingCalendar, today: NaiveDate, due: NaiveDate) -> u32 {
    calendar.working_days_between(today, due)
}

/// When the resident can expect a decision, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// A supplement is awaited or under way: the clock stands still.
    pub suspended: bool,
    /// The due date, or empty when none runs (or the clock stands still).
    pub date: String,
    pub working_days_left: Option<u32>,
}

/// The expectation for an application in `status` with `due` as its
/// review due date and `remaining_days` left when its clock stands.
pub fn expected(
    status: Option<super::status::Status>,
    due: Option<NaiveDate>,
    remaining_days: Option<i32>,
    calendar: &WorkingCalendar,
    today: NaiveDate,
) -> Expected {
    let suspended = status.is_some_and(super::status::Status::in_supplement);
    let (date, working_days_left) = match (suspended, due) {
        // The clock stands still: no date yet, the days that remain.
        (true, _) => (String::new(), remaining_days.map(|d| d.max(0) as u32)),
        (false, Some(due)) => (
            due.to_string(),
            Some(working_days_left(calendar, today, due)),
        ),
        (false, None) => (String::new(), None),
    };
    Expected {
        suspended,
        date,
        working_days_left,
    }
}

#[cfg(test)]
mod guess_tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_fifth_wrong_guess_in_an_hour_locks_the_number_for_an_hour() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
        let mut g = None;
        for i in 0..MAX_WRONG_GUESSES {
            let now = t0 + chrono::Duration::minutes(i as i64);
            let next = Guesses::after_wrong(g, now);
            assert_eq!(next.locked(now), i == MAX_WRONG_GUESSES - 1, "guess {i}");
            g = Some(next);
        }
        let g = g.unwrap();
        assert!(g.locked(t0 + chrono::Duration::minutes(30)));
        assert!(!g.locked(t0 + chrono::Duration::minutes(4) + LOCK_FOR));
    }

    #[test]
    fn guesses_an_hour_apart_never_lock() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap();
        let mut g = None;
        for i in 0..20 {
            let now = t0 + chrono::Duration::minutes(61 * i);
            let next = Guesses::after_wrong(g, now);
            assert!(!next.locked(now), "guess {i}");
            assert_eq!(next.failures, 1);
            g = Some(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_inputs_are_checked_for_shape() {
        assert_eq!(
            lookup(" c01-20261124-000001 ", "5678").unwrap(),
            ("C01-20261124-000001".into(), "5678".into())
        );
        let rules: Vec<_> = lookup("C01;drop", "56a8")
            .unwrap_err()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(rules, ["application_no_format", "phone_last4_format"]);
        assert_eq!(lookup("", "12345").unwrap_err().len(), 2);
    }

    #[test]
    fn names_are_masked() {
        assert_eq!(mask_name("张秀兰"), "张*兰");
        assert_eq!(mask_name("李四"), "李*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
    }

    #[test]
    fn days_left_count_working_days_only() {
        let cal = WorkingCalendar::default();
        let fri = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let tue = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(working_days_left(&cal, fri, tue), 2);
        assert_eq!(working_days_left(&cal, tue, fri), 0);
    }
    #[test]
    fn a_standing_clock_shows_the_days_left_and_no_date() {
        use super::super::status::Status;
        let cal = WorkingCalendar::weekdays_only();
        let today: NaiveDate = "2026-11-23".parse().unwrap();
        let due: NaiveDate = "2026-11-27".parse().unwrap();
        let standing = expected(
            Some(Status::AwaitingSupplement),
            Some(due),
            Some(-1),
            &cal,
            today,
        );
        assert_eq!(
            standing,
            Expected {
                suspended: true,
                date: String::new(),
                working_days_left: Some(0),
            }
        );
        let running = expected(Some(Status::InReview), Some(due), None, &cal, today);
        assert!(!running.suspended);
        assert_eq!(running.date, "2026-11-27");
        assert_eq!(
            running.working_days_left,
            Some(working_days_left(&cal, today, due))
        );
        let none = expected(Some(Status::Closed), None, Some(3), &cal, today);
        assert_eq!((none.date.as_str(), none.working_days_left), ("", None));
    }
}
