//! What every service's durable timers do alike. Each service keeps its
//! own timer table (its columns say what its timers are for) and claims
//! due rows with `FOR UPDATE SKIP LOCKED` together with the record they
//! are about; stamping a claimed timer fired, in the same transaction as
//! its effect, is the same everywhere: that stamp is what makes a timer
//! fire once across restarts and replicas.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Stamps timer `id` of `table` fired at `now` by `replica`, inside the
/// transaction that claimed it. `table` is the service's own constant,
/// never input.
pub async fn mark_fired(
    tx: &mut PgConnection,
    table: &'static str,
    id: i64,
    now: DateTime<Utc>,
    replica: &str,
) -> sqlx::Result<()> {
    // The table is a constant of the calling service, so the statement
    // is as fixed as a literal.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET fired_at = $2, fired_by = $3 WHERE id = $1"
    )))
    .bind(id)
    .bind(now)
    .bind(replica)
    .execute(tx)
    .await?;
    Ok(())
}
