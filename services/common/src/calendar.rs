//! The working-day calendar (工作日历).
//!
//! Time limits in this domain are counted in working days on the Chinese
//! calendar: public holidays are off, make-up working days (调休上班) are on,
//! even when they fall on a weekend. The calendar is data: one JSON file per
//! year, as published by the State Council, editable by operators and loaded
//! at start. A year without a file falls back to Monday–Friday, with a
//! warning, so a missing file degrades the answer instead of refusing it.
//!
//! Dates are civil dates in Asia/Shanghai; instants are stored as UTC and
//! converted with [`local_date`].

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The zone every civil date of the platform is read in.
pub const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// The longest limit anyone may ask for; it keeps a typo from looping
/// through centuries.
pub const MAX_DAYS: u32 = 3_660;

/// The Asia/Shanghai civil date of an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&ZONE).date_naive()
}

/// One year's file, as written in `deploy/calendars/<year>.json`.
#[derive(Debug, Deserialize)]
pub struct YearFile {
    pub year: i32,
    #[serde(default)]
    pub source: String,
    pub holidays: Vec<HolidayRange>,
    #[serde(default)]
    pub workdays: Vec<MakeUpDay>,
}

#[derive(Debug, Deserialize)]
pub struct HolidayRange {
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Deserialize)]
pub struct MakeUpDay {
    pub name: String,
    pub date: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read calendar file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("calendar file {path} is not valid: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("calendar file {path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("a limit of {0} working days is longer than the allowed {MAX_DAYS}")]
    TooLong(u32),
}

/// Holidays and make-up working days of the years that have data.
#[derive(Debug, Clone, Default)]
pub struct WorkingCalendar {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
    years: BTreeMap<i32, String>,
    /// Years without data already warned about: once per process is
    /// enough, not once per deadline computed.
    warned: std::sync::Arc<std::sync::Mutex<BTreeSet<i32>>>,
}

impl WorkingCalendar {
    /// A calendar with no data: Monday–Friday for every year.
    pub fn weekdays_only() -> Self {
        Self::default()
    }

