//! Notices to the applicant, recorded in the transaction of the change.

use crate::domain::notices::Notice;
use bianmin_common::notify::{self, Channel, Notification, Recipient};
use bianmin_common::pii::Sealed;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// The application's number, for the notice's text.
pub async fn application_no(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT application_no FROM applications WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
}

/// Records `notice` for the applicant of `id`, to their phone (sealed as
/// stored; WeChat when they applied through WeChat, else SMS), once per
/// `fact` (e.g. `submitted`, or the event id).
pub async fn to_applicant(
    tx: &mut PgConnection,
    id: Uuid,
    notice: Notice,
    fact: &str,
) -> sqlx::Result<()> {
    let Some(r) = sqlx::query(
        "SELECT channel, status, phone_sealed, phone_key_id, phone_masked FROM applications WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(());
    };
    let (template, params) = notice;
    // After withdrawing, the applicant hears nothing more of the case (a
    // decision review took first has changed the status already).
    if r.get::<String, _>("status") == "withdrawn" && template != "application_withdrawn" {
        return Ok(());
    }
    let channel = if r.get::<String, _>("channel") == "wechat" {
        Channel::Wechat
    } else {
        Channel::Sms
    };
    let n = Notification {
        recipient: Recipient::Sealed {
            sealed: Sealed {
                key_id: r.get("phone_key_id"),
                ciphertext: r.get("phone_sealed"),
            },
            context: format!("applications.phone:{id}"),
            masked: r.get("phone_masked"),
        },
        channel,
        template: template.to_string(),
        params,
        dedupe_key: format!("application:{id}:{template}:{fact}"),
    };
    notify::record(tx, &n).await?;
    Ok(())
}
