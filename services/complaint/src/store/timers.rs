//! Durable timers: one breach per complaint's due date, armed with the
//! filing, disarmed when the clock stops, claimed with `FOR UPDATE SKIP
//! LOCKED` so that with any number of replicas each fires once, and a
//! restart loses none.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// The table of this service's timers.
pub const TABLE: &str = "complaint_timers";

pub async fn arm(
    tx: &mut PgConnection,
    complaint_id: Uuid,
    center_id: &str,
    due: NaiveDate,
    fire_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO complaint_timers (complaint_id, center_id, kind, due, fire_at)
         VALUES ($1, $2, 'breach', $3, $4) ON CONFLICT (complaint_id, kind, due) DO NOTHING",
    )
    .bind(complaint_id)
    .bind(center_id)
    .bind(due)
    .bind(fire_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Drops the complaint's pending timers (its clock stopped); fired ones stay.
pub async fn disarm(tx: &mut PgConnection, complaint_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM complaint_timers WHERE complaint_id = $1 AND fired_at IS NULL")
        .bind(complaint_id)
        .execute(tx)
        .await?;
    Ok(())
}

pub struct Claimed {
    pub id: i64,
    pub complaint_id: Uuid,
    pub due: NaiveDate,
}

/// Claims one due timer and its complaint for this transaction; other
/// replicas skip both (never waiting, so no deadlock with a staff action
/// holding the complaint).
pub async fn claim_due(tx: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<Option<Claimed>> {
    let row = sqlx::query(
        "SELECT t.id, t.complaint_id, t.due
         FROM complaint_timers t JOIN complaints c ON c.id = t.complaint_id
         WHERE t.fired_at IS NULL AND t.fire_at <= $1 ORDER BY t.fire_at LIMIT 1
         FOR UPDATE OF t, c SKIP LOCKED",
    )
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(Claimed {
        id: r.try_get("id")?,
        complaint_id: r.try_get("complaint_id")?,
        due: r.try_get("due")?,
    }))
}
