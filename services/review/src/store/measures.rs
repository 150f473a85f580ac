//! Measures for supervision: on-time rate, working days to decision,
//! overdue counts, per center and service type.

use sqlx::{PgPool, Row};

#[derive(Debug, Default)]
pub struct MeasureRow {
    pub center_id: String,
    pub service_type: String,
    pub cases: i64,
    pub decided: i64,
    pub decided_on_time: i64,
    pub average_working_days_to_decision: f64,
    pub overdue_now: i64,
    pub breaches: i64,
}

pub async fn measures(
    pool: &PgPool,
    scope: &bianmin_common::db::Scope,
    center: Option<&str>,
) -> sqlx::Result<Vec<MeasureRow>> {
    let mut tx = bianmin_common::db::begin(pool, scope).await?;
    let rows = sqlx::query(
        "SELECT c.center_id, c.service_type, count(*) AS cases,
                count(*) FILTER (WHERE c.decision_outcome IS NOT NULL) AS decided,
                count(*) FILTER (WHERE c.decided_on_time) AS decided_on_time,
                COALESCE(avg(c.working_days_to_decision)::float8, 0) AS avg_days,
                count(*) FILTER (WHERE c.overdue) AS overdue_now,
                COALESCE(sum(b.n), 0)::int8 AS breaches
         FROM review_cases c
         LEFT JOIN (SELECT case_id, count(*) AS n FROM timers WHERE kind = 'breach' AND fired_at IS NOT NULL GROUP BY case_id) b
           ON b.case_id = c.id
         WHERE ($1::text IS NULL OR c.center_id = $1)
         GROUP BY c.center_id, c.service_type ORDER BY c.center_id, c.service_type",
    )
    .bind(center)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MeasureRow {
                center_id: r.try_get("center_id")?,
                service_type: r.try_get("service_type")?,
                cases: r.try_get("cases")?,
                decided: r.try_get("decided")?,
                decided_on_time: r.try_get("decided_on_time")?,
                average_working_days_to_decision: r.try_get("avg_days")?,
                overdue_now: r.try_get("overdue_now")?,
                breaches: r.try_get("breaches")?,
            })
        })
        .collect()
}