    /// Loads every `*.json` file of a directory. A missing directory yields
    /// the weekday-only calendar (with a warning); a malformed file is an
    /// error, since silently ignoring it would move every deadline.
    pub fn load_dir(dir: &Path) -> Result<Self, CalendarError> {
        let mut calendar = Self::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e,
                    "calendar directory not readable; counting Monday to Friday only");
                return Ok(calendar);
            }
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|source| CalendarError::Read {
                path: shown.clone(),
                source,
            })?;
            let file: YearFile =
                serde_json::from_str(&text).map_err(|source| CalendarError::Parse {
                    path: shown.clone(),
                    source,
                })?;
            calendar
                .add_year(file)
                .map_err(|problem| CalendarError::Invalid {
                    path: shown,
                    problem,
                })?;
        }
        tracing::info!(years = ?calendar.years.keys().collect::<Vec<_>>(), "working-day calendar loaded");
        Ok(calendar)
    }

    /// Adds one year's data, checking that every date belongs to that year
    /// and that no day is both a holiday and a make-up working day.
    pub fn add_year(&mut self, file: YearFile) -> Result<(), String> {
        if self.years.contains_key(&file.year) {
            return Err(format!("year {} is defined twice", file.year));
        }
        let in_year = |d: NaiveDate| d.year() == file.year;
        let mut holidays = BTreeSet::new();
        for range in &file.holidays {
            if !in_year(range.from) || !in_year(range.to) || range.from > range.to {
                return Err(format!(
                    "holiday {} ({}..{}) must lie within {} with from <= to",
                    range.name, range.from, range.to, file.year
                ));
            }
            holidays.extend(range.from.iter_days().take_while(|d| *d <= range.to));
        }
        let mut workdays = BTreeSet::new();
        for day in &file.workdays {
            if !in_year(day.date) {
                return Err(format!(
                    "make-up day {} ({}) is not in {}",
                    day.name, day.date, file.year
                ));
            }
            if holidays.contains(&day.date) {
                return Err(format!(
                    "{} is both a holiday and a make-up working day",
                    day.date
                ));
            }
            workdays.insert(day.date);
        }
        self.holidays.extend(holidays);
        self.workdays.extend(workdays);
        self.years.insert(file.year, file.source);
        Ok(())
    }

    /// Years with data.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Whether staff work on this date.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.workdays.contains(&date) {
            return true;
        }
        if self.holidays.contains(&date) {
            return false;
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The Nth working day strictly after `from`: the day of acceptance is
    /// not counted. With `days == 0` the answer is `from` itself.
    pub fn add_working_days(&self, from: NaiveDate, days: u32) -> Result<NaiveDate, CalendarError> {
        if days > MAX_DAYS {
            return Err(CalendarError::TooLong(days));
        }
        let mut date = from;
        let mut left = days;
        while left > 0 {
            date = date.succ_opt().ok_or(CalendarError::TooLong(days))?;
            if !self.has_year(date.year()) {
                self.warn_missing(date.year());
            }
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        Ok(date)
    }

    fn warn_missing(&self, year: i32) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.insert(year) {
            tracing::warn!(
                year,
                "no working-day calendar for this year; counting Monday to Friday only"
            );
        }
    }

    /// Working days after `from` up to and including `to` (0 when `to <= from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn shipped() -> WorkingCalendar {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/calendars");
        let calendar = WorkingCalendar::load_dir(&dir).unwrap();
        assert!(calendar.has_year(2025) && calendar.has_year(2026));
        calendar
    }

    #[test]
    fn ordinary_week_skips_the_weekend() {
        let c = shipped();
        // Thursday 2026-03-12 + 5 working days: Fri, Mon..Thu -> Thursday 03-19.
        assert_eq!(
            c.add_working_days(d("2026-03-12"), 5).unwrap(),
            d("2026-03-19")
        );
        // Accepted on a Saturday: Monday is the first working day.
        assert_eq!(
            c.add_working_days(d("2026-03-14"), 1).unwrap(),
            d("2026-03-16")
        );
        assert_eq!(
            c.add_working_days(d("2026-03-14"), 0).unwrap(),
            d("2026-03-14")
        );
    }

    #[test]
    fn spring_festival_2026_is_off_and_its_saturdays_are_on() {
        let c = shipped();
        // 2026-02-14 (Sat) and 2026-02-28 (Sat) are make-up working days.
        assert!(c.is_working_day(d("2026-02-14")));
        assert!(c.is_working_day(d("2026-02-28")));
        for day in d("2026-02-15").iter_days().take(9) {
            assert!(!c.is_working_day(day), "{day} is in the Spring Festival");
        }
        // Accepted Friday 02-13: the make-up Saturday 02-14 counts (1), then
        // the holiday 02-15..02-23, then 02-24, 02-25, 02-26, 02-27 (2..5).
        assert_eq!(
            c.add_working_days(d("2026-02-13"), 5).unwrap(),
            d("2026-02-27")
        );
        // ... and the make-up Saturday 02-28 is the sixth.
        assert_eq!(
            c.add_working_days(d("2026-02-13"), 6).unwrap(),
            d("2026-02-28")
        );
        // Accepted during the holiday: the count starts after it.
        assert_eq!(
            c.add_working_days(d("2026-02-17"), 1).unwrap(),
            d("2026-02-24")
        );
        // Ten working days from 02-12 (Thu): 02-13, 02-14, 02-24..02-28 (7),
        // 03-02, 03-03, 03-04.
        assert_eq!(
            c.add_working_days(d("2026-02-12"), 10).unwrap(),
            d("2026-03-04")
        );
    }

    #[test]
    fn national_day_2026_with_its_make_up_days() {
        let c = shipped();
        assert!(
            c.is_working_day(d("2026-09-20")),
            "Sunday 09-20 is a make-up working day"
        );
        assert!(
            c.is_working_day(d("2026-10-10")),
            "Saturday 10-10 is a make-up working day"
        );
        assert!(!c.is_working_day(d("2026-09-25")), "Mid-Autumn Festival");
        assert!(!c.is_working_day(d("2026-10-01")));
        assert!(!c.is_working_day(d("2026-10-07")));
        // Accepted Saturday 09-19: the make-up Sunday 09-20 is day 1.
        assert_eq!(
            c.add_working_days(d("2026-09-19"), 1).unwrap(),
            d("2026-09-20")
        );
        // Accepted Wednesday 09-30: 10-08 (Thu), 10-09 (Fri), 10-10 (Sat make-up),
        // 10-12 (Mon), 10-13 (Tue).
        assert_eq!(
            c.add_working_days(d("2026-09-30"), 5).unwrap(),
            d("2026-10-13")
        );
        // Accepted Tuesday 09-22: 09-23, 09-24, (Mid-Autumn 09-25..27),
        // 09-28, 09-29, 09-30.
        assert_eq!(
            c.add_working_days(d("2026-09-22"), 5).unwrap(),
            d("2026-09-30")
        );
    }

    #[test]
    fn year_without_data_counts_monday_to_friday() {
        let c = shipped();
        assert!(!c.has_year(2031));
        // 2031-01-01 is a Wednesday; without data it is a working day.
        assert!(c.is_working_day(d("2031-01-01")));
        assert_eq!(
            c.add_working_days(d("2030-12-31"), 5).unwrap(),
            d("2031-01-07")
        );
    }

    #[test]
    fn a_day_cannot_be_both_holiday_and_workday() {
        let mut c = WorkingCalendar::default();
        let file = YearFile {
            year: 2026,
            source: String::new(),
            holidays: vec![HolidayRange {
                name: "x".into(),
                from: d("2026-05-01"),
                to: d("2026-05-05"),
            }],
            workdays: vec![MakeUpDay {
                name: "y".into(),
                date: d("2026-05-03"),
            }],
        };
        assert!(c.add_year(file).unwrap_err().contains("both a holiday"));
    }

    #[test]
    fn dates_outside_the_year_are_refused() {
        let mut c = WorkingCalendar::default();
        let file = YearFile {
            year: 2026,
            source: String::new(),
            holidays: vec![HolidayRange {
                name: "x".into(),
                from: d("2025-12-31"),
                to: d("2026-01-01"),
            }],
            workdays: vec![],
        };
        assert!(c.add_year(file).is_err());
    }

    #[test]
    fn absurd_limits_are_refused() {
        let c = WorkingCalendar::weekdays_only();
        assert!(matches!(
            c.add_working_days(d("2026-01-01"), MAX_DAYS + 1),
            Err(CalendarError::TooLong(_))
        ));
    }

    #[test]
    fn shanghai_date_of_an_instant() {
        let late_utc: DateTime<Utc> = "2026-03-12T17:30:00Z".parse().unwrap();
        assert_eq!(local_date(late_utc), d("2026-03-13"));
    }

    proptest! {
        #[test]
        fn result_is_a_working_day_with_exactly_n_working_days_after_from(
            offset in 0i64..900, days in 1u32..40
        ) {
            let c = shipped();
            let from = d("2025-01-01") + chrono::Duration::days(offset);
            let due = c.add_working_days(from, days).unwrap();
            prop_assert!(due > from);
            prop_assert!(c.is_working_day(due));
            prop_assert_eq!(c.working_days_between(from, due), days);
            prop_assert_eq!(c.working_days_between(from, due - chrono::Duration::days(1)), days - 1);
        }

        #[test]
        fn longer_limits_never_end_earlier(offset in 0i64..700, days in 0u32..60, more in 0u32..20) {
            let c = shipped();
            let from = d("2025-01-01") + chrono::Duration::days(offset);
            prop_assert!(c.add_working_days(from, days).unwrap() <= c.add_working_days(from, days + more).unwrap());
        }
    }
}
