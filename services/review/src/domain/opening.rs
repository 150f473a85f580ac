//! Opening a review case: its first stage and preliminary-review due date.

use bianmin_common::calendar::{CalendarError, WorkingCalendar};
use chrono::NaiveDate;

pub const PRELIMINARY_REVIEW: &str = "preliminary_review";
/// DOMAIN.md: the preliminary result is due within 5 working days of
/// acceptance unless the service type says otherwise.
pub const DEFAULT_PRELIMINARY_DAYS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub stage: &'static str,
    pub accepted_on: NaiveDate,
    pub limit_working_days: u32,
    pub due_date: NaiveDate,
}

/// The case opens in preliminary review; `policy_days` is the service
/// type's limit (0 when the event carries none).
pub fn open(calendar: &WorkingCalendar, accepted_on: NaiveDate, policy_days: u32) -> Result<Opening, CalendarError> {
    let days = if policy_days == 0 { DEFAULT_PRELIMINARY_DAYS } else { policy_days };
    Ok(Opening {
        stage: PRELIMINARY_REVIEW,
        accepted_on,
        limit_working_days: days,
        due_date: calendar.add_working_days(accepted_on, days)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn default_is_five_working_days() {
        let c = WorkingCalendar::weekdays_only();
        let o = open(&c, d("2026-11-23"), 0).unwrap();
        assert_eq!((o.stage, o.limit_working_days, o.due_date), (PRELIMINARY_REVIEW, 5, d("2026-11-30")));
    }

    #[test]
    fn utility_types_use_their_own_limit() {
        let c = WorkingCalendar::weekdays_only();
        assert_eq!(open(&c, d("2026-11-27"), 2).unwrap().due_date, d("2026-12-01"));
    }
}
