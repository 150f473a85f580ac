//! Applications and their timelines.

use super::notices::{ADDRESSEE_COLUMNS, Addressee};
use crate::domain::{answers, materials, notices, submission, timeline};
use bianmin_common::auth::Principal;
use bianmin_common::calendar;
use bianmin_common::error::{ApiError, FieldViolation};
use bianmin_common::notify;
use bianmin_common::outbox::{self, OutboxEvent};
use bianmin_common::pii::{self, PiiKeys};
use bianmin_proto::{events::v1 as ev, intake::v1 as pb, subjects};
use chrono::{DateTime, NaiveDate, SubsecRound as _, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// The result of a submission.
pub struct Submitted {
    pub id: Uuid,
    /// True when an earlier submission with the same idempotency key is
    /// being returned.
    pub replayed: bool,
    /// The new application as [`get`] would read it back, built from what
    /// was just written (nothing else can have changed it before the answer
    /// goes out); `None` for a replay, which reads the stored one.
    pub view: Option<pb::Application>,
}

/// Keyed hash of the normalised request, to tell a retry (same body) from
/// a reused key (different body) without keeping the body in clear.
fn request_hash(keys: &PiiKeys, v: &submission::Valid) -> Vec<u8> {
    let mut canonical = serde_json::json!([
        v.center_id,
        v.service_type,
        v.channel,
        v.name,
        v.id_number,
        v.phone,
        v.reason
    ]);
    // Only urgent requests carry the flag, so a plain request hashes as it
    // did before urgency existed (a retry across an upgrade still replays).
    if v.urgent
        && let Some(fields) = canonical.as_array_mut()
    {
        fields.extend([serde_json::json!(true), serde_json::json!(v.urgent_reason)]);
    }
    // Only when named, so a retry of a request from before departments
    // existed still matches its first answer.
    if let (false, Some(parts)) = (v.departments.is_empty(), canonical.as_array_mut()) {
        parts.push(serde_json::json!(v.departments));
    }
    keys.lookup_hash("submit-request", &canonical.to_string())
}

async fn existing_by_key(
    tx: &mut PgConnection,
    submitter: &str,
    key: &str,
) -> sqlx::Result<Option<(Uuid, Vec<u8>)>> {
    let row = sqlx::query("SELECT id, request_hash FROM applications WHERE submitted_by = $1 AND idempotency_key = $2")
        .bind(submitter)
        .bind(key)
        .fetch_optional(tx)
        .await?;
    Ok(row.map(|r| {
        (
            r.get("id"),
            r.get::<Option<Vec<u8>>, _>("request_hash")
                .unwrap_or_default(),
        )
    }))
}

/// The earlier submission under the caller's `key`: replayed for the same
/// body, `409` for another; `None` when there is none (or no key).
async fn earlier(
    conn: &mut PgConnection,
    submitter: &str,
    key: Option<&str>,
    hash: &[u8],
) -> Result<Option<Submitted>, ApiError> {
    let Some(key) = key else {
        return Ok(None);
    };
    match existing_by_key(conn, submitter, key).await? {
        Some(found) => replay_or_conflict(found, hash).map(Some),
        None => Ok(None),
    }
}

fn replay_or_conflict(found: (Uuid, Vec<u8>), hash: &[u8]) -> Result<Submitted, ApiError> {
    if found.1 == hash {
        Ok(Submitted {
            id: found.0,
            replayed: true,
            view: None,
        })
    } else {
        Err(ApiError::Conflict(
            "该幂等键已用于另一份不同的申请 (Idempotency-Key was already used with a different request)".into(),
        ))
    }
}

/// Stores a validated application, its first timeline entry, its notice
/// and its `ApplicationSubmitted` event, atomically.
///
/// Two statements, no explicit transaction: the catalog checks, then one
/// statement that writes all four rows (a single statement commits or fails
/// as a whole, durably, like any transaction). Every statement inside a
/// transaction is a round trip while it stays open, and under load the
/// service waits for a CPU at each (the backends' top wait was `ClientRead`
/// while idle in transaction, spread evenly over the statements), so the
/// submission used to hold a transaction open across eleven of them.
///
/// The write takes the share lock on the service type itself and writes
/// nothing if the type was retired or changed since the check (then the
/// check runs again), so an application is still never accepted under a
/// type retired meanwhile, nor stored with a definition that was no longer
/// current; the idempotency key is checked by the insert (its unique index)
/// rather than by a read before.
#[tracing::instrument(name = "db.submit", skip_all)]
pub async fn submit(
    pool: &PgPool,
    keys: &PiiKeys,
    v: &submission::Valid,
    submitter: &str,
    idempotency_key: Option<&str>,
) -> Result<Submitted, ApiError> {
    // The type changing between the check and the write is as rare as an
    // administrator's edit landing in that millisecond; checking again
    // then gives the answer the new definition gives.
    for _ in 0..3 {
        if let Some(done) = attempt(pool, keys, v, submitter, idempotency_key).await? {
            return Ok(done);
        }
    }
    Err(ApiError::Unavailable(
        "服务事项正在修改，请稍后重试 (the service type is being changed; retry)".into(),
    ))
}

/// One submission attempt; `None` when the service type changed (or was
/// retired) between the check and the write, and nothing was written.
async fn attempt(
    pool: &PgPool,
    keys: &PiiKeys,
    v: &submission::Valid,
    submitter: &str,
    idempotency_key: Option<&str>,
) -> Result<Option<Submitted>, ApiError> {
    let hash = request_hash(keys, v);
    let mut conn = pool.acquire().await?;
    let checked =
        super::catalog::for_submission(&mut conn, &v.service_type, &v.center_id, &v.departments)
            .await?;
    let (center_name, service_type, unknown_departments, seq) = match checked {
        Some(c) => (
            c.center_name,
            Some(c.service_type),
            c.unknown_departments,
            Some(c.seq),
        ),
        None => (
            super::catalog::center_name(&mut conn, &v.center_id).await?,
            None,
            super::catalog::unknown_departments(&mut conn, &v.departments).await?,
            None,
        ),
    };

    let mut violations = Vec::new();
    if center_name.is_none() {
        violations.push(FieldViolation::new(
            "center_id",
            "center_unknown",
            format!("服务中心 {} 不存在 (no such center)", v.center_id),
        ));
    }
    match &service_type {
        None => violations.push(FieldViolation::new(
            "service_type",
            "service_type_unknown",
            format!("服务事项 {} 不存在 (no such service type)", v.service_type),
        )),
        Some(t) if !t.active() => violations.push(retired(&v.service_type)),
        Some(_) => {}
    }
    for unknown in unknown_departments {
        let i = v
            .departments
            .iter()
            .position(|d| *d == unknown)
            .unwrap_or(0);
        violations.push(FieldViolation::new(
            format!("departments[{i}]"),
            "department_unknown",
            format!("部门 {unknown} 不在部门目录中 (unknown department; see GET /api/v1/catalog/services)"),
        ));
    }
    let (Some(center_name), Some(service_type), Some(seq), true) =
        (center_name, service_type, seq, violations.is_empty())
    else {
        // A retry returns the first result even when the catalog has moved
        // on since (the type retired, say): the key decides before the rules.
        return match earlier(&mut conn, submitter, idempotency_key, &hash).await? {
            Some(first) => Ok(Some(first)),
            None => Err(ApiError::Invalid(violations)),
        };
    };
    let policy = &service_type.definition;

    let id = Uuid::now_v7();
    // At the database's precision, so the answer built below shows the
    // instant exactly as a later read of the row does.
    let now = Utc::now().trunc_subsecs(6);
    let application_no = format!(
        "{}-{}-{seq:06}",
        v.center_id,
        calendar::local_date(now).format("%Y%m%d")
    );
    let sealed = |value: &str, column: &str| {
        keys.seal(value, &format!("applications.{column}:{id}"))
            .map_err(|e| ApiError::Internal(e.into()))
    };
    let id_sealed = sealed(&v.id_number, "id_number")?;
    let phone_sealed = sealed(&v.phone, "phone")?;
    let id_masked = pii::mask_id_number(&v.id_number);
    let phone_masked = pii::mask_phone(&v.phone);
    let checklist = serde_json::to_value(&policy.materials).unwrap_or_default();
    let entry = timeline::submitted(submission::channel_label(&v.channel), &center_name);
    let addressee = super::notices::Addressee {
        id,
        application_no: application_no.clone(),
        channel: v.channel.clone(),
        status: "submitted".into(),
        phone: phone_sealed.clone(),
        phone_masked: phone_masked.clone(),
    };
    let notification =
        super::notices::notification(&addressee, notices::submitted(&application_no), "once")
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("a new application has no notice"))
            })?;
    let notice = notification.row();
    let event_id = Uuid::now_v7();
    let event = ev::ApplicationSubmitted {
        event_id: event_id.to_string(),
        occurred_at: now.to_rfc3339(),
        application_id: id.to_string(),
        application_no: application_no.clone(),
        center_id: v.center_id.clone(),
        service_type: v.service_type.clone(),
        channel: v.channel.clone(),
        preliminary_review_days: policy.preliminary_review_days,
        extended_review_days: policy.extended_review_days,
        decision_days: policy.decision_days,
        urgent: v.urgent,
        departments: v.departments.clone(),
    };
    let event = OutboxEvent::new(
        event_id,
        subjects::APPLICATION_SUBMITTED,
        "ApplicationSubmitted",
        &event,
    );

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
             SELECT $1, $2, $3, st.code, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'submitted', $16, $17, $18,
                 $19, $20, $21, $22, $23, $24, $25, $26, $27
             FROM st
             ON CONFLICT (submitted_by, idempotency_key) DO NOTHING
             RETURNING id
         ), entry AS (
             INSERT INTO timeline_entries (application_id, kind, title, detail, at)
             SELECT id, $28, $29, $30, $18 FROM app
         ), notice AS (
             INSERT INTO notifications ({notice_columns})
             SELECT $31, $32, $33, $34, $35, $36, $37, $38 FROM app
             ON CONFLICT (dedupe_key) DO NOTHING
         ), event AS (
             INSERT INTO outbox ({event_columns})
             SELECT $39, $40, $41, $42, $43 FROM app
         )
         SELECT count(*) FROM app",
        notice_columns = notify::INSERT_COLUMNS,
        event_columns = outbox::INSERT_COLUMNS,
    );
    let written: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&application_no)
        .bind(&v.center_id)
        .bind(&v.service_type)
        .bind(&v.channel)
        .bind(&v.name)
        .bind(&id_sealed.ciphertext)
        .bind(&id_sealed.key_id)
        .bind(keys.lookup_hash("id_number", &v.id_number))
        .bind(&id_masked)
        .bind(&phone_sealed.ciphertext)
        .bind(&phone_sealed.key_id)
        .bind(keys.lookup_hash("phone", &v.phone))
        .bind(&phone_masked)
        .bind(&v.reason)
        .bind(idempotency_key)
        .bind(&hash)
        .bind(now)
        .bind(submitter)
        .bind(v.urgent)
        .bind(&v.urgent_reason)
        .bind(&v.departments)
        .bind(&v.received_by)
        .bind(policy.preliminary_review_days as i32)
        .bind(policy.extended_review_days as i32)
        .bind(policy.decision_days as i32)
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
        .bind(service_type.version)
        .fetch_one(&mut *conn)
        .await?;
    if written == 0 {
        // The key was used before (by an earlier submission, or a
        // concurrent retry that committed first), or the type changed or
        // was retired between the check and the write.
        return earlier(&mut conn, submitter, idempotency_key, &hash).await;
    }
    drop(conn);
    outbox::committed();
    notify::recorded(&notification);
    let view = first_view(FirstView {
        id,
        application_no,
        v,
        now,
        entry,
        id_masked,
        phone_masked,
        checklist: &policy.materials,
    });
    Ok(Some(Submitted {
        id,
        replayed: false,
        view: Some(view),
    }))
}

