//! Applications and their timelines: what is stored, and nothing else.
//! The rules are the domain's ([`crate::domain::status`],
//! [`crate::domain::submission`]); the order of a change is the flow's.

use super::notices::{ADDRESSEE_COLUMNS, Addressee};
use crate::domain::answers::Supplement;
use crate::domain::catalog::ChecklistItem;
use crate::domain::status::Status;
use crate::domain::timeline;
use bianmin_common::db::{self, Scope};
use bianmin_common::notify;
use bianmin_common::outbox::{self, OutboxEvent};
use bianmin_common::pii::Sealed;
use bianmin_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// An application's status column, read as the domain's [`Status`].
fn status(r: &PgRow) -> sqlx::Result<Status> {
    let raw: String = r.try_get("status")?;
    Status::parse(&raw).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: "status".into(),
        source: format!("unknown application status {raw:?}").into(),
    })
}

/// An earlier submission under an idempotency key.
pub struct Keyed {
    pub id: Uuid,
    /// The keyed hash of the request it was made with.
    pub request_hash: Vec<u8>,
}

/// The earlier submission under `submitter`'s idempotency `key`.
pub async fn by_idempotency_key(
    conn: &mut PgConnection,
    submitter: &str,
    key: &str,
) -> sqlx::Result<Option<Keyed>> {
    let row = sqlx::query("SELECT id, request_hash FROM applications WHERE submitted_by = $1 AND idempotency_key = $2")
        .bind(submitter)
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| Keyed {
        id: r.get("id"),
        request_hash: r
            .get::<Option<Vec<u8>>, _>("request_hash")
            .unwrap_or_default(),
    }))
}

/// A personal value as a new application stores it: sealed, with its
/// keyed hash for exact look-up and its masked form for display.
pub struct Protected {
    pub sealed: Sealed,
    pub hash: Vec<u8>,
    pub masked: String,
}

/// A new application with everything written with it: its first timeline
/// entry, its notice and its `ApplicationSubmitted` event.
pub struct NewApplication<'a> {
    pub id: Uuid,
    pub application_no: &'a str,
    pub center_id: &'a str,
    pub service_type: &'a str,
    /// The type's version the submission was checked against: nothing is
    /// written if the type changed or was retired since.
    pub service_type_version: i32,
    pub channel: &'a str,
    pub applicant_name: &'a str,
    pub id_number: &'a Protected,
    pub phone: &'a Protected,
    pub reason: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: &'a [u8],
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: &'a str,
    pub urgent: bool,
    pub urgent_reason: &'a str,
    pub departments: &'a [String],
    pub received_by: Option<&'a str>,
    pub preliminary_review_days: u32,
    pub extended_review_days: u32,
    pub decision_days: u32,
    pub checklist: &'a [ChecklistItem],
    pub entry: &'a timeline::Entry,
    pub notice: &'a notify::Notification,
    pub event: &'a OutboxEvent,
}

