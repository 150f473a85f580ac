//! Review cases: opened from intake's event, changed under a row lock by the
//! domain's state machine, read by the queue.

use crate::domain::case::{Case, Stage};
use crate::domain::deadlines::TimerSpec;
use bianmin_common::outbox::{self, OutboxEvent};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

/// A case with the facts that never change after opening.
#[derive(Clone, Debug)]
pub struct Stored {
    pub id: Uuid,
    pub application_id: Uuid,
    pub application_no: String,
    pub center_id: String,
    pub service_type: String,
    pub urgent: bool,
    pub opened_at: DateTime<Utc>,
    pub case: Case,
}

pub struct Opening<'a> {
    pub application_id: Uuid,
    pub application_no: &'a str,
    pub center_id: &'a str,
    pub service_type: &'a str,
    pub urgent: bool,
}

/// The case a new application gets, with its facts, before it is stored.
pub fn new_case(o: &Opening<'_>, case: Case, now: DateTime<Utc>) -> Stored {
    Stored {
        id: Uuid::now_v7(),
        application_id: o.application_id,
        application_no: o.application_no.into(),
        center_id: o.center_id.into(),
        service_type: o.service_type.into(),
        urgent: o.urgent,
        opened_at: now,
        case,
    }
}

/// Inserts a new case, its timers and its `ReviewCaseOpened` event in one
/// statement; false when the application has a case already (then nothing
/// is written). One statement instead of three per opened case: each is a
/// round trip inside the consumer's transaction, which applies every event
/// of its batch one after the other.
pub async fn insert_opened(
    tx: &mut PgConnection,
    stored: &Stored,
    timers: &[TimerSpec],
    event: &OutboxEvent,
) -> sqlx::Result<bool> {
    let case = &stored.case;
    let clock = case.clock.as_ref();
    let t = super::timers::Columns::of(timers);
    // The timers and the event only with the case (`FROM c`).
    let sql = format!(
        "WITH c AS (
             INSERT INTO review_cases (id, application_id, application_no, center_id, service_type, stage, urgent,
                 accepted_on, limit_working_days, due_date, opened_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (application_id) DO NOTHING
             RETURNING id, center_id
         ), t AS (
             INSERT INTO timers (case_id, center_id, kind, clock, task_id, due, fire_at)
             SELECT c.id, c.center_id, u.* FROM c, unnest($13::text[], $14::text[], $15::text[], $16::text[], $17::timestamptz[]) AS u
             ON CONFLICT (case_id, kind, clock, task_id, due) DO NOTHING
         ), o AS (
             INSERT INTO outbox ({event_columns})
             SELECT $18, $19, $20, $21, $22 FROM c
         )
         SELECT count(*) FROM c",
        event_columns = outbox::INSERT_COLUMNS,
    );
    let inserted: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(stored.id)
        .bind(stored.application_id)
        .bind(&stored.application_no)
        .bind(&stored.center_id)
        .bind(&stored.service_type)
        .bind(case.stage.as_str())
        .bind(stored.urgent)
        .bind(case.accepted_on)
        .bind(clock.map(|c| c.limit as i32).unwrap_or(0))
        .bind(case.due_date())
        .bind(stored.opened_at)
        .bind(sqlx::types::Json(case))
        .bind(&t.kinds)
        .bind(&t.clocks)
        .bind(&t.tasks)
        .bind(&t.dues)
        .bind(&t.fire_at)
        .bind(event.event_id)
        .bind(event.subject)
        .bind(event.event_type)
        .bind(&event.payload)
        .bind(OutboxEvent::traceparent())
        .fetch_one(&mut *tx)
        .await?;
    Ok(inserted == 1)
}

const COLUMNS: &str =
    "id, application_id, application_no, center_id, service_type, urgent, opened_at, state";

fn from_row(r: &PgRow) -> sqlx::Result<Stored> {
    let sqlx::types::Json(case): sqlx::types::Json<Case> = r.try_get("state")?;
    Ok(Stored {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        application_no: r.try_get("application_no")?,
        center_id: r.try_get("center_id")?,
        service_type: r.try_get("service_type")?,
        urgent: r.try_get("urgent")?,
        opened_at: r.try_get("opened_at")?,
        case,
    })
}

#[derive(Clone, Copy, Debug)]
pub enum Key {
    Case(Uuid),
    Application(Uuid),
}