fn retired(service_type: &str) -> FieldViolation {
    FieldViolation::new(
        "service_type",
        "service_type_retired",
        format!("服务事项 {service_type} 已停止受理 (service type is retired)"),
    )
}

/// What a submission has just written, for [`first_view`].
struct FirstView<'a> {
    id: Uuid,
    application_no: String,
    v: &'a submission::Valid,
    now: DateTime<Utc>,
    entry: timeline::Entry,
    id_masked: String,
    phone_masked: String,
    checklist: &'a [crate::domain::catalog::ChecklistItem],
}

/// A new application as [`get`] reads it: submitted, one timeline entry,
/// no review yet, no materials, the type's checklist unsatisfied.
fn first_view(f: FirstView<'_>) -> pb::Application {
    let v = f.v;
    let at = f.now.to_rfc3339();
    pb::Application {
        id: f.id.to_string(),
        application_no: f.application_no,
        center_id: v.center_id.clone(),
        service_type: v.service_type.clone(),
        channel: v.channel.clone(),
        status: "submitted".into(),
        applicant: Some(pb::Applicant {
            name: v.name.clone(),
            id_number: f.id_masked,
            phone: f.phone_masked,
        }),
        reason: v.reason.clone(),
        submitted_at: at.clone(),
        timeline: vec![pb::TimelineEntry {
            kind: f.entry.kind.to_string(),
            title: f.entry.title,
            detail: f.entry.detail,
            at,
        }],
        review: None,
        urgent: v.urgent,
        missing_items: Vec::new(),
        supplement_reason: String::new(),
        urgent_reason: v.urgent_reason.clone(),
        departments: v.departments.clone(),
        received_by: v.received_by.clone().unwrap_or_default(),
        materials: Vec::new(),
        checklist: checklist_status(f.checklist, &[]),
    }
}