/// Writes a new application, its first timeline entry, its notice and its
/// event in one statement (a single statement commits or fails as a
/// whole, durably, like any transaction); false when nothing was written:
/// the idempotency key was used before (by an earlier submission, or a
/// concurrent retry that committed first), or the service type changed or
/// was retired since it was read.
///
/// One statement rather than a transaction: every statement inside a
/// transaction is a round trip while it stays open, and under load the
/// service waits for a CPU at each (the backends' top wait was `ClientRead`
/// while idle in transaction, spread evenly over the statements). The
/// write takes the share lock on the service type itself, so an
/// application is never accepted under a type retired meanwhile, nor
/// stored with a definition that was no longer current; the idempotency
/// key is checked by the insert (its unique index) rather than by a read
/// before.
#[tracing::instrument(name = "db.submit", skip_all)]
pub async fn insert_submitted(
    conn: &mut PgConnection,
    a: &NewApplication<'_>,
) -> sqlx::Result<bool> {
    // The application first; the other three rows only with it (`FROM
    // app`): a reused key or a type retired since the check writes nothing.
    let sql = format!(
        "WITH st AS (
             SELECT code FROM service_types WHERE code = $4 AND retired_at IS NULL AND version = $44
             FOR SHARE
         ), app AS (
             INSERT INTO applications (id, application_no, center_id, service_type, channel, applicant_name,
                 id_number_sealed, id_number_key_id, id_number_hash, id_number_masked,
                 phone_sealed, phone_key_id, phone_hash, phone_masked,
                 reason, status, idempotency_key, request_hash, submitted_at, submitted_by, urgent, urgent_reason,
                 departments, received_by, preliminary_review_days, extended_review_days, decision_days, checklist)
             SELECT $1, $2, $3, st.code, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, '{submitted}', $16, $17, $18,
                 $19, $20, $21, $22, $23, $24, $25, $26, $27
             FROM st
             ON CONFLICT (submitted_by, idempotency_key) DO NOTHING
             RETURNING id, center_id
         ), entry AS (
             INSERT INTO timeline_entries (application_id, center_id, kind, title, detail, at)
             SELECT id, center_id, $28, $29, $30, $18 FROM app
         ), notice AS (
             INSERT INTO notifications ({notice_columns})
             SELECT $31, $32, $33, $34, $35, $36, $37, $38 FROM app
             ON CONFLICT (dedupe_key) DO NOTHING
         ), event AS (
             INSERT INTO outbox ({event_columns})
             SELECT $39, $40, $41, $42, $43 FROM app
         )
         SELECT count(*) FROM app",
        submitted = Status::Submitted.as_str(),
        notice_columns = notify::INSERT_COLUMNS,
        event_columns = outbox::INSERT_COLUMNS,
    );
    let checklist = serde_json::to_value(a.checklist).unwrap_or_default();
    let notice = a.notice.row();
    let (entry, event) = (a.entry, a.event);
    let written: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(a.id)
        .bind(a.application_no)
        .bind(a.center_id)
        .bind(a.service_type)
        .bind(a.channel)
        .bind(a.applicant_name)
        .bind(&a.id_number.sealed.ciphertext)
        .bind(&a.id_number.sealed.key_id)
        .bind(&a.id_number.hash)
        .bind(&a.id_number.masked)
        .bind(&a.phone.sealed.ciphertext)
        .bind(&a.phone.sealed.key_id)
        .bind(&a.phone.hash)
        .bind(&a.phone.masked)
        .bind(a.reason)
        .bind(a.idempotency_key)
        .bind(a.request_hash)
        .bind(a.submitted_at)
        .bind(a.submitted_by)
        .bind(a.urgent)
        .bind(a.urgent_reason)
        .bind(a.departments)
        .bind(a.received_by)
        .bind(a.preliminary_review_days as i32)
        .bind(a.extended_review_days as i32)
        .bind(a.decision_days as i32)
        .bind(&checklist)
        .bind(entry.kind)
        .bind(&entry.title)
        .bind(&entry.detail)
        .bind(notice.dedupe_key)
        .bind(notice.channel)
        .bind(notice.recipient)
        .bind(notice.sealed)
        .bind(notice.key_id)
        .bind(notice.context)
        .bind(notice.template)
        .bind(&notice.params)
        .bind(event.event_id)
        .bind(event.subject)
        .bind(event.event_type)
        .bind(&event.payload)
        .bind(OutboxEvent::traceparent())
        .bind(a.service_type_version)
        .fetch_one(conn)
        .await?;
    Ok(written > 0)
}

