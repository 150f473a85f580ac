//! Notices to the applicant, recorded in the transaction of the change.

use crate::domain::notices::Notice;
use crate::domain::status::Status;
use bianmin_common::notify::{self, Channel, Notification, Recipient};
use bianmin_common::pii::Sealed;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

/// Who a notice about an application goes to, as the application stands
/// after the change: what the statement that made the change returns
/// ([`ADDRESSEE_COLUMNS`]), or what a submission has just written, so no
/// second read of the row is needed.
#[derive(Clone, Debug)]
pub struct Addressee {
    pub id: Uuid,
    pub application_no: String,
    pub channel: String,
    pub status: Status,
    pub phone: Sealed,
    pub phone_masked: String,
}

/// The columns [`Addressee::from_row`] reads, for a `RETURNING` clause.
pub const ADDRESSEE_COLUMNS: &str =
    "id, application_no, channel, status, phone_sealed, phone_key_id, phone_masked";

impl Addressee {
    pub fn from_row(r: &PgRow) -> sqlx::Result<Self> {
        let status: String = r.try_get("status")?;
        Ok(Self {
            id: r.get("id"),
            application_no: r.get("application_no"),
            channel: r.get("channel"),
            status: Status::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "status".into(),
                source: format!("unknown application status {status:?}").into(),
            })?,
            phone: Sealed {
                key_id: r.get("phone_key_id"),
                ciphertext: r.get("phone_sealed"),
            },
            phone_masked: r.get("phone_masked"),
        })
    }
}

/// Reads the addressee of `id`, for changes that did not return it.
pub async fn addressee(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Addressee>> {
    let sql = format!("SELECT {ADDRESSEE_COLUMNS} FROM applications WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(Addressee::from_row).transpose()
}

/// The notification `notice` makes for `to`, once per `fact` (e.g.
/// `once`, or the event id); `None` when the applicant is told nothing:
/// after withdrawing, they hear nothing more of the case (a decision review
/// took first has changed the status already).
pub fn notification(to: &Addressee, notice: Notice, fact: &str) -> Option<Notification> {
    let Notice { template, params } = notice;
    if to.status == Status::Withdrawn && template != "application_withdrawn" {
        return None;
    }
    // WeChat when they applied through WeChat, else SMS.
    let channel = if to.channel == "wechat" {
        Channel::Wechat
    } else {
        Channel::Sms
    };
    Some(Notification {
        recipient: Recipient::Sealed {
            sealed: to.phone.clone(),
            context: format!("applications.phone:{}", to.id),
            masked: to.phone_masked.clone(),
        },
        channel,
        template: template.to_string(),
        params,
        dedupe_key: format!("application:{}:{template}:{fact}", to.id),
    })
}

/// Records `notice` for the applicant `to`, to their phone (sealed as
/// stored), once per `fact`.
pub async fn to_addressee(
    tx: &mut PgConnection,
    to: &Addressee,
    notice: Notice,
    fact: &str,
) -> sqlx::Result<()> {
    if let Some(n) = notification(to, notice, fact) {
        notify::record(tx, &n).await?;
    }
    Ok(())
}