/// The checklist with each item marked satisfied when a material for it
/// was uploaded.
fn checklist_status(
    checklist: &[crate::domain::catalog::ChecklistItem],
    uploaded: &[String],
) -> Vec<pb::MaterialsChecklistStatus> {
    materials::satisfied(checklist, uploaded)
        .into_iter()
        .map(|(item, satisfied)| pb::MaterialsChecklistStatus {
            code: item.code.clone(),
            name: item.name.clone(),
            group: item.group.clone(),
            required: item.required,
            satisfied,
        })
        .collect()
}

async fn add_entry(
    tx: &mut PgConnection,
    application_id: Uuid,
    entry: &timeline::Entry,
    at: DateTime<Utc>,
    event_id: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO timeline_entries (application_id, kind, title, detail, at, event_id)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
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
pub async fn owner(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT center_id, submitted_by FROM applications WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (r.get("center_id"), r.get("submitted_by"))))
}

/// [`owner`] by application number, with the id: partners know the
/// number printed on the resident's receipt, not the internal id.
pub async fn owner_by_no(
    pool: &PgPool,
    application_no: &str,
) -> sqlx::Result<Option<(Uuid, String, String)>> {
    let row = sqlx::query(
        "SELECT id, center_id, submitted_by FROM applications WHERE application_no = $1",
    )
    .bind(application_no)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get("id"), r.get("center_id"), r.get("submitted_by"))))
}

