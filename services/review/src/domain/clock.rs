//! The legal clock (法定时限) of a stage, in working days.
//!
//! Not a ticket SLA: while the case waits for the resident's supplement the
//! clock is suspended and that time does not count. On suspension the
//! working days that remain are kept; on resumption they are counted again
//! from the day work resumes.

use bianmin_common::calendar::{CalendarError, WorkingCalendar};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

/// Which limit a clock measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// 初审: the preliminary result (policy default 5, extended 10).
    Preliminary,
    /// The final decision (e.g. 30 working days for medical aid).
    Decision,
}

impl ClockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::Preliminary => "preliminary",
            ClockKind::Decision => "decision",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    pub since: NaiveDate,
    /// Working days left when it was suspended.
    pub remaining: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub kind: ClockKind,
    /// The limit the due date was counted from (working days).
    pub limit: u32,
    pub due: NaiveDate,
    pub suspended: Option<Suspension>,
    /// Whether a supervisor extended it beyond the policy.
    pub extended_beyond_policy: bool,
}

impl Clock {
    /// A clock of `limit` working days counted from `start`, pushed back by
    /// the working days the case already spent suspended.
    pub fn start(
        calendar: &WorkingCalendar,
        kind: ClockKind,
        start: NaiveDate,
        limit: u32,
        suspended_days: u32,
    ) -> Result<Self, CalendarError> {
        Ok(Self {
            kind,
            limit,
            due: calendar.add_working_days(start, limit.saturating_add(suspended_days))?,
            suspended: None,
            extended_beyond_policy: false,
        })
    }

    /// Stops the clock on `today`; the working days after today up to the
    /// due date remain (0 once it is due).
    pub fn suspend(&mut self, calendar: &WorkingCalendar, today: NaiveDate) {
        if self.suspended.is_none() {
            self.suspended = Some(Suspension {
                since: today,
                remaining: calendar.working_days_between(today, self.due),
            });
        }
    }

    /// Runs again from `today` with the days that remained; returns the
    /// working days the suspension lasted (they do not count).
    pub fn resume(
        &mut self,
        calendar: &WorkingCalendar,
        today: NaiveDate,
    ) -> Result<u32, CalendarError> {
        let Some(s) = self.suspended.take() else {
            return Ok(0);
        };
        self.due = calendar.add_working_days(today, s.remaining)?;
        Ok(calendar.working_days_between(s.since, today))
    }

    pub fn is_suspended(&self) -> bool {
        self.suspended.is_some()
    }

    /// Past due: the due date is over in Asia/Shanghai.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.suspended.is_none() && today > self.due
    }

    /// The instant the clock is breached: the start of the day after the
    /// due date, Asia/Shanghai (the whole due date is still on time).
    pub fn breach_at(&self) -> DateTime<Utc> {
        start_of_local_day(self.due + Days::new(1))
    }

    /// The instant the warning fires: when `share` of the limit has passed,
    /// i.e. at the start of the working day from which no more than
    /// `(1 - share) * limit` working days remain.
    pub fn warning_at(&self, calendar: &WorkingCalendar, share: f64) -> DateTime<Utc> {
        // The epsilon keeps 0.2 * 5 from flooring to 0 in binary floating point.
        let left = ((1.0 - share.clamp(0.0, 1.0)) * self.limit as f64 + 1e-9).floor() as u32;
        start_of_local_day(working_days_before(calendar, self.due, left))
    }
}

/// The working day `days` working days before `due` (`due` itself for 0).
pub fn working_days_before(calendar: &WorkingCalendar, due: NaiveDate, days: u32) -> NaiveDate {
    let mut date = due;
    let mut left = days;
    // Bounded: a limit is at most a few hundred working days.
    while left > 0 {
        match date.pred_opt() {
            Some(d) => date = d,
            None => break,
        }
        if calendar.is_working_day(date) {
            left -= 1;
        }
    }
    date
}

pub fn start_of_local_day(date: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        // Shanghai has no DST gaps; this is only a fallback.
        .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn suspension_does_not_count() {
        let c = WorkingCalendar::weekdays_only();
        // Monday 11-23 + 5 working days = Monday 11-30.
        let mut clock = Clock::start(&c, ClockKind::Preliminary, d("2026-11-23"), 5, 0).unwrap();
        assert_eq!(clock.due, d("2026-11-30"));
        // Suspended on Wednesday 11-25: Thu, Fri, Mon remain.
        clock.suspend(&c, d("2026-11-25"));
        assert_eq!(clock.suspended.as_ref().unwrap().remaining, 3);
        assert!(
            !clock.is_overdue(d("2026-12-20")),
            "a suspended clock is never overdue"
        );
        // Resumed two weeks later on Wednesday 12-09: Thu, Fri, Mon -> 12-14.
        let spent = clock.resume(&c, d("2026-12-09")).unwrap();
        assert_eq!(clock.due, d("2026-12-14"));
        assert_eq!(spent, 10);
    }

    #[test]
    fn breach_is_the_start_of_the_next_local_day() {
        let c = WorkingCalendar::weekdays_only();
        let clock = Clock::start(&c, ClockKind::Preliminary, d("2026-11-23"), 5, 0).unwrap();
        assert_eq!(clock.breach_at().to_rfc3339(), "2026-11-30T16:00:00+00:00");
        // 80% of 5 days: 1 day left -> warn at the start of Friday 11-27.
        assert_eq!(
            clock.warning_at(&c, 0.8).to_rfc3339(),
            "2026-11-26T16:00:00+00:00"
        );
    }

    proptest! {
        /// Suspending and resuming on the same day changes nothing, and a
        /// later resumption never moves the due date earlier.
        #[test]
        fn resume_never_shortens(start in 0u32..700, limit in 1u32..40, at in 0u32..60, pause in 0u32..60) {
            let c = WorkingCalendar::weekdays_only();
            let start = d("2025-01-01") + Days::new(start as u64);
            let mut clock = Clock::start(&c, ClockKind::Decision, start, limit, 0).unwrap();
            let before = clock.due;
            let suspend_on = start + Days::new(at as u64);
            let mut same_day = clock.clone();
            same_day.suspend(&c, suspend_on);
            same_day.resume(&c, suspend_on).unwrap();
            if suspend_on <= before && c.is_working_day(suspend_on) {
                prop_assert_eq!(same_day.due, before);
            }
            clock.suspend(&c, suspend_on);
            clock.resume(&c, suspend_on + Days::new(pause as u64)).unwrap();
            prop_assert!(clock.due >= same_day.due);
        }

        #[test]
        fn warning_never_after_breach(limit in 1u32..40, share in 0.0f64..1.0) {
            let c = WorkingCalendar::weekdays_only();
            let clock = Clock::start(&c, ClockKind::Preliminary, d("2026-03-02"), limit, 0).unwrap();
            prop_assert!(clock.warning_at(&c, share) < clock.breach_at());
        }
    }
}
