//! The applicant's personal data in full, and look-ups by ID number.

use bianmin_common::error::ApiError;
use bianmin_common::pii::{PiiKeys, Sealed};
use bianmin_proto::intake::v1 as pb;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// Opens the sealed ID and phone number of one application.
pub async fn applicant_in_full(
    pool: &PgPool,
    keys: &PiiKeys,
    id: Uuid,
) -> Result<Option<pb::PiiGetApplicantResponse>, ApiError> {
    let Some(r) = sqlx::query(
        "SELECT application_no, applicant_name, id_number_sealed, id_number_key_id, phone_sealed, phone_key_id
         FROM applications WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let open = |column: &str| {
        let sealed = Sealed {
            key_id: r.get(format!("{column}_key_id").as_str()),
            ciphertext: r.get(format!("{column}_sealed").as_str()),
        };
        keys.open(&sealed, &format!("applications.{column}:{id}"))
            .map_err(|e| ApiError::Internal(e.into()))
    };
    Ok(Some(pb::PiiGetApplicantResponse {
        application_id: id.to_string(),
        application_no: r.get("application_no"),
        applicant: Some(pb::Applicant {
            name: r.get("applicant_name"),
            id_number: open("id_number")?,
            phone: open("phone")?,
        }),
    }))
}

/// Every application whose ID number has this keyed hash, newest first;
/// `center` limits them to one center. Masked.
pub async fn applications_by_id_number(
    pool: &PgPool,
    hash: &[u8],
    center: Option<&str>,
) -> sqlx::Result<Vec<pb::PiiApplicationSummary>> {
    let rows = sqlx::query(
        "SELECT id, application_no, center_id, service_type, status, submitted_at, applicant_name,
                id_number_masked, phone_masked
         FROM applications WHERE id_number_hash = $1 AND ($2::text IS NULL OR center_id = $2)
         ORDER BY submitted_at DESC LIMIT 200",
    )
    .bind(hash)
    .bind(center)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| pb::PiiApplicationSummary {
            id: r.get::<Uuid, _>("id").to_string(),
            application_no: r.get("application_no"),
            center_id: r.get("center_id"),
            service_type: r.get("service_type"),
            status: r.get("status"),
            submitted_at: r.get::<DateTime<Utc>, _>("submitted_at").to_rfc3339(),
            applicant: Some(pb::Applicant {
                name: r.get("applicant_name"),
                id_number: r.get("id_number_masked"),
                phone: r.get("phone_masked"),
            }),
        })
        .collect())
}