/// One application with its timeline; PII masked.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<pb::Application>, ApiError> {
    Ok(read(pool, id).await?.map(|r| r.application))
}

/// An application as [`get`] reads it, with who may see it.
pub struct Read {
    pub application: pb::Application,
    pub center_id: String,
    pub submitted_by: String,
}

/// [`get`], with the owner for the caller's authorization: one statement
/// reads the application, its owner and its timeline (a second, its
/// files). A status look-up used to take four round trips (owner,
/// application, timeline, files), and under load each waited for a CPU.
#[tracing::instrument(name = "db.get_application", skip_all)]
pub async fn read(pool: &PgPool, id: Uuid) -> Result<Option<Read>, ApiError> {
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
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let timeline = timeline_from_json(r.get("timeline"))?;
    // Once review opened the case it stays visible; the due date is empty
    // when no limit runs (decided, closed, withdrawn).
    let review = r
        .get::<Option<Uuid>, _>("review_case_id")
        .map(|case_id| pb::ReviewInfo {
            case_id: case_id.to_string(),
            stage: r
                .get::<Option<String>, _>("review_stage")
                .unwrap_or_default(),
            due_date: r
                .get::<Option<NaiveDate>, _>("review_due_date")
                .map(|d| d.to_string())
                .unwrap_or_default(),
        });
    let materials = super::materials::list(pool, id).await?;
    let uploaded: Vec<String> = materials.iter().map(|m| m.item_code.clone()).collect();
    let checklist = super::catalog::checklist_from_json(r.get("checklist"));
    let checklist = checklist_status(&checklist, &uploaded);
    let application = pb::Application {
        id: r.get::<Uuid, _>("id").to_string(),
        application_no: r.get("application_no"),
        center_id: r.get("center_id"),
        service_type: r.get("service_type"),
        channel: r.get("channel"),
        status: r.get("status"),
        applicant: Some(pb::Applicant {
            name: r.get("applicant_name"),
            id_number: r.get("id_number_masked"),
            phone: r.get("phone_masked"),
        }),
        reason: r.get("reason"),
        submitted_at: r.get::<DateTime<Utc>, _>("submitted_at").to_rfc3339(),
        timeline,
        review,
        urgent: r.get("urgent"),
        missing_items: r.get("missing_items"),
        supplement_reason: r.get("supplement_reason"),
        urgent_reason: r.get("urgent_reason"),
        departments: r.get("departments"),
        received_by: r
            .get::<Option<String>, _>("received_by")
            .unwrap_or_default(),
        materials,
        checklist,
    };
    Ok(Some(Read {
        application,
        center_id: r.get("center_id"),
        submitted_by: r.get("submitted_by"),
    }))
}

