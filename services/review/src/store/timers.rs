//! Durable timers: rows in `timers`, re-armed with every change of a case
//! and claimed with `FOR UPDATE SKIP LOCKED`, so with any number of
//! replicas each fires once, and a restart loses none.

use crate::domain::deadlines::{TimerKind, TimerSpec};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// The table of this service's timers.
pub const TABLE: &str = "timers";

/// Timer specs as one array per column (kind, clock, task_id, due,
/// fire_at), for an `INSERT … SELECT … FROM unnest(…)` that writes them
/// all in one statement.
pub struct Columns<'a> {
    pub kinds: Vec<&'a str>,
    pub clocks: Vec<&'a str>,
    pub tasks: Vec<&'a str>,
    pub dues: Vec<&'a str>,
    pub fire_at: Vec<DateTime<Utc>>,
}

impl<'a> Columns<'a> {
    pub fn of(specs: &'a [TimerSpec]) -> Self {
        Self {
            kinds: specs.iter().map(|s| s.kind.as_str()).collect(),
            clocks: specs.iter().map(|s| s.clock.as_str()).collect(),
            tasks: specs.iter().map(|s| s.task_id.as_str()).collect(),
            dues: specs.iter().map(|s| s.due.as_str()).collect(),
            fire_at: specs.iter().map(|s| s.fire_at).collect(),
        }
    }
}

/// Replaces the case's pending timers with `specs`. A deadline that already
/// fired stays fired (its row is kept and the insert conflicts with it).
pub async fn rearm(tx: &mut PgConnection, case_id: Uuid, specs: &[TimerSpec]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM timers WHERE case_id = $1 AND fired_at IS NULL")
        .bind(case_id)
        .execute(&mut *tx)
        .await?;
    arm(tx, case_id, specs).await
}

/// Adds `specs` to the case's timers, all in one statement (each statement
/// is a round trip with the case locked). A new case's timers are written
/// with it (`cases::insert_opened`).
async fn arm(tx: &mut PgConnection, case_id: Uuid, specs: &[TimerSpec]) -> sqlx::Result<()> {
    if specs.is_empty() {
        return Ok(());
    }
    let c = Columns::of(specs);
    sqlx::query(
        // The timers take their case's center (row-level security).
        "INSERT INTO timers (case_id, center_id, kind, clock, task_id, due, fire_at)
         SELECT c.id, c.center_id, u.* FROM review_cases c,
                unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS u
         WHERE c.id = $1
         ON CONFLICT (case_id, kind, clock, task_id, due) DO NOTHING",
    )
    .bind(case_id)
    .bind(&c.kinds)
    .bind(&c.clocks)
    .bind(&c.tasks)
    .bind(&c.dues)
    .bind(&c.fire_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub struct Claimed {
    pub id: i64,
    pub case_id: Uuid,
    pub spec: TimerSpec,
}

/// Claims one due timer and its case for this transaction; other replicas
/// skip both. Locking the case in the same statement, never waiting, keeps
/// the lock order of staff actions (case, then its timers) from deadlocking
/// with the timer loop (which would otherwise hold a timer, then wait for
/// the case); a case busy with an action is simply taken up on the next pass.
pub async fn claim_due(tx: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<Option<Claimed>> {
    let row = sqlx::query(
        "SELECT t.id, t.case_id, t.kind, t.clock, t.task_id, t.due, t.fire_at
         FROM timers t JOIN review_cases c ON c.id = t.case_id
         WHERE t.fired_at IS NULL AND t.fire_at <= $1 ORDER BY t.fire_at LIMIT 1
         FOR UPDATE OF t, c SKIP LOCKED",
    )
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let kind: String = r.try_get("kind")?;
    Ok(Some(Claimed {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        spec: TimerSpec {
            // The CHECK constraint allows only these two.
            kind: TimerKind::parse(&kind).unwrap_or(TimerKind::Breach),
            clock: r.try_get("clock")?,
            task_id: r.try_get("task_id")?,
            fire_at: r.try_get("fire_at")?,
            due: r.try_get("due")?,
        },
    }))
}
