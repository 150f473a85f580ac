//! Review's own figures, recorded with the shared recorder
//! (`bianmin_common::metrics`, which lists every name and its help): the
//! durable timers (pending, overdue, fired, late) and the deadlines they
//! enforce (warned, breached) per clock and center.
//!
//! Labels stay bounded: the clock is one of review's clock kinds and the
//! center a center code (a handful per district); never a case or an
//! application.

use crate::domain::deadlines::{FEEDBACK_CLOCK, TimerKind, TimerSpec};
use crate::flow::Deadlines;
use bianmin_common::metrics::LATE_AFTER;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

/// The clock as a label: review's clock kinds, else `other`.
pub fn clock_label(clock: &str) -> &'static str {
    match clock {
        "preliminary" => "preliminary",
        "decision" => "decision",
        FEEDBACK_CLOCK => FEEDBACK_CLOCK,
        _ => "other",
    }
}

/// A center code as a label (`C01`): short upper-case letters and digits,
/// as the catalog writes them; anything else is `other`, so a malformed
/// row cannot put free text (or a person) into a label.
pub fn center_label(center: &str) -> String {
    let code = !center.is_empty()
        && center.len() <= 8
        && center
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if code {
        center.to_string()
    } else {
        "other".to_string()
    }
}

/// A timer fired at `now`: counted by kind, its lateness observed, and
/// counted late past [`LATE_AFTER`].
pub fn timer_fired(spec: &TimerSpec, now: DateTime<Utc>) {
    let kind = spec.kind.as_str();
    let late = (now - spec.fire_at).to_std().unwrap_or_default();
    ::metrics::counter!("bianmin_timers_fired_total", "kind" => kind).increment(1);
    ::metrics::histogram!("bianmin_timer_lateness_seconds").record(late.as_secs_f64());
    if late > LATE_AFTER {
        ::metrics::counter!("bianmin_timers_late_total", "kind" => kind).increment(1);
    }
}

/// A deadline warning or breach took effect on a case of `center`.
pub fn deadline_reached(spec: &TimerSpec, center: &str) {
    let name = match spec.kind {
        TimerKind::Warning => "bianmin_deadlines_warned_total",
        TimerKind::Breach => "bianmin_deadlines_breached_total",
    };
    ::metrics::counter!(name, "clock" => clock_label(&spec.clock), "center" => center_label(center))
        .increment(1);
}

/// Pending and overdue timers by kind, read at each scrape on review's
/// clock (its offset included, as the timer loop sees time).
pub fn watch_timers(pool: &PgPool, deadlines: &Deadlines) {
    let (pool, deadlines) = (pool.clone(), deadlines.clone());
    bianmin_common::metrics::on_scrape("timers", move || {
        let (pool, now) = (pool.clone(), deadlines.now());
        Box::pin(async move {
            // Every center's timers: the figure is the district's (system
            // work under row-level security, as the timer loop is).
            let mut tx = bianmin_common::db::begin(&pool, &bianmin_common::db::Scope::AllCenters)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::query(
                "SELECT kind, count(*) AS pending,
                        count(*) FILTER (WHERE fire_at < $1 - interval '1 minute') AS overdue
                 FROM timers WHERE fired_at IS NULL GROUP BY kind",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            for kind in [TimerKind::Warning, TimerKind::Breach] {
                let row = rows
                    .iter()
                    .find(|r| r.get::<String, _>("kind") == kind.as_str());
                let (pending, overdue) = row.map_or((0, 0), |r| {
                    (r.get::<i64, _>("pending"), r.get::<i64, _>("overdue"))
                });
                ::metrics::gauge!("bianmin_timers_pending", "kind" => kind.as_str())
                    .set(pending as f64);
                ::metrics::gauge!("bianmin_timers_overdue", "kind" => kind.as_str())
                    .set(overdue as f64);
            }
            Ok(())
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(clock_label("decision"), "decision");
        assert_eq!(clock_label("feedback"), "feedback");
        assert_eq!(clock_label("anything else"), "other");
        assert_eq!(center_label("C01"), "C01");
        assert_eq!(center_label("C-12"), "C-12");
        assert_eq!(center_label("张三"), "other");
        assert_eq!(center_label("110105199001011234"), "other");
        assert_eq!(center_label(""), "other");
    }
}