/// Adds an entry to an application's timeline.
pub async fn add_entry(
    tx: &mut PgConnection,
    application_id: Uuid,
    entry: &timeline::Entry,
    at: DateTime<Utc>,
    event_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        // The entry takes its application's center (row-level security;
        // nothing is written for an application the scope does not see).
        "INSERT INTO timeline_entries (application_id, center_id, kind, title, detail, at, event_id)
         SELECT a.id, a.center_id, $2, $3, $4, $5, $6 FROM applications a WHERE a.id = $1
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(application_id)
    .bind(entry.kind)
    .bind(&entry.title)
    .bind(&entry.detail)
    .bind(at)
    .bind(event_id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Where an application belongs and who submitted it, for the permission
/// check that comes before reading it.
#[derive(Clone, Debug)]
pub struct Owner {
    pub id: Uuid,
    pub center_id: String,
    pub submitted_by: String,
}

fn owner_of(r: &PgRow) -> Owner {
    Owner {
        id: r.get("id"),
        center_id: r.get("center_id"),
        submitted_by: r.get("submitted_by"),
    }
}

///
/// Every center's rows (`Scope::AllCenters`): this is the look-up the
/// permission table decides on (and audits a refusal after), so it must
/// find another center's application to refuse it; it returns only the
/// center and the submitter, never the record.
pub async fn owner(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Owner>> {
    let mut tx = db::begin(pool, &Scope::AllCenters).await?;
    let row = sqlx::query("SELECT id, center_id, submitted_by FROM applications WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.as_ref().map(owner_of))
}

/// [`owner`] by application number: partners know the number printed on
/// the resident's receipt, not the internal id.
/// Every center's rows, as [`owner`].
pub async fn owner_by_no(pool: &PgPool, application_no: &str) -> sqlx::Result<Option<Owner>> {
    let mut tx = db::begin(pool, &Scope::AllCenters).await?;
    let row = sqlx::query(
        "SELECT id, center_id, submitted_by FROM applications WHERE application_no = $1",
    )
    .bind(application_no)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.as_ref().map(owner_of))
}

/// A timeline entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Recorded {
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Review's case of an application, once review opened it.
#[derive(Clone, Debug)]
pub struct ReviewCase {
    pub case_id: Uuid,
    pub stage: String,
    /// None when no limit runs (decided, closed, withdrawn).
    pub due_date: Option<NaiveDate>,
}

/// An application as stored, personal data masked; with who may see it.
#[derive(Clone, Debug)]
pub struct Stored {
    pub id: Uuid,
    pub application_no: String,
    pub center_id: String,
    pub service_type: String,
    pub channel: String,
    pub status: Status,
    pub applicant_name: String,
    pub id_number_masked: String,
    pub phone_masked: String,
    pub reason: String,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
    pub timeline: Vec<Recorded>,
    pub review: Option<ReviewCase>,
    pub urgent: bool,
    pub urgent_reason: String,
    pub missing_items: Vec<String>,
    pub supplement_reason: String,
    pub departments: Vec<String>,
    pub received_by: Option<String>,
    /// The checklist the application was submitted under.
    pub checklist: Vec<ChecklistItem>,
}

/// One application with its owner and its timeline, in one statement. A
/// status look-up used to take four round trips (owner, application,
/// timeline, files), and under load each waited for a CPU.
#[tracing::instrument(name = "db.get_application", skip_all)]
pub async fn read(pool: &PgPool, scope: &Scope, id: Uuid) -> sqlx::Result<Option<Stored>> {
    let mut tx = db::begin(pool, scope).await?;
    let Some(r) = sqlx::query(
        "SELECT a.id, a.application_no, a.center_id, a.service_type, a.channel, a.applicant_name, a.id_number_masked,
                a.phone_masked, a.reason, a.status, a.submitted_at, a.review_case_id, a.review_stage, a.review_due_date,
                a.urgent, a.urgent_reason, a.missing_items, a.supplement_reason,
                a.departments, a.received_by, a.submitted_by,
                -- Applications from before checklists were kept read today's.
                COALESCE(a.checklist, s.materials) AS checklist,
                (SELECT COALESCE(json_agg(json_build_object('kind', t.kind, 'title', t.title,
                            'detail', t.detail, 'at', t.at) ORDER BY t.at, t.id), '[]')
                   FROM timeline_entries t WHERE t.application_id = a.id) AS timeline
         FROM applications a JOIN service_types s ON s.code = a.service_type WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    // The same entries as [`timeline_of`], in the same order.
    let timeline: Vec<Recorded> =
        serde_json::from_value(r.get("timeline")).map_err(|e| sqlx::Error::ColumnDecode {
            index: "timeline".into(),
            source: e.into(),
        })?;
    // Once review opened the case it stays visible.
    let review = r
        .get::<Option<Uuid>, _>("review_case_id")
        .map(|case_id| ReviewCase {
            case_id,
            stage: r
                .get::<Option<String>, _>("review_stage")
                .unwrap_or_default(),
            due_date: r.get("review_due_date"),
        });
    Ok(Some(Stored {
        id: r.get("id"),
        application_no: r.get("application_no"),
        center_id: r.get("center_id"),
        service_type: r.get("service_type"),
        channel: r.get("channel"),
        status: status(&r)?,
        applicant_name: r.get("applicant_name"),
        id_number_masked: r.get("id_number_masked"),
        phone_masked: r.get("phone_masked"),
        reason: r.get("reason"),
        submitted_at: r.get("submitted_at"),
        submitted_by: r.get("submitted_by"),
        timeline,
        review,
        urgent: r.get("urgent"),
        urgent_reason: r.get("urgent_reason"),
        missing_items: r.get("missing_items"),
        supplement_reason: r.get("supplement_reason"),
        departments: r.get("departments"),
        received_by: r.get("received_by"),
        checklist: super::catalog::checklist_from_json(r.get("checklist")),
    }))
}

/// An application's timeline, oldest first.
pub async fn timeline_of(pool: &PgPool, scope: &Scope, id: Uuid) -> sqlx::Result<Vec<Recorded>> {
    let mut tx = db::begin(pool, scope).await?;
    let entries = sqlx::query("SELECT kind, title, detail, at FROM timeline_entries WHERE application_id = $1 ORDER BY at, id")
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
    Ok(entries
        .into_iter()
        .map(|e| Recorded {
            kind: e.get("kind"),
            title: e.get("title"),
            detail: e.get("detail"),
            at: e.get("at"),
        })
        .collect())
}

/// Records that review opened the case; the applicant as the application
/// now stands, or `None` when the application is unknown.
pub async fn review_opened(
    tx: &mut PgConnection,
    event_id: Uuid,
    e: &ev::ReviewCaseOpened,
) -> Result<Option<Addressee>, sqlx::Error> {
    let (case, envelope) = (
        e.case_ref.clone().unwrap_or_default(),
        e.envelope.clone().unwrap_or_default(),
    );
    let (Ok(application_id), Ok(case_id), Ok(due)) = (
        Uuid::parse_str(&case.application_id),
        Uuid::parse_str(&case.case_id),
        e.due_date.parse::<NaiveDate>(),
    ) else {
        return Ok(None);
    };
    let at = DateTime::parse_from_rfc3339(&envelope.occurred_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let entry = timeline::review_opened(&case.stage, due, e.limit_working_days);
    // The change, its timeline entry (`$5`..) and who to tell, in one
    // statement (see `with_entry`).
    let updated = sqlx::query(sqlx::AssertSqlSafe(with_entry(
        // Withdrawn before review opened the case: it stays withdrawn (the
        // withdrawal ends the case as soon as review takes it).
        "UPDATE applications SET status = CASE WHEN status = 'withdrawn' THEN status ELSE 'in_review' END,
            review_case_id = $2, review_stage = $3,
            review_due_date = CASE WHEN status = 'withdrawn' THEN NULL ELSE $4 END
         WHERE id = $1",
        5,
    )))
    .bind(application_id)
    .bind(case_id)
    .bind(&case.stage)
    .bind(due)
    .bind(Some(entry.kind))
    .bind(&entry.title)
    .bind(&entry.detail)
    .bind(at)
    .bind(event_id)
    .fetch_optional(&mut *tx)
    .await?;
    updated.as_ref().map(Addressee::from_row).transpose()
}

/// Wraps a consumer's `UPDATE applications ... WHERE id = $1` so the same
/// statement adds the event's timeline entry (kind, title, detail, at,
/// event id from `$first`; no entry when the kind is NULL) and returns the
/// applicant ([`ADDRESSEE_COLUMNS`]), or no row for an unknown application.
/// One round trip per event instead of three (update, entry, read for the
/// notice), inside the consumer's transaction.
fn with_entry(update: &str, first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        "WITH u AS ({update} RETURNING {ADDRESSEE_COLUMNS}, center_id AS entry_center),
         e AS (
             INSERT INTO timeline_entries (application_id, center_id, kind, title, detail, at, event_id)
             SELECT id, entry_center, {kind}::text, {title}, {detail}, {at}, {event} FROM u WHERE {kind}::text IS NOT NULL
             ON CONFLICT (event_id) DO NOTHING
         )
         SELECT {ADDRESSEE_COLUMNS} FROM u",
        kind = p(0),
        title = p(1),
        detail = p(2),
        at = p(3),
        event = p(4),
    )
}

/// Review asking for supplements: the missing items, why, and the working
/// days left when the clock runs again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupplementRequest {
    pub missing_items: Vec<String>,
    pub reason: String,
    pub remaining_working_days: u32,
}

/// What a later review event changes on an application.
pub struct Progress<'a> {
    pub application_id: &'a str,
    pub occurred_at: &'a str,
    /// The case's stage now.
    pub stage: &'a str,
    /// The status residents read; None leaves it.
    pub status: Option<Status>,
    /// Some(date or "") sets the due date ("" clears it); None leaves it.
    pub due_date: Option<&'a str>,
    pub entry: Option<timeline::Entry>,
    pub supplement: Option<SupplementRequest>,
}

/// Applies a review event to the application and its timeline; the
/// applicant as the application now stands, or `None` when the application
/// is unknown.
pub async fn review_progress(
    tx: &mut PgConnection,
    event_id: Uuid,
    p: Progress<'_>,
) -> Result<Option<Addressee>, sqlx::Error> {
    let Ok(application_id) = Uuid::parse_str(p.application_id) else {
        return Ok(None);
    };
    let due = p.due_date.map(|d| d.parse::<NaiveDate>().ok());
    let (missing, why, remaining) = match &p.supplement {
        Some(asked) => (
            Some(asked.missing_items.clone()),
            asked.reason.as_str(),
            Some(asked.remaining_working_days as i32),
        ),
        None => (None, "", None),
    };
    // A withdrawn application stays withdrawn: events review wrote before
    // it took the withdrawal change nothing but the stage, except a
    // decision, which came first and stands (review refuses the withdrawal).
    // A request for supplements replaces the list; the case moving on
    // (any other status) clears it.
    let at = DateTime::parse_from_rfc3339(p.occurred_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let entry = p.entry.as_ref();
    let updated = sqlx::query(sqlx::AssertSqlSafe(with_entry(
        "UPDATE applications SET review_stage = COALESCE(NULLIF($2, ''), review_stage),
            status = CASE WHEN status = 'withdrawn' AND $3 IS DISTINCT FROM 'approved' AND $3 IS DISTINCT FROM 'rejected'
                          THEN status ELSE COALESCE($3, status) END,
            review_due_date = CASE WHEN $4 THEN $5 ELSE review_due_date END,
            missing_items = CASE WHEN $6::text[] IS NOT NULL THEN $6 WHEN $3 IS NOT NULL THEN '{}' ELSE missing_items END,
            supplement_reason = CASE WHEN $6::text[] IS NOT NULL THEN $7 WHEN $3 IS NOT NULL THEN '' ELSE supplement_reason END,
            supplement_remaining_days = CASE WHEN $6::text[] IS NOT NULL THEN $8 WHEN $3 IS NOT NULL THEN NULL ELSE supplement_remaining_days END,
            supplement_answer = CASE WHEN $6::text[] IS NOT NULL THEN NULL ELSE supplement_answer END
         WHERE id = $1",
        9,
    )))
    .bind(application_id)
    .bind(p.stage)
    .bind(p.status.map(Status::as_str))
    .bind(due.is_some())
    .bind(due.flatten())
    .bind(missing)
    .bind(why)
    .bind(remaining)
    .bind(entry.map(|e| e.kind))
    .bind(entry.map(|e| e.title.as_str()).unwrap_or_default())
    .bind(entry.map(|e| e.detail.as_str()).unwrap_or_default())
    .bind(at)
    .bind(event_id)
    .fetch_optional(&mut *tx)
    .await?;
    updated.as_ref().map(Addressee::from_row).transpose()
}

/// The application's state, locked until the transaction ends.
pub struct Locked {
    pub status: Status,
    pub center_id: String,
    pub missing_items: Vec<String>,
    /// The answer recorded for the latest supplement request, if any.
    pub answer: Option<Supplement>,
}

/// Locks application `id` for a change; `None` when there is none.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Locked>> {
    let Some(r) = sqlx::query(
        "SELECT status, center_id, missing_items, supplement_answer FROM applications WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let answer: Option<serde_json::Value> = r.get("supplement_answer");
    Ok(Some(Locked {
        status: status(&r)?,
        center_id: r.get("center_id"),
        missing_items: r.get("missing_items"),
        answer: answer.and_then(|a| serde_json::from_value(a).ok()),
    }))
}

/// Records the applicant's answer to the supplement request.
pub async fn record_supplement(
    tx: &mut PgConnection,
    id: Uuid,
    answer: &Supplement,
) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE applications SET status = '{}', supplement_answer = $2 WHERE id = $1",
        Status::SupplementReceived.as_str()
    )))
    .bind(id)
    .bind(sqlx::types::Json(answer))
    .execute(tx)
    .await?;
    Ok(())
}

/// Marks the application withdrawn: no limit runs and no supplement is
/// awaited any more.
pub async fn record_withdrawal(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE applications SET status = '{}', review_due_date = NULL, missing_items = '{{}}',
            supplement_reason = '', supplement_remaining_days = NULL WHERE id = $1",
        Status::Withdrawn.as_str()
    )))
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}
