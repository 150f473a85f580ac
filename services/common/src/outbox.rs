//! The transactional outbox and its relay.
//!
//! A service writes its event with [`enqueue`] inside the transaction that
//! changes its state, so either both commit or neither does. The [`Relay`]
//! publishes committed rows to JetStream in order, with `Nats-Msg-Id` = the
//! event id (JetStream drops a duplicate publish inside its window), and
//! stamps a row published only after the server acknowledged it. While NATS
//! is down it retries with capped exponential backoff.
//!
//! The writer wakes its own process's relay right after committing
//! ([`commit`], or [`committed`] after a commit it made itself), with a
//! slow poll as the safety net for rows whose process died before its relay
//! got to them. The relay used to be woken by a trigger's `pg_notify`, but
//! PostgreSQL serialises every committing transaction that has notified on
//! one cluster-wide lock, held through the commit's WAL flush: with it,
//! every business transaction that wrote an event queued behind the others
//! (`Lock:object` waits in `pg_stat_activity`; see BENCHMARKS.md,
//! 2026-12-01), and group commit could not help.

use crate::nats::headers;
use async_nats::jetstream;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

/// The relay's longest pause between retries while NATS is unavailable.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_secs(2);

/// Bumped after every commit that may have written outbox rows; each relay
/// of the process watches it. A watch, not a bare `Notify`: a commit that
/// lands while a relay is busy publishing is still seen when it looks
/// again, and every relay in the process (tests run several) is woken.
static COMMITTED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::Sender::new(0));

/// Tells this process's relay that a transaction which may have written
/// outbox rows has committed. Cheap; a wake that finds nothing costs the
/// relay one empty query.
pub fn committed() {
    COMMITTED.send_modify(|n| *n = n.wrapping_add(1));
}

/// Commits a transaction that wrote outbox rows and wakes the relay.
pub async fn commit(tx: Transaction<'_, Postgres>) -> sqlx::Result<()> {
    tx.commit().await?;
    committed();
    Ok(())
}

/// An event ready to be written with the state change it announces.
pub struct OutboxEvent {
    pub event_id: Uuid,
    pub subject: &'static str,
    /// Name of the protobuf message, e.g. `ApplicationSubmitted`.
    pub event_type: &'static str,
    pub payload: Vec<u8>,
}

impl OutboxEvent {
    pub fn new(
        event_id: Uuid,
        subject: &'static str,
        event_type: &'static str,
        message: &impl prost::Message,
    ) -> Self {
        Self {
            event_id,
            subject,
            event_type,
            payload: message.encode_to_vec(),
        }
    }
}

/// The columns an event is stored in: `event_id, subject, event_type,
/// payload, traceparent` (the last from [`OutboxEvent::traceparent`]), for
/// a statement that writes one together with the change it announces (see
/// intake's submission).
pub const INSERT_COLUMNS: &str = "event_id, subject, event_type, payload, traceparent";

impl OutboxEvent {
    /// The current trace context, so the relay's publish joins the trace
    /// of the change.
    pub fn traceparent() -> Option<String> {
        crate::propagation::current_traceparent()
    }
}

/// Writes an event in the caller's transaction, with the current trace
/// context so the relay's publish joins the same trace.
pub async fn enqueue(tx: &mut PgConnection, event: OutboxEvent) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO outbox ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
    )))
    .bind(event.event_id)
    .bind(event.subject)
    .bind(event.event_type)
    .bind(&event.payload)
    .bind(OutboxEvent::traceparent())
    .execute(tx)
    .await?;
    Ok(())
}

/// Publishes committed outbox rows to JetStream.
pub struct Relay {
    pub pool: PgPool,
    pub jetstream: jetstream::Context,
    /// Rows published per transaction; acks are awaited together.
    pub batch: i64,
}

impl Relay {
    pub fn new(pool: PgPool, jetstream: jetstream::Context) -> Self {
        Self {
            pool,
            jetstream,
            batch: 256,
        }
    }

