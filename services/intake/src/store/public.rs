//! The public progress page's read: by application number, answered only
//! when the phone's last four digits match.

use super::applications::timeline_of;
use crate::domain::progress;
use crate::domain::status::Status;
use bianmin_common::calendar::WorkingCalendar;
use bianmin_common::error::ApiError;
use bianmin_common::pii::{PiiKeys, Sealed};
use bianmin_proto::intake::v1 as pb;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// `None` for an unknown number and for a wrong phone alike.
pub async fn progress(
    pool: &PgPool,
    keys: &PiiKeys,
    calendar: &WorkingCalendar,
    application_no: &str,
    phone_last4: &str,
    today: NaiveDate,
) -> Result<Option<pb::PublicProgress>, ApiError> {
    let Some(r) = sqlx::query(
        "SELECT id, application_no, status, center_id, service_type, submitted_at, applicant_name,
                phone_sealed, phone_key_id, review_due_date, missing_items, supplement_reason,
                supplement_remaining_days
         FROM applications WHERE application_no = $1",
    )
    .bind(application_no)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let id: Uuid = r.get("id");
    let phone = keys
        .open(
            &Sealed {
                key_id: r.get("phone_key_id"),
                ciphertext: r.get("phone_sealed"),
            },
            &format!("applications.phone:{id}"),
        )
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !phone.ends_with(phone_last4) {
        return Ok(None);
    }
    let status: String = r.get("status");
    let suspended = Status::parse(&status).is_some_and(Status::in_supplement);
    let due: Option<NaiveDate> = r.get("review_due_date");
    let (expected_date, working_days_left) = match (suspended, due) {
        // The clock stands still: no date yet, the days that remain.
        (true, _) => (
            String::new(),
            r.get::<Option<i32>, _>("supplement_remaining_days")
                .map(|d| d.max(0) as u32),
        ),
        (false, Some(due)) => (
            due.to_string(),
            Some(progress::working_days_left(calendar, today, due)),
        ),
        (false, None) => (String::new(), None),
    };
    Ok(Some(pb::PublicProgress {
        application_no: r.get("application_no"),
        center_id: r.get("center_id"),
        service_type: r.get("service_type"),
        submitted_at: r.get::<DateTime<Utc>, _>("submitted_at").to_rfc3339(),
        applicant_name: progress::mask_name(r.get("applicant_name")),
        timeline: timeline_of(pool, id)
            .await?
            .into_iter()
            .map(|e| pb::TimelineEntry {
                kind: e.kind,
                title: e.title,
                detail: e.detail,
                at: e.at.to_rfc3339(),
            })
            .collect(),
        expected_date,
        working_days_left,
        suspended,
        suspension_reason: if suspended {
            r.get("supplement_reason")
        } else {
            String::new()
        },
        missing_items: if suspended {
            r.get("missing_items")
        } else {
            Vec::new()
        },
        status,
    }))
}
