//! The general clock: a general complaint is investigated and answered
//! within three working days of its filing (the day of filing not counted,
//! as review counts), on the shared calendar. Its breach fires at the start
//! of the day after the due date (Asia/Shanghai).

use bianmin_common::calendar::{CalendarError, WorkingCalendar};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone as _, Utc};

pub const GENERAL_WORKING_DAYS: u32 = 3;

/// The due date of a complaint filed on `filed_on`.
pub fn due_date(
    calendar: &WorkingCalendar,
    filed_on: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    calendar.add_working_days(filed_on, GENERAL_WORKING_DAYS)
}

/// When the breach of `due` fires: the start of the next local day.
pub fn breach_at(due: NaiveDate) -> DateTime<Utc> {
    let next = due + Days::new(1);
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| next.and_time(NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn three_working_days_skip_the_weekend() {
        let cal = WorkingCalendar::weekdays_only();
        // Filed on a Thursday: Friday, Monday, Tuesday.
        assert_eq!(due_date(&cal, d(2026, 12, 3)).unwrap(), d(2026, 12, 8));
        // Filed on a Saturday: Monday, Tuesday, Wednesday.
        assert_eq!(due_date(&cal, d(2026, 12, 5)).unwrap(), d(2026, 12, 9));
    }

    #[test]
    fn the_shared_calendar_counts_holidays_and_make_up_days() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/calendars");
        let cal = WorkingCalendar::load_dir(&dir).unwrap();
        let filed = d(2026, 9, 30);
        let due = due_date(&cal, filed).unwrap();
        assert_eq!(cal.working_days_between(filed, due), GENERAL_WORKING_DAYS);
        assert!(
            due > d(2026, 10, 7),
            "the National Day holidays are not counted: {due}"
        );
    }

    #[test]
    fn the_breach_fires_after_the_due_day_in_shanghai() {
        assert_eq!(
            breach_at(d(2026, 12, 8)),
            "2026-12-08T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
