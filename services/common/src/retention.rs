//! Housekeeping: rows that have served their purpose are deleted once they
//! are older than their retention, checked every hour.

use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One kind of row to prune: what it is (for the log) and the DELETE that
/// takes the cutoff instant as `$1`.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub what: &'static str,
    pub delete_older_than: &'static str,
}

/// Published outbox rows: kept for `outbox republish` within retention.
pub const PUBLISHED_OUTBOX: Rule = Rule {
    what: "published outbox rows",
    delete_older_than: "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1",
};

/// Inbox rows: an event id must outlive every way the event can come back
/// (JetStream redelivery, the stream's max age, `outbox republish`), so the
/// configuration refuses an inbox retention shorter than those.
pub const PROCESSED_INBOX: Rule = Rule {
    what: "processed inbox rows",
    delete_older_than: "DELETE FROM inbox WHERE processed_at < $1",
};

/// Deletes the rule's rows older than `keep`, now and then every hour.
pub async fn prune_hourly(pool: PgPool, rule: Rule, keep: Duration, shutdown: CancellationToken) {
    loop {
        let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        let cutoff = chrono::Utc::now()
            .checked_sub_signed(keep)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        match sqlx::query(rule.delete_older_than)
            .bind(cutoff)
            .execute(&pool)
            .await
        {
            Ok(done) if done.rows_affected() > 0 => {
                tracing::info!(rows = done.rows_affected(), what = rule.what, "pruned")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, what = rule.what, "pruning failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
