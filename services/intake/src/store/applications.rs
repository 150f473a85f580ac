//! Applications and their timelines.

use crate::domain::{materials, submission, timeline};
use bianmin_common::calendar;
use bianmin_common::error::{ApiError, FieldViolation};
use bianmin_common::outbox::{self, OutboxEvent};
use bianmin_common::pii::{self, PiiKeys};
use bianmin_proto::{events::v1 as ev, intake::v1 as pb, subjects};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// The result of a submission.
pub struct Submitted {
    pub id: Uuid,
    /// True when an earlier submission with the same idempotency key is
    /// being returned.
    pub replayed: bool,
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

fn replay_or_conflict(found: (Uuid, Vec<u8>), hash: &[u8]) -> Result<Submitted, ApiError> {
    if found.1 == hash {
        Ok(Submitted {
            id: found.0,
            replayed: true,
        })
    } else {
        Err(ApiError::Conflict(
            "该幂等键已用于另一份不同的申请 (Idempotency-Key was already used with a different request)".into(),
        ))
    }
}

/// Stores a validated application, its first timeline entry and its
/// `ApplicationSubmitted` event in one transaction.
#[tracing::instrument(name = "db.submit", skip_all)]
pub async fn submit(
    pool: &PgPool,
    keys: &PiiKeys,
    v: &submission::Valid,
    submitter: &str,
    idempotency_key: Option<&str>,
) -> Result<Submitted, ApiError> {
    let hash = request_hash(keys, v);
    let mut tx = pool.begin().await?;
    if let Some(key) = idempotency_key {
        if let Some(found) = existing_by_key(&mut tx, submitter, key).await? {
            return replay_or_conflict(found, &hash);
        }
    }

    let mut violations = Vec::new();
    let center_name = super::catalog::center_name(&mut tx, &v.center_id).await?;
    if center_name.is_none() {
        violations.push(FieldViolation::new(
            "center_id",
            "center_unknown",
            format!("服务中心 {} 不存在 (no such center)", v.center_id),
        ));
    }
    let service_type =
        super::catalog::find_service_type(&mut tx, &v.service_type, super::catalog::Lock::Share)
            .await?;
    match &service_type {
        None => violations.push(FieldViolation::new(
            "service_type",
            "service_type_unknown",
            format!("服务事项 {} 不存在 (no such service type)", v.service_type),
        )),
        Some(t) if !t.active() => violations.push(FieldViolation::new(
            "service_type",
            "service_type_retired",
            format!(
                "服务事项 {} 已停止受理 (service type is retired)",
                v.service_type
            ),
        )),
        Some(_) => {}
    }
    for unknown in super::catalog::unknown_departments(&mut tx, &v.departments).await? {
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
    let (Some(center_name), Some(service_type), true) =
        (center_name, service_type, violations.is_empty())
    else {
        return Err(ApiError::Invalid(violations));
    };
    let policy = &service_type.definition;

    let id = Uuid::now_v7();
    let now = Utc::now();
    let seq: i64 = sqlx::query_scalar("SELECT nextval('application_no_seq')")
        .fetch_one(&mut *tx)
        .await?;
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

    let inserted = sqlx::query(
        "INSERT INTO applications (id, application_no, center_id, service_type, channel, applicant_name,
            id_number_sealed, id_number_key_id, id_number_hash, id_number_masked,
            phone_sealed, phone_key_id, phone_hash, phone_masked,
            reason, status, idempotency_key, request_hash, submitted_at, submitted_by,
            departments, received_by, preliminary_review_days, extended_review_days, decision_days, checklist)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'submitted', $16, $17, $18, $19,
            $20, $21, $22, $23, $24, $25)
         ON CONFLICT (submitted_by, idempotency_key) DO NOTHING",
    )
    .bind(id)
    .bind(&application_no)
    .bind(&v.center_id)
    .bind(&v.service_type)
    .bind(&v.channel)
    .bind(&v.name)
    .bind(&id_sealed.ciphertext)
    .bind(&id_sealed.key_id)
    .bind(keys.lookup_hash("id_number", &v.id_number))
    .bind(pii::mask_id_number(&v.id_number))
    .bind(&phone_sealed.ciphertext)
    .bind(&phone_sealed.key_id)
    .bind(keys.lookup_hash("phone", &v.phone))
    .bind(pii::mask_phone(&v.phone))
    .bind(&v.reason)
    .bind(idempotency_key)
    .bind(&hash)
    .bind(now)
    .bind(submitter)
    .bind(&v.departments)
    .bind(&v.received_by)
    .bind(policy.preliminary_review_days as i32)
    .bind(policy.extended_review_days as i32)
    .bind(policy.decision_days as i32)
    .bind(serde_json::to_value(&policy.materials).unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // A concurrent retry with the same key committed first.
        tx.rollback().await?;
        let mut conn = pool.acquire().await?;
        let found = existing_by_key(&mut conn, submitter, idempotency_key.unwrap_or_default())
            .await?
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("idempotency conflict without a row"))
            })?;
        return replay_or_conflict(found, &hash);
    }

    let entry = timeline::submitted(submission::channel_label(&v.channel), &center_name);
    add_entry(&mut tx, id, &entry, now, None).await?;

    let event_id = Uuid::now_v7();
    let event = ev::ApplicationSubmitted {
        event_id: event_id.to_string(),
        occurred_at: now.to_rfc3339(),
        application_id: id.to_string(),
        application_no,
        center_id: v.center_id.clone(),
        service_type: v.service_type.clone(),
        channel: v.channel.clone(),
        preliminary_review_days: policy.preliminary_review_days,
        extended_review_days: policy.extended_review_days,
        decision_days: policy.decision_days,
        urgent: false,
        departments: v.departments.clone(),
    };
    outbox::enqueue(
        &mut tx,
        OutboxEvent::new(
            event_id,
            subjects::APPLICATION_SUBMITTED,
            "ApplicationSubmitted",
            &event,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Submitted {
        id,
        replayed: false,
    })
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

/// One application with its timeline; PII masked.
#[tracing::instrument(name = "db.get_application", skip_all)]
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<pb::Application>, ApiError> {
    let Some(r) = sqlx::query(
        "SELECT a.id, a.application_no, a.center_id, a.service_type, a.channel, a.applicant_name, a.id_number_masked,
                a.phone_masked, a.reason, a.status, a.submitted_at, a.review_case_id, a.review_stage, a.review_due_date,
                a.departments, a.received_by,
                -- Applications from before checklists were kept read today's.
                COALESCE(a.checklist, s.materials) AS checklist
         FROM applications a JOIN service_types s ON s.code = a.service_type WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let entries = sqlx::query("SELECT kind, title, detail, at FROM timeline_entries WHERE application_id = $1 ORDER BY at, id")
        .bind(id)
        .fetch_all(pool)
        .await?;
    let review = match (
        r.get::<Option<Uuid>, _>("review_case_id"),
        r.get::<Option<NaiveDate>, _>("review_due_date"),
    ) {
        (Some(case_id), Some(due)) => Some(pb::ReviewInfo {
            case_id: case_id.to_string(),
            stage: r
                .get::<Option<String>, _>("review_stage")
                .unwrap_or_default(),
            due_date: due.to_string(),
        }),
        _ => None,
    };
    let materials = super::materials::list(pool, id).await?;
    let uploaded: Vec<String> = materials.iter().map(|m| m.item_code.clone()).collect();
    let checklist = super::catalog::checklist_from_json(r.get("checklist"));
    let checklist = materials::satisfied(&checklist, &uploaded)
        .into_iter()
        .map(|(item, satisfied)| pb::MaterialsChecklistStatus {
            code: item.code.clone(),
            name: item.name.clone(),
            group: item.group.clone(),
            required: item.required,
            satisfied,
        })
        .collect();
    Ok(Some(pb::Application {
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
        timeline: entries
            .into_iter()
            .map(|e| pb::TimelineEntry {
                kind: e.get("kind"),
                title: e.get("title"),
                detail: e.get("detail"),
                at: e.get::<DateTime<Utc>, _>("at").to_rfc3339(),
            })
            .collect(),
        review,
        departments: r.get("departments"),
        received_by: r
            .get::<Option<String>, _>("received_by")
            .unwrap_or_default(),
        materials,
        checklist,
    }))
}

/// Records that review opened the case; false when the application is
/// unknown.
pub async fn review_opened(
    tx: &mut PgConnection,
    event_id: Uuid,
    e: &ev::ReviewCaseOpened,
) -> Result<bool, sqlx::Error> {
    let (Ok(application_id), Ok(case_id), Ok(due)) = (
        Uuid::parse_str(&e.application_id),
        Uuid::parse_str(&e.case_id),
        e.due_date.parse::<NaiveDate>(),
    ) else {
        return Ok(false);
    };
    let updated = sqlx::query(
        "UPDATE applications SET status = 'in_review', review_case_id = $2, review_stage = $3, review_due_date = $4
         WHERE id = $1",
    )
    .bind(application_id)
    .bind(case_id)
    .bind(&e.stage)
    .bind(due)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    let at = DateTime::parse_from_rfc3339(&e.occurred_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let entry = timeline::review_opened(&e.stage, due, e.limit_working_days);
    add_entry(tx, application_id, &entry, at, Some(event_id)).await?;
    Ok(true)
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
}

/// Applies a review event to the application and its timeline; false when
/// the application is unknown.
pub async fn review_progress(
    tx: &mut PgConnection,
    event_id: Uuid,
    p: Progress<'_>,
) -> Result<bool, sqlx::Error> {
    let Ok(application_id) = Uuid::parse_str(p.application_id) else {
        return Ok(false);
    };
    let due = p.due_date.map(|d| d.parse::<NaiveDate>().ok());
    let updated = sqlx::query(
        "UPDATE applications SET review_stage = COALESCE(NULLIF($2, ''), review_stage), status = COALESCE($3, status),
            review_due_date = CASE WHEN $4 THEN $5 ELSE review_due_date END
         WHERE id = $1",
    )
    .bind(application_id)
    .bind(p.stage)
    .bind(p.status)
    .bind(due.is_some())
    .bind(due.flatten())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(entry) = &p.entry {
        let at = DateTime::parse_from_rfc3339(p.occurred_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now());
        add_entry(tx, application_id, entry, at, Some(event_id)).await?;
    }
    Ok(true)
}
