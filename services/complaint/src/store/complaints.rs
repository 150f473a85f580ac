//! Complaints: written with their filing's event and timer, locked and
//! saved by the lifecycle, read masked.

use crate::domain::complaint::Complaint;
use bianmin_common::outbox::{self, OutboxEvent};
use bianmin_common::pii::Sealed;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// A personal field as stored: sealed, its look-up hash, masked.
pub struct Protected {
    pub sealed: Sealed,
    pub hash: Vec<u8>,
    pub masked: String,
}

/// A complaint as stored, with its complainant masked.
#[derive(Clone, Debug)]
pub struct Stored {
    pub id: Uuid,
    pub complaint_no: String,
    pub channel: String,
    pub content: String,
    pub demand: String,
    pub sensitive: bool,
    pub name_masked: String,
    pub id_number_masked: String,
    pub phone_masked: String,
    pub filed_at: DateTime<Utc>,
    pub complaint: Complaint,
}

impl Stored {
    pub fn center_id(&self) -> &str {
        &self.complaint.center_id
    }
}

pub struct NewComplaint<'a> {
    pub stored: &'a Stored,
    pub name: &'a Protected,
    pub id_number: &'a Protected,
    pub phone: &'a Protected,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: &'a [u8],
    pub fire_at: Option<DateTime<Utc>>,
}

/// The next number of the center's day.
pub async fn next_seq(tx: &mut PgConnection, center_id: &str, day: NaiveDate) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO complaint_numbers (center_id, day, last) VALUES ($1, $2, 1)
         ON CONFLICT (center_id, day) DO UPDATE SET last = complaint_numbers.last + 1
         RETURNING last",
    )
    .bind(center_id)
    .bind(day)
    .fetch_one(tx)
    .await
}

/// Writes a new complaint, its timer and its event; false when the
/// caller's idempotency key was used before (nothing written).
pub async fn insert(
    tx: &mut PgConnection,
    n: &NewComplaint<'_>,
    event: OutboxEvent,
) -> sqlx::Result<bool> {
    let s = n.stored;
    let state = serde_json::to_value(&s.complaint).map_err(|e| sqlx::Error::Encode(e.into()))?;
    let written = sqlx::query(
        "INSERT INTO complaints (id, complaint_no, center_id, channel, content, demand, sensitive, status, owner,
             due_date, state, name_sealed, name_key_id, name_masked, id_number_sealed, id_number_key_id,
             id_number_hash, id_number_masked, phone_sealed, phone_key_id, phone_hash, phone_masked,
             filed_by, idempotency_key, request_hash, first_state, filed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
             $21, $22, $23, $24, $25, $11, $26)
         ON CONFLICT (filed_by, idempotency_key) DO NOTHING",
    )
    .bind(s.id)
    .bind(&s.complaint_no)
    .bind(s.center_id())
    .bind(&s.channel)
    .bind(&s.content)
    .bind(&s.demand)
    .bind(s.sensitive)
    .bind(s.complaint.status.as_str())
    .bind(&s.complaint.owner)
    .bind(s.complaint.due_date)
    .bind(&state)
    .bind(&n.name.sealed.ciphertext)
    .bind(&n.name.sealed.key_id)
    .bind(&n.name.masked)
    .bind(&n.id_number.sealed.ciphertext)
    .bind(&n.id_number.sealed.key_id)
    .bind(&n.id_number.hash)
    .bind(&n.id_number.masked)
    .bind(&n.phone.sealed.ciphertext)
    .bind(&n.phone.sealed.key_id)
    .bind(&n.phone.hash)
    .bind(&n.phone.masked)
    .bind(&s.complaint.filed_by)
    .bind(n.idempotency_key)
    .bind(n.request_hash)
    .bind(s.filed_at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if !written {
        return Ok(false);
    }
    if let (Some(fire_at), Some(due)) = (n.fire_at, s.complaint.due_date) {
        crate::store::timers::arm(tx, s.id, s.center_id(), due, fire_at).await?;
    }
    outbox::enqueue(tx, event).await?;
    Ok(true)
}

const COLUMNS: &str =
    "id, complaint_no, channel, content, demand, sensitive, name_masked, id_number_masked,
    phone_masked, filed_at, state";

fn stored(r: &PgRow, state_column: &str) -> sqlx::Result<Stored> {
    let state: serde_json::Value = r.try_get(state_column)?;
    Ok(Stored {
        id: r.try_get("id")?,
        complaint_no: r.try_get("complaint_no")?,
        channel: r.try_get("channel")?,
        content: r.try_get("content")?,
        demand: r.try_get("demand")?,
        sensitive: r.try_get("sensitive")?,
        name_masked: r.try_get("name_masked")?,
        id_number_masked: r.try_get("id_number_masked")?,
        phone_masked: r.try_get("phone_masked")?,
        filed_at: r.try_get("filed_at")?,
        complaint: serde_json::from_value(state).map_err(|e| sqlx::Error::Decode(e.into()))?,
    })
}

/// An earlier filing under `filed_by`'s key: its request hash and the
/// complaint as that filing answered it.
pub async fn by_idempotency_key(
    conn: &mut PgConnection,
    filed_by: &str,
    key: &str,
) -> sqlx::Result<Option<(Vec<u8>, Stored)>> {
    let sql = format!(
        "SELECT {COLUMNS}, first_state, request_hash FROM complaints WHERE filed_by = $1 AND idempotency_key = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(filed_by)
        .bind(key)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get("request_hash")?, stored(&r, "first_state")?)))
        .transpose()
}

/// Who a complaint belongs to, for the permission table.
pub struct Owner {
    pub center_id: String,
    pub filed_by: String,
}

pub async fn owner(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Owner>> {
    let row = sqlx::query("SELECT center_id, filed_by FROM complaints WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(Owner {
            center_id: r.try_get("center_id")?,
            filed_by: r.try_get("filed_by")?,
        })
    })
    .transpose()
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Stored>> {
    let sql = format!("SELECT {COLUMNS} FROM complaints WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| stored(&r, "state")).transpose()
}

/// The complaint, locked for one change.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Stored>> {
    let sql = format!("SELECT {COLUMNS} FROM complaints WHERE id = $1 FOR UPDATE");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(tx)
        .await?;
    row.map(|r| stored(&r, "state")).transpose()
}

pub async fn save(tx: &mut PgConnection, s: &Stored) -> sqlx::Result<()> {
    let state = serde_json::to_value(&s.complaint).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "UPDATE complaints SET state = $2, status = $3, owner = $4, due_date = $5, updated_at = now()
         WHERE id = $1",
    )
    .bind(s.id)
    .bind(&state)
    .bind(s.complaint.status.as_str())
    .bind(&s.complaint.owner)
    .bind(s.complaint.due_date)
    .execute(tx)
    .await?;
    Ok(())
}

/// What a list covers.
pub struct Filter {
    /// One center, or all.
    pub center: Option<String>,
    /// Only what this subject filed (a resident's own).
    pub filed_by: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
}

pub async fn list(conn: &mut PgConnection, f: &Filter) -> sqlx::Result<Vec<Stored>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM complaints
         WHERE ($1::text IS NULL OR center_id = $1) AND ($2::text IS NULL OR filed_by = $2)
           AND ($3::text IS NULL OR status = $3)
         ORDER BY filed_at DESC LIMIT $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&f.center)
        .bind(&f.filed_by)
        .bind(&f.status)
        .bind(f.limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| stored(r, "state")).collect()
}
