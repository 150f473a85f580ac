//! Notifications to people: residents told of their application's progress,
//! supervisors told of breached deadlines.
//!
//! A service records a [`Notification`] with [`record`] inside the
//! transaction of the state change it announces, so the message exists
//! exactly when the change does, once per `dedupe_key` (a redelivered event
//! adds nothing). [`dispatch`] then hands unsent rows to the configured
//! [`Sender`] (`NOTIFY_SENDER`): `log` (the default: writes the message to
//! the service log and marks it sent) or `webhook` (POSTs JSON to
//! `NOTIFY_WEBHOOK_URL`, e.g. the district's SMS / WeChat gateway; a failure
//! is retried on the next round).

use crate::pii::{PiiKeys, Sealed};
use futures::future::BoxFuture;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
    Wechat,
    /// The staff work console (站内消息): messages to staff by role.
    Console,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Wechat => "wechat",
            Channel::Console => "console",
        }
    }
}

/// Who receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A resident's phone or e-mail: sealed by the service that holds it
    /// (with the context it was sealed under) and masked for display.
    Sealed {
        sealed: Sealed,
        context: String,
        masked: String,
    },
    /// A staff member or role by name (e.g. `supervisor@C01`): no personal
    /// data.
    Named(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub recipient: Recipient,
    pub channel: Channel,
    /// The message template's name, e.g. `supplement_requested`; the
    /// sender (or the provider behind it) words it.
    pub template: String,
    pub params: BTreeMap<String, String>,
    pub dedupe_key: String,
}

/// The columns a notification is stored in, in the order [`Stored`] binds
/// them, for a statement that writes one together with the change it
/// announces (see intake's submission).
pub const INSERT_COLUMNS: &str = "dedupe_key, channel, recipient, recipient_sealed, recipient_key_id, recipient_context, template, params";

/// A notification's values as stored ([`INSERT_COLUMNS`]).
pub struct Stored<'a> {
    pub dedupe_key: &'a str,
    pub channel: &'static str,
    /// Masked, or the staff name.
    pub recipient: &'a str,
    pub sealed: Option<&'a [u8]>,
    pub key_id: Option<&'a str>,
    pub context: Option<&'a str>,
    pub template: &'a str,
    pub params: serde_json::Value,
}

impl Recipient {
    /// How the recipient is shown and logged: masked, or the staff name.
    pub fn shown(&self) -> &str {
        match self {
            Recipient::Sealed { masked, .. } => masked,
            Recipient::Named(name) => name,
        }
    }
}

impl Notification {
    pub fn row(&self) -> Stored<'_> {
        let (sealed, key_id, context) = match &self.recipient {
            Recipient::Sealed {
                sealed, context, ..
            } => (
                Some(sealed.ciphertext.as_slice()),
                Some(sealed.key_id.as_str()),
                Some(context.as_str()),
            ),
            Recipient::Named(_) => (None, None, None),
        };
        Stored {
            dedupe_key: &self.dedupe_key,
            channel: self.channel.as_str(),
            recipient: self.recipient.shown(),
            sealed,
            key_id,
            context,
            template: &self.template,
            params: serde_json::to_value(&self.params).unwrap_or_default(),
        }
    }
}

/// Records `n` in the caller's transaction; false when one with the same
/// dedupe key exists already.
pub async fn record(tx: &mut PgConnection, n: &Notification) -> sqlx::Result<bool> {
    let row = n.row();
    let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO notifications ({INSERT_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING"
    )))
    .bind(row.dedupe_key)
    .bind(row.channel)
    .bind(row.recipient)
    .bind(row.sealed)
    .bind(row.key_id)
    .bind(row.context)
    .bind(row.template)
    .bind(&row.params)
    .execute(&mut *tx)
    .await?;
    let fresh = inserted.rows_affected() == 1;
    if fresh {
        recorded(n);
    }
    Ok(fresh)
}

/// Logs a notification that was recorded.
pub fn recorded(n: &Notification) {
    tracing::info!(template = %n.template, channel = n.channel.as_str(), recipient = n.recipient.shown(),
        dedupe_key = %n.dedupe_key, "notification recorded");
}

/// One message as a sender gets it.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    /// Masked, or the staff name.
    pub recipient: String,
    /// The address in full, opened only here, for the provider; never
    /// logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub template: String,
    pub params: serde_json::Value,
}

/// Where messages go. Err is retried on the next round.
pub trait Sender: Send + Sync {
    fn send<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<(), String>>;
}

/// The default: the message goes to the service log (masked).
pub struct LogSender;

impl Sender for LogSender {
    fn send<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tracing::info!(id = d.id, channel = %d.channel, recipient = %d.recipient, template = %d.template,
                params = %d.params, "notification sent (log)");
            Ok(())
        })
    }
}

/// POSTs each message as JSON ([`Delivery`]) to a URL; any 2xx is sent.
pub struct WebhookSender {
    pub url: String,
    pub client: reqwest::Client,
}

impl Sender for WebhookSender {
    fn send<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let response = self
                .client
                .post(&self.url)
                .json(d)
                .send()
                .await
                .map_err(|e| format!("webhook: {e}"))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("webhook answered {}", response.status()))
            }
        })
    }
}

