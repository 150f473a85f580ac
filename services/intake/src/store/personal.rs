//! The applicant's personal data in full, and look-ups by ID number.

use bianmin_common::db::{self, Scope};
use bianmin_common::pii::Sealed;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// An application's applicant with the ID and phone number as sealed.
pub struct SealedApplicant {
    pub application_no: String,
    pub name: String,
    pub id_number: Sealed,
    pub phone: Sealed,
}

/// The sealed ID and phone number of one application.
pub async fn applicant(
    pool: &PgPool,
    scope: &Scope,
    id: Uuid,
) -> sqlx::Result<Option<SealedApplicant>> {
    let mut tx = db::begin(pool, scope).await?;
    let Some(r) = sqlx::query(
        "SELECT application_no, applicant_name, id_number_sealed, id_number_key_id, phone_sealed, phone_key_id
         FROM applications WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let sealed = |column: &str| Sealed {
        key_id: r.get(format!("{column}_key_id").as_str()),
        ciphertext: r.get(format!("{column}_sealed").as_str()),
    };
    Ok(Some(SealedApplicant {
        application_no: r.get("application_no"),
        name: r.get("applicant_name"),
        id_number: sealed("id_number"),
        phone: sealed("phone"),
    }))
}

/// One application of a resident, masked.
pub struct Summary {
    pub id: Uuid,
    pub application_no: String,
    pub center_id: String,
    pub service_type: String,
    pub status: String,
    pub submitted_at: DateTime<Utc>,
    pub applicant_name: String,
    pub id_number_masked: String,
    pub phone_masked: String,
}

/// Every application whose ID number has this keyed hash, newest first;
/// `center` limits them to one center. Masked.
pub async fn applications_by_id_number(
    pool: &PgPool,
    scope: &Scope,
    hash: &[u8],
    center: Option<&str>,
) -> sqlx::Result<Vec<Summary>> {
    let mut tx = db::begin(pool, scope).await?;
    let rows = sqlx::query(
        "SELECT id, application_no, center_id, service_type, status, submitted_at, applicant_name,
                id_number_masked, phone_masked
         FROM applications WHERE id_number_hash = $1 AND ($2::text IS NULL OR center_id = $2)
         ORDER BY submitted_at DESC LIMIT 200",
    )
    .bind(hash)
    .bind(center)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Summary {
            id: r.get("id"),
            application_no: r.get("application_no"),
            center_id: r.get("center_id"),
            service_type: r.get("service_type"),
            status: r.get("status"),
            submitted_at: r.get("submitted_at"),
            applicant_name: r.get("applicant_name"),
            id_number_masked: r.get("id_number_masked"),
            phone_masked: r.get("phone_masked"),
        })
        .collect())
}