/// An application's timeline, oldest first.
pub async fn timeline_of(pool: &PgPool, id: Uuid) -> sqlx::Result<Vec<pb::TimelineEntry>> {
    let entries = sqlx::query("SELECT kind, title, detail, at FROM timeline_entries WHERE application_id = $1 ORDER BY at, id")
        .bind(id)
        .fetch_all(pool)
        .await?;
    Ok(entries
        .into_iter()
        .map(|e| pb::TimelineEntry {
            kind: e.get("kind"),
            title: e.get("title"),
            detail: e.get("detail"),
            at: e.get::<DateTime<Utc>, _>("at").to_rfc3339(),
        })
        .collect())
}

/// The timeline as [`read`] aggregates it: the same entries as
/// [`timeline_of`], in the same order and format.
fn timeline_from_json(v: serde_json::Value) -> Result<Vec<pb::TimelineEntry>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Entry {
        kind: String,
        title: String,
        detail: String,
        at: DateTime<Utc>,
    }
    let entries: Vec<Entry> = serde_json::from_value(v)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading a timeline: {e}")))?;
    Ok(entries
        .into_iter()
        .map(|e| pb::TimelineEntry {
            kind: e.kind,
            title: e.title,
            detail: e.detail,
            at: e.at.to_rfc3339(),
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
    let (Ok(application_id), Ok(case_id), Ok(due)) = (
        Uuid::parse_str(&e.application_id),
        Uuid::parse_str(&e.case_id),
        e.due_date.parse::<NaiveDate>(),
    ) else {
        return Ok(None);
    };
    let at = DateTime::parse_from_rfc3339(&e.occurred_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let entry = timeline::review_opened(&e.stage, due, e.limit_working_days);
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
    .bind(&e.stage)
    .bind(due)
    .bind(Some(entry.kind))
    .bind(&entry.title)
    .bind(&entry.detail)
    .bind(at)
    .bind(event_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(updated.as_ref().map(Addressee::from_row))
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
        "WITH u AS ({update} RETURNING {ADDRESSEE_COLUMNS}),
         e AS (
             INSERT INTO timeline_entries (application_id, kind, title, detail, at, event_id)
             SELECT id, {kind}::text, {title}, {detail}, {at}, {event} FROM u WHERE {kind}::text IS NOT NULL
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

/// What a later review event changes on an application.
pub struct Progress<'a> {
    pub application_id: &'a str,
    pub occurred_at: &'a str,
    /// The case's stage now.
    pub stage: &'a str,
    /// The status residents read (in_review, awaiting_supplement, approved,
    /// rejected, in_service, closed); None leaves it.
    pub status: Option<&'static str>,
    /// Some(date or "") sets the due date ("" clears it); None leaves it.
    pub due_date: Option<&'a str>,
    pub entry: Option<timeline::Entry>,
    /// A supplement request: the missing items, why, and the working days
    /// left when the clock runs again.
    pub supplement: Option<(Vec<String>, String, u32)>,
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
        Some((items, why, remaining)) => {
            (Some(items.clone()), why.as_str(), Some(*remaining as i32))
        }
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
    .bind(p.status)
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
    Ok(updated.as_ref().map(Addressee::from_row))
}

/// The application's state, locked until the transaction ends.
struct Locked {
    status: String,
    center_id: String,
    missing_items: Vec<String>,
    answer: Option<serde_json::Value>,
}

async fn lock(tx: &mut PgConnection, id: Uuid) -> Result<Locked, ApiError> {
    let r = sqlx::query(
        "SELECT status, center_id, missing_items, supplement_answer FROM applications WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("申请 {id} 不存在 (application not found)")))?;
    Ok(Locked {
        status: r.get("status"),
        center_id: r.get("center_id"),
        missing_items: r.get("missing_items"),
        answer: r.get("supplement_answer"),
    })
}

/// Records the applicant's answer to a supplement request and announces it
/// (`ApplicationSupplemented`) in one transaction. A retry of the same
/// answer changes nothing; any answer while no request is open is refused.
#[tracing::instrument(name = "db.supplement", skip_all)]
pub async fn supplement(
    pool: &PgPool,
    id: Uuid,
    answer: &answers::Supplement,
    by: &Principal,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    let app = lock(&mut tx, id).await?;
    let given = serde_json::to_value(answer).map_err(|e| ApiError::Internal(e.into()))?;
    // The stored answer belongs to the latest request (a new request clears
    // it), so the same answer again is a retry, also once review has already
    // resumed the case on it.
    if app.status != "awaiting_supplement" && app.answer.as_ref() == Some(&given) {
        return Ok(());
    }
    if app.status != "awaiting_supplement" {
        return Err(ApiError::FailedPrecondition(format!(
            "申请当前状态为 {}，没有待补正的请求 (no supplement is awaited; status is {})",
            app.status, app.status
        )));
    }
    answers::covers(answer, &app.missing_items).map_err(ApiError::Invalid)?;
    sqlx::query(
        "UPDATE applications SET status = 'supplement_received', supplement_answer = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(&given)
    .execute(&mut *tx)
    .await?;
    let now = Utc::now();
    let entry =
        timeline::supplement_submitted(&answer.items, &answer.note, answers::on_behalf(by.role));
    add_entry(&mut tx, id, &entry, now, None).await?;
    let event_id = Uuid::now_v7();
    let event = ev::ApplicationSupplemented {
        event_id: event_id.to_string(),
        occurred_at: now.to_rfc3339(),
        application_id: id.to_string(),
        center_id: app.center_id,
        supplied_items: answer.items.clone(),
        note: answer.note.clone(),
        supplied_by: by.subject.clone(),
        supplied_by_role: by.role.as_str().to_string(),
    };
    outbox::enqueue(
        &mut tx,
        OutboxEvent::new(
            event_id,
            subjects::APPLICATION_SUPPLEMENTED,
            "ApplicationSupplemented",
            &event,
        ),
    )
    .await?;
    outbox::commit(tx).await?;
    Ok(())
}

/// Withdraws the application and announces it (`ApplicationWithdrawn`),
/// unless review has decided it already, or it was withdrawn before.
#[tracing::instrument(name = "db.withdraw", skip_all)]
pub async fn withdraw(
    pool: &PgPool,
    id: Uuid,
    reason: &str,
    by: &Principal,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    let app = lock(&mut tx, id).await?;
    if app.status == "withdrawn" {
        return Err(ApiError::FailedPrecondition(
            "该申请已撤回 (the application is already withdrawn)".into(),
        ));
    }
    if !answers::WITHDRAWABLE.contains(&app.status.as_str()) {
        return Err(ApiError::FailedPrecondition(format!(
            "申请已作出决定（{}），不能撤回 (decided applications cannot be withdrawn; status is {})",
            app.status, app.status
        )));
    }
    sqlx::query(
        "UPDATE applications SET status = 'withdrawn', review_due_date = NULL, missing_items = '{}',
            supplement_reason = '', supplement_remaining_days = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let now = Utc::now();
    let entry = timeline::withdrawn(reason, answers::on_behalf(by.role));
    add_entry(&mut tx, id, &entry, now, None).await?;
    if let Some(to) = super::notices::addressee(&mut tx, id).await? {
        let notice = notices::withdrawn(&to.application_no);
        super::notices::to_addressee(&mut tx, &to, notice, "once").await?;
    }
    let event_id = Uuid::now_v7();
    let event = ev::ApplicationWithdrawn {
        event_id: event_id.to_string(),
        occurred_at: now.to_rfc3339(),
        application_id: id.to_string(),
        center_id: app.center_id,
        reason: reason.to_string(),
        withdrawn_by: by.subject.clone(),
        withdrawn_by_role: by.role.as_str().to_string(),
    };
    outbox::enqueue(
        &mut tx,
        OutboxEvent::new(
            event_id,
            subjects::APPLICATION_WITHDRAWN,
            "ApplicationWithdrawn",
            &event,
        ),
    )
    .await?;
    outbox::commit(tx).await?;
    Ok(())
}