    /// Runs until `shutdown`; rows left unpublished are taken up on the next
    /// start (or by another replica: rows are claimed with SKIP LOCKED).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut commits = COMMITTED.subscribe();
        let mut backoff = Duration::from_millis(100);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            // Seen before the query: a commit from here on wakes the next
            // round, so none is missed between the query and the wait.
            commits.mark_unchanged();
            match self.publish_batch().await {
                Ok(n) => {
                    backoff = Duration::from_millis(100);
                    if n as i64 >= self.batch {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay could not publish");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
            // Nothing left: wait for a commit, the poll, or shutdown.
            tokio::select! {
                _ = commits.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Publishes up to `batch` rows; returns how many were published.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT seq, event_id, subject, event_type, payload, traceparent FROM outbox
             WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }

        // Send them all, then await the acks together: one round trip's
        // latency for the batch instead of one per row.
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.get("seq");
            let event_id: Uuid = row.get("event_id");
            let subject: String = row.get("subject");
            let event_type: String = row.get("event_type");
            let payload: Vec<u8> = row.get("payload");
            let traceparent: Option<String> = row.get("traceparent");
            let span = tracing::info_span!("outbox.publish", %subject, %event_id, %event_type,
                otel.kind = "producer");
            if let Some(tp) = &traceparent {
                crate::propagation::set_parent_from_traceparent(&span, tp);
            }
            let sent = async {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(headers::MSG_ID, event_id.to_string().as_str());
                headers.insert(headers::EVENT_ID, event_id.to_string().as_str());
                headers.insert(headers::EVENT_TYPE, event_type.as_str());
                crate::propagation::inject_nats(&mut headers);
                self.jetstream
                    .publish_with_headers(subject, headers, payload.into())
                    .await
            }
            .instrument(span)
            .await;
            pending.push((seq, sent));
        }

        let mut published: Vec<i64> = Vec::new();
        let mut failed = Vec::new();
        let mut first_error = None;
        for (seq, sent) in pending {
            let acked = match sent {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(()) => published.push(seq),
                Err(e) => {
                    failed.push(seq);
                    first_error.get_or_insert(e);
                }
            }
        }
        sqlx::query(
            "UPDATE outbox SET published_at = now(), last_error = NULL WHERE seq = ANY($1)",
        )
        .bind(&published)
        .execute(&mut *tx)
        .await?;
        if let Some(error) = &first_error {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = ANY($1)",
            )
            .bind(&failed)
            .bind(error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        // Counted once the rows say so: a publish whose stamp did not
        // commit is published again (and dropped by JetStream's window).
        metrics::counter!("bianmin_outbox_published_events_total")
            .increment(published.len() as u64);
        metrics::counter!("bianmin_outbox_publish_failures_total").increment(failed.len() as u64);
        match first_error {
            Some(e) => anyhow::bail!(
                "{} of {} events not acknowledged: {e}",
                failed.len(),
                rows.len()
            ),
            None => Ok(published.len()),
        }
    }
}

/// Marks a range of rows unpublished so the relay publishes them again.
/// Safe: consumers record every event id and apply each once; inside its
/// duplicate window JetStream itself drops the copies it still holds.
pub async fn mark_for_republish(pool: &PgPool, from_seq: i64, to_seq: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET published_at = NULL, attempts = 0, last_error = NULL WHERE seq BETWEEN $1 AND $2",
    )
    .bind(from_seq)
    .bind(to_seq)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The backlog at each scrape: rows not yet published and the age of the
/// oldest (`bianmin_outbox_unpublished_events`,
/// `bianmin_outbox_oldest_unpublished_age_seconds`). Served by the partial
/// index on unpublished rows, so it stays cheap however long the
/// published history is.
pub fn watch_backlog(pool: &PgPool) {
    // Present from the start at 0 (see inbox::watch_lag for why).
    metrics::counter!("bianmin_outbox_published_events_total").increment(0);
    metrics::counter!("bianmin_outbox_publish_failures_total").increment(0);
    let pool = pool.clone();
    crate::metrics::on_scrape("outbox", move || {
        let pool = pool.clone();
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT count(*) AS unpublished,
                        COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
                 FROM outbox WHERE published_at IS NULL",
            )
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string())?;
            let unpublished: i64 = row.get("unpublished");
            let age: f64 = row.get("age");
            metrics::gauge!("bianmin_outbox_unpublished_events").set(unpublished as f64);
            metrics::gauge!("bianmin_outbox_oldest_unpublished_age_seconds").set(age.max(0.0));
            Ok(())
        })
    });
}

/// What an operator sees before re-publishing.
#[derive(Debug)]
pub struct OutboxStatus {
    pub oldest_seq: Option<i64>,
    pub newest_seq: Option<i64>,
    pub unpublished: i64,
    pub oldest_unpublished_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn status(pool: &PgPool) -> sqlx::Result<OutboxStatus> {
    let row = sqlx::query(
        "SELECT min(seq) AS oldest, max(seq) AS newest,
                count(*) FILTER (WHERE published_at IS NULL) AS unpublished,
                min(created_at) FILTER (WHERE published_at IS NULL) AS oldest_unpublished_at
         FROM outbox",
    )
    .fetch_one(pool)
    .await?;
    Ok(OutboxStatus {
        oldest_seq: row.get("oldest"),
        newest_seq: row.get("newest"),
        unpublished: row.get("unpublished"),
        oldest_unpublished_at: row.get("oldest_unpublished_at"),
    })
}