pub async fn get(db: impl PgExecutor<'_>, key: Key) -> sqlx::Result<Option<Stored>> {
    let (column, id) = match key {
        Key::Case(id) => ("id", id),
        Key::Application(id) => ("application_id", id),
    };
    let sql = format!("SELECT {COLUMNS} FROM review_cases WHERE {column} = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Loads the case and locks it until the transaction ends, so concurrent
/// actions (and timers) apply one after the other.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Stored>> {
    let sql = format!("SELECT {COLUMNS} FROM review_cases WHERE id = $1 FOR UPDATE");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Like [`lock`], by the application the case reviews.
pub async fn lock_application(
    tx: &mut PgConnection,
    application_id: Uuid,
) -> sqlx::Result<Option<Stored>> {
    let sql = format!("SELECT {COLUMNS} FROM review_cases WHERE application_id = $1 FOR UPDATE");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(application_id)
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Writes the case back with the columns the queue and measures read.
pub async fn save(tx: &mut PgConnection, stored: &Stored, now: DateTime<Utc>) -> sqlx::Result<()> {
    let case = &stored.case;
    let decision = case.decision.as_ref();
    sqlx::query(
        "UPDATE review_cases SET state = $2, stage = $3, due_date = $4, overdue = $5, suspended = $6, assignee = $7,
            limit_working_days = COALESCE($8, limit_working_days), decision_outcome = $9, decided_on_time = $10,
            working_days_to_decision = $11, updated_at = $12
         WHERE id = $1",
    )
    .bind(stored.id)
    .bind(sqlx::types::Json(case))
    .bind(case.stage.as_str())
    .bind(case.due_date())
    .bind(case.overdue)
    .bind(case.is_suspended())
    .bind(&case.assignee)
    .bind(case.clock.as_ref().map(|c| c.limit as i32))
    .bind(decision.map(|d| d.outcome.as_str()))
    .bind(decision.map(|d| d.on_time))
    .bind(decision.map(|d| d.working_days_taken as i32))
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records an idempotency key; false when it was used before on this case.
pub async fn claim_key(
    tx: &mut PgConnection,
    case_id: Uuid,
    key: &str,
    action: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        // The key takes its case's center (row-level security).
        "INSERT INTO case_actions (case_id, center_id, idempotency_key, action)
         SELECT c.id, c.center_id, $2, $3 FROM review_cases c WHERE c.id = $1 ON CONFLICT DO NOTHING",
    )
        .bind(case_id)
        .bind(key)
        .bind(action)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A key used before on a case: the action it was used for, and the case
/// as that action left it (none for rows older than the answer column).
pub struct UsedKey {
    pub action: String,
    pub answer: Option<Case>,
}

/// What `key` was used for on `case_id`, if it was.
pub async fn used_key(
    tx: &mut PgConnection,
    case_id: Uuid,
    key: &str,
) -> sqlx::Result<Option<UsedKey>> {
    let row = sqlx::query(
        "SELECT action, answer FROM case_actions WHERE case_id = $1 AND idempotency_key = $2",
    )
    .bind(case_id)
    .bind(key)
    .fetch_optional(tx)
    .await?;
    row.map(|r| {
        let answer: Option<sqlx::types::Json<Case>> = r.try_get("answer")?;
        Ok(UsedKey {
            action: r.try_get("action")?,
            answer: answer.map(|a| a.0),
        })
    })
    .transpose()
}

/// Records what the action under `key` answered.
pub async fn record_answer(
    tx: &mut PgConnection,
    case_id: Uuid,
    key: &str,
    case: &Case,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE case_actions SET answer = $3 WHERE case_id = $1 AND idempotency_key = $2")
        .bind(case_id)
        .bind(key)
        .bind(sqlx::types::Json(case))
        .execute(tx)
        .await?;
    Ok(())
}

/// Queue filters; `center` is None only for district-wide callers.
#[derive(Debug, Default)]
pub struct QueueFilter {
    pub center: Option<String>,
    pub service_type: Option<String>,
    pub stage: Option<Stage>,
    pub assignee: Option<String>,
    pub limit: i64,
}

#[derive(Debug)]
pub struct QueueRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub application_no: String,
    pub center_id: String,
    pub service_type: String,
    pub stage: String,
    pub due_date: Option<NaiveDate>,
    pub urgent: bool,
    pub overdue: bool,
    pub assignee: String,
    pub suspended: bool,
}

/// Open cases, urgent first, then the earliest due date; with the count
/// per stage under the same filters (stage aside).
pub async fn queue(
    pool: &sqlx::PgPool,
    scope: &bianmin_common::db::Scope,
    f: &QueueFilter,
) -> sqlx::Result<(Vec<QueueRow>, Vec<(String, i64)>)> {
    // Both statements in one transaction under the caller's scope.
    let mut db = bianmin_common::db::begin(pool, scope).await?;
    let filters = "($1::text IS NULL OR center_id = $1) AND ($2::text IS NULL OR service_type = $2)
                   AND ($3::text IS NULL OR assignee = $3) AND stage NOT IN ('closed', 'withdrawn')";
    let sql = format!(
        "SELECT id, application_id, application_no, center_id, service_type, stage, due_date, urgent, overdue, assignee, suspended
         FROM review_cases WHERE {filters} AND ($4::text IS NULL OR stage = $4)
         ORDER BY urgent DESC, due_date ASC NULLS LAST, opened_at ASC LIMIT $5"
    );
    let stage = f.stage.map(Stage::as_str);
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&f.center)
        .bind(&f.service_type)
        .bind(&f.assignee)
        .bind(stage)
        .bind(f.limit)
        .fetch_all(&mut *db)
        .await?;
    let counts_sql = format!(
        "SELECT stage, count(*) AS n FROM review_cases WHERE {filters} GROUP BY stage ORDER BY stage"
    );
    let counts = sqlx::query(sqlx::AssertSqlSafe(counts_sql))
        .bind(&f.center)
        .bind(&f.service_type)
        .bind(&f.assignee)
        .fetch_all(&mut *db)
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(QueueRow {
                id: r.try_get("id")?,
                application_id: r.try_get("application_id")?,
                application_no: r.try_get("application_no")?,
                center_id: r.try_get("center_id")?,
                service_type: r.try_get("service_type")?,
                stage: r.try_get("stage")?,
                due_date: r.try_get("due_date")?,
                urgent: r.try_get("urgent")?,
                overdue: r.try_get("overdue")?,
                assignee: r.try_get("assignee")?,
                suspended: r.try_get("suspended")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    let counts = counts
        .iter()
        .map(|r| Ok((r.try_get("stage")?, r.try_get("n")?)))
        .collect::<sqlx::Result<Vec<_>>>()?;
    Ok((items, counts))
}
