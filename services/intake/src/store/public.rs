//! The public progress page's read: an application by its number.

use crate::domain::progress::Guesses;
use bianmin_common::db::{self, Scope};
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
///
/// Every center's rows (`Scope::AllCenters`): the public look-up is by the
/// number on the receipt and the phone's last digits, checked by the caller
/// before anything is answered; no one is signed in to scope it by.
pub async fn by_number(pool: &PgPool, application_no: &str) -> sqlx::Result<Option<Found>> {
    let mut tx = db::begin(pool, &Scope::AllCenters).await?;
    let row = sqlx::query(
        "SELECT id, application_no, status, center_id, service_type, submitted_at, applicant_name,
                phone_sealed, phone_key_id, review_due_date, missing_items, supplement_reason,
                supplement_remaining_days
         FROM applications WHERE application_no = $1",
    )
    .bind(application_no)
    .fetch_optional(&mut *tx)
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

/// The wrong guesses at `application_no`, if any.
pub async fn guesses(pool: &PgPool, application_no: &str) -> sqlx::Result<Option<Guesses>> {
    let row = sqlx::query(
        "SELECT failures, window_started, locked_until FROM public_lookup_guesses WHERE application_no = $1",
    )
    .bind(application_no)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Guesses {
        failures: r.get("failures"),
        window_started: r.get("window_started"),
        locked_until: r.get("locked_until"),
    }))
}

/// Counts one more wrong guess at `application_no` (the domain's
/// `Guesses::after_wrong`, under a row lock so concurrent guesses all
/// count); returns the count after it.
pub async fn record_wrong_guess(
    pool: &PgPool,
    application_no: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Guesses> {
    let mut tx = pool.begin().await?;
    // The row exists before it is locked, so two first guesses meet.
    sqlx::query(
        "INSERT INTO public_lookup_guesses (application_no, failures, window_started)
         VALUES ($1, 0, $2) ON CONFLICT (application_no) DO NOTHING",
    )
    .bind(application_no)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let r = sqlx::query(
        "SELECT failures, window_started, locked_until FROM public_lookup_guesses
         WHERE application_no = $1 FOR UPDATE",
    )
    .bind(application_no)
    .fetch_one(&mut *tx)
    .await?;
    let before = Guesses {
        failures: r.get("failures"),
        window_started: r.get("window_started"),
        locked_until: r.get("locked_until"),
    };
    let after = Guesses::after_wrong(Some(before), now);
    sqlx::query(
        "UPDATE public_lookup_guesses SET failures = $2, window_started = $3, locked_until = $4
         WHERE application_no = $1",
    )
    .bind(application_no)
    .bind(after.failures)
    .bind(after.window_started)
    .bind(after.locked_until)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(after)
}
