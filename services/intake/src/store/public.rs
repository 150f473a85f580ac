//! The public progress page's read: an application by its number.

use bianmin_common::pii::Sealed;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// What the public progress page may show of an application, and the
/// phone its last four digits are checked against.
pub struct Found {
    pub id: Uuid,
    pub application_no: String,
    /// As stored; the page shows it as it is.
    pub status: String,
    pub center_id: String,
    pub service_type: String,
    pub submitted_at: DateTime<Utc>,
    pub applicant_name: String,
    pub phone: Sealed,
    pub review_due_date: Option<NaiveDate>,
    pub missing_items: Vec<String>,
    pub supplement_reason: String,
    pub supplement_remaining_days: Option<i32>,
}

/// The application numbered `application_no`, if any.
pub async fn by_number(pool: &PgPool, application_no: &str) -> sqlx::Result<Option<Found>> {
    let row = sqlx::query(
        "SELECT id, application_no, status, center_id, service_type, submitted_at, applicant_name,
                phone_sealed, phone_key_id, review_due_date, missing_items, supplement_reason,
                supplement_remaining_days
         FROM applications WHERE application_no = $1",
    )
    .bind(application_no)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Found {
        id: r.get("id"),
        application_no: r.get("application_no"),
        status: r.get("status"),
        center_id: r.get("center_id"),
        service_type: r.get("service_type"),
        submitted_at: r.get("submitted_at"),
        applicant_name: r.get("applicant_name"),
        phone: Sealed {
            key_id: r.get("phone_key_id"),
            ciphertext: r.get("phone_sealed"),
        },
        review_due_date: r.get("review_due_date"),
        missing_items: r.get("missing_items"),
        supplement_reason: r.get("supplement_reason"),
        supplement_remaining_days: r.get("supplement_remaining_days"),
    }))
}