/// `NOTIFY_SENDER` (`log` or `webhook`) and `NOTIFY_WEBHOOK_URL`.
pub fn sender_from_settings(
    kind: Option<&str>,
    webhook_url: Option<&str>,
) -> anyhow::Result<Arc<dyn Sender>> {
    match (kind.unwrap_or("log"), webhook_url) {
        ("log", _) => Ok(Arc::new(LogSender)),
        ("webhook", Some(url)) if !url.is_empty() => Ok(Arc::new(WebhookSender {
            url: url.to_string(),
            client: crate::http_client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        })),
        ("webhook", _) => anyhow::bail!("NOTIFY_SENDER=webhook needs NOTIFY_WEBHOOK_URL"),
        (other, _) => anyhow::bail!("NOTIFY_SENDER must be log or webhook, not {other:?}"),
    }
}

/// Messages handed to the sender per transaction.
const DISPATCH_BATCH: i64 = 50;

/// Hands unsent notifications to `sender`, oldest first, until none is
/// left; returns how many were sent. Rows are claimed with SKIP LOCKED, so
/// replicas share the work. `keys` opens sealed addresses for the sender.
pub async fn dispatch(
    pool: &PgPool,
    sender: &dyn Sender,
    keys: Option<&PiiKeys>,
) -> sqlx::Result<usize> {
    let mut sent = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, channel, recipient, recipient_sealed, recipient_key_id, recipient_context, template, params
             FROM notifications WHERE sent_at IS NULL AND attempts < 20
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(DISPATCH_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(sent);
        }
        let mut delivered = Vec::with_capacity(rows.len());
        let mut failed = 0;
        for r in &rows {
            let id: i64 = r.get("id");
            let address = match (
                keys,
                r.get::<Option<Vec<u8>>, _>("recipient_sealed"),
                r.get::<Option<String>, _>("recipient_key_id"),
                r.get::<Option<String>, _>("recipient_context"),
            ) {
                (Some(keys), Some(ciphertext), Some(key_id), Some(context)) => {
                    keys.open(&Sealed { key_id, ciphertext }, &context).ok()
                }
                _ => None,
            };
            let delivery = Delivery {
                id,
                channel: r.get("channel"),
                recipient: r.get("recipient"),
                address,
                template: r.get("template"),
                params: r.get("params"),
            };
            let channel = channel_label(&delivery.channel);
            match sender.send(&delivery).await {
                Ok(()) => {
                    metrics::counter!("bianmin_notifications_sent_total", "channel" => channel)
                        .increment(1);
                    delivered.push(id)
                }
                Err(e) => {
                    metrics::counter!("bianmin_notifications_failed_total", "channel" => channel)
                        .increment(1);
                    tracing::warn!(id, error = %e, "notification not sent; will retry");
                    sqlx::query("UPDATE notifications SET attempts = attempts + 1, last_error = $2 WHERE id = $1")
                        .bind(id)
                        .bind(&e)
                        .execute(&mut *tx)
                        .await?;
                    failed += 1;
                }
            }
        }
        // The sent ones in one statement: one round trip per round, not
        // one per message (each submission makes two messages).
        if !delivered.is_empty() {
            sqlx::query(
                "UPDATE notifications SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
            )
            .bind(&delivered)
            .execute(&mut *tx)
            .await?;
        }
        sent += delivered.len();
        tx.commit().await?;
        if failed > 0 {
            // Try the failures again on the next round, not in a tight loop.
            return Ok(sent);
        }
        if rows.len() < DISPATCH_BATCH as usize {
            // Took all there was: no need to ask again until the next round.
            return Ok(sent);
        }
    }
}

/// The channel as a label: one of the known channels, else `other` (the
/// column is text; a label set must stay bounded whatever it holds).
fn channel_label(channel: &str) -> &'static str {
    [
        Channel::Sms,
        Channel::Email,
        Channel::Wechat,
        Channel::Console,
    ]
    .into_iter()
    .map(Channel::as_str)
    .find(|c| *c == channel)
    .unwrap_or("other")
}

/// `bianmin_notifications_pending`, read at each scrape: recorded and not
/// sent (including those given up on after 20 attempts, which stay
/// unsent until an operator looks).
pub fn watch_pending(pool: &PgPool) {
    let pool = pool.clone();
    crate::metrics::on_scrape("notifications", move || {
        let pool = pool.clone();
        Box::pin(async move {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM notifications WHERE sent_at IS NULL")
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
            metrics::gauge!("bianmin_notifications_pending").set(pending as f64);
            Ok(())
        })
    });
}

/// Runs [`dispatch`] every `interval` until `shutdown`.
pub async fn run(
    pool: PgPool,
    sender: Arc<dyn Sender>,
    keys: Option<Arc<PiiKeys>>,
    interval: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = dispatch(&pool, sender.as_ref(), keys.as_deref()).await {
            tracing::warn!(error = %e, "dispatching notifications failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_labels_are_bounded() {
        assert_eq!(channel_label("sms"), "sms");
        assert_eq!(channel_label("console"), "console");
        assert_eq!(channel_label("carrier pigeon"), "other");
    }

    #[test]
    fn senders_are_configuration() {
        assert!(sender_from_settings(None, None).is_ok());
        assert!(sender_from_settings(Some("webhook"), None).is_err());
        assert!(sender_from_settings(Some("webhook"), Some("http://127.0.0.1:9/hook")).is_ok());
        assert!(sender_from_settings(Some("pigeon"), None).is_err());
    }
}
