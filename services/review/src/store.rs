//! Review's PostgreSQL store.

use crate::domain::opening::Opening;
use bianmin_common::outbox::{self, OutboxEvent};
use bianmin_proto::{events::v1 as ev, review::v1 as pb, subjects};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// Opens the case for a submitted application and writes `ReviewCaseOpened`
/// in the same transaction. An application has one case: a second opening
/// for it changes nothing (false).
pub async fn open_case(tx: &mut PgConnection, submitted: &ev::ApplicationSubmitted, application_id: Uuid, opening: &Opening) -> sqlx::Result<bool> {
    let case_id = Uuid::now_v7();
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO review_cases (id, application_id, application_no, center_id, service_type, stage, urgent,
            accepted_on, limit_working_days, due_date, opened_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (application_id) DO NOTHING",
    )
    .bind(case_id)
    .bind(application_id)
    .bind(&submitted.application_no)
    .bind(&submitted.center_id)
    .bind(&submitted.service_type)
    .bind(opening.stage)
    .bind(submitted.urgent)
    .bind(opening.accepted_on)
    .bind(opening.limit_working_days as i32)
    .bind(opening.due_date)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    let event_id = Uuid::now_v7();
    let event = ev::ReviewCaseOpened {
        event_id: event_id.to_string(),
        occurred_at: now.to_rfc3339(),
        case_id: case_id.to_string(),
        application_id: application_id.to_string(),
        center_id: submitted.center_id.clone(),
        stage: opening.stage.to_string(),
        accepted_on: opening.accepted_on.to_string(),
        due_date: opening.due_date.to_string(),
        limit_working_days: opening.limit_working_days,
    };
    outbox::enqueue(tx, OutboxEvent::new(event_id, subjects::REVIEW_CASE_OPENED, "ReviewCaseOpened", &event)).await?;
    Ok(true)
}

pub enum CaseKey {
    Case(Uuid),
    Application(Uuid),
}

pub async fn get(pool: &PgPool, key: CaseKey) -> sqlx::Result<Option<pb::ReviewCase>> {
    let (sql, id) = match key {
        CaseKey::Case(id) => ("SELECT * FROM review_cases WHERE id = $1", id),
        CaseKey::Application(id) => ("SELECT * FROM review_cases WHERE application_id = $1", id),
    };
    let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
    Ok(row.map(|r| pb::ReviewCase {
        id: r.get::<Uuid, _>("id").to_string(),
        application_id: r.get::<Uuid, _>("application_id").to_string(),
        center_id: r.get("center_id"),
        service_type: r.get("service_type"),
        stage: r.get("stage"),
        accepted_on: r.get::<NaiveDate, _>("accepted_on").to_string(),
        due_date: r.get::<NaiveDate, _>("due_date").to_string(),
        opened_at: r.get::<DateTime<Utc>, _>("opened_at").to_rfc3339(),
    }))
}
