//! The inbox consumer: a durable JetStream pull consumer whose every effect
//! commits together with the id of the event that caused it.
//!
//! For each message: begin; record (consumer, event id) in `inbox`; if the
//! id was there already, this is a redelivery: ack and stop. Otherwise run
//! the handler in the same transaction, commit, ack. A handler failure is
//! retried with growing delays; after [`MAX_HANDLER_ATTEMPTS`] deliveries, or
//! at once for a message that can never succeed (undecodable), it is copied
//! to the dead-letter stream with the reason and terminated there, to be
//! replayed by an operator once fixed. Database outages are not the
//! message's fault: they pause the consumer and never dead-letter.

use crate::nats::{DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM, headers};
use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::{FutureExt as _, StreamExt as _};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

/// Deliveries of a message whose handler fails before it is dead-lettered.
pub const MAX_HANDLER_ATTEMPTS: i64 = 6;
const ACK_WAIT: Duration = Duration::from_secs(30);

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// It can never succeed (malformed payload, impossible state):
    /// dead-letter it now.
    #[error("{0}")]
    Permanent(String),
    /// It may succeed later: retry with delay, then dead-letter.
    #[error("{0}")]
    Transient(String),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Transient(format!("database: {e}"))
    }
}

impl From<prost::DecodeError> for HandleError {
    fn from(e: prost::DecodeError) -> Self {
        HandleError::Permanent(format!("undecodable payload: {e}"))
    }
}

/// One event as the handler sees it.
pub struct Event<'a> {
    pub id: Uuid,
    pub subject: &'a str,
    pub payload: &'a [u8],
}

/// Applies one event inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        tx: &mut PgConnection,
        event: &Event<'_>,
    ) -> impl std::future::Future<Output = Result<(), HandleError>> + Send;
}

/// Where a consumer reads from.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub stream: &'static str,
    pub consumer: &'static str,
    pub filter_subject: &'static str,
}

/// How a consumer applies what it reads.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Events applied in one transaction at most (`INBOX_MAX_BATCH`).
    pub max_batch: usize,
}

/// Runs one durable consumer until `shutdown`, resubscribing after errors.
pub async fn run<H: Handler>(
    pool: PgPool,
    js: jetstream::Context,
    subscription: Subscription,
    tuning: Tuning,
    handler: H,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match consume(&pool, &js, &subscription, tuning, &handler, &shutdown).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(consumer = subscription.consumer, error = %e,
                    retry_in_ms = backoff.as_millis() as u64, "consumer interrupted; resubscribing");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    tracing::info!(consumer = subscription.consumer, "consumer stopped");
}

/// Creates (or updates) the durable consumer with explicit settings.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    subscription: &Subscription,
) -> anyhow::Result<jetstream::consumer::Consumer<pull::Config>> {
    let stream = js.get_stream(subscription.stream).await?;
    let config = pull::Config {
        durable_name: Some(subscription.consumer.to_string()),
        filter_subject: subscription.filter_subject.to_string(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        deliver_policy: jetstream::consumer::DeliverPolicy::All,
        ack_wait: ACK_WAIT,
        // Unbounded at the server: the bound on handler failures is applied
        // here, so a database outage cannot exhaust a message's deliveries.
        max_deliver: -1,
        max_ack_pending: 1024,
        ..Default::default()
    };
    Ok(stream.create_consumer(config).await?)
}

async fn consume<H: Handler>(
    pool: &PgPool,
    js: &jetstream::Context,
    subscription: &Subscription,
    tuning: Tuning,
    handler: &H,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let consumer = ensure_consumer(js, subscription).await?;
    let mut messages = consumer.messages().await?;
    loop {
        let next = tokio::select! {
            next = messages.next() => next,
            _ = shutdown.cancelled() => return Ok(()),
        };
        let mut batch = vec![match next {
            Some(Ok(m)) => received(subscription, m),
            Some(Err(e)) => anyhow::bail!("receiving: {e}"),
            None => anyhow::bail!("message stream ended"),
        }];
        // Whatever else has already arrived joins the batch: under load one
        // transaction (one fsync) then carries many events.
        let mut interrupted = None;
        while batch.len() < tuning.max_batch {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(received(subscription, m)),
                Some(Some(Err(e))) => {
                    interrupted = Some(anyhow::anyhow!("receiving: {e}"));
                    break;
                }
                Some(None) => {
                    interrupted = Some(anyhow::anyhow!("message stream ended"));
                    break;
                }
                None => break,
            }
        }
        if batch.len() == 1 || !process_batch(pool, subscription, handler, &batch).await {
            for message in &batch {
                process(pool, js, subscription, handler, message).await;
            }
        }
        if let Some(e) = interrupted {
            return Err(e);
        }
    }
}

/// Counts a delivery that is not the message's first (once per delivery,
/// whichever path then applies it).
fn received(subscription: &Subscription, message: jetstream::Message) -> jetstream::Message {
    if message.info().is_ok_and(|i| i.delivered > 1) {
        metrics::counter!("bianmin_consumer_redeliveries_total", "consumer" => subscription.consumer)
            .increment(1);
    }
    message
}

/// The consumer's position at each scrape, from JetStream:
/// `bianmin_consumer_pending_messages` (in the stream, not yet delivered
/// to it: the lag) and `bianmin_consumer_ack_pending_messages` (delivered,
/// not yet acknowledged).
///
/// Also writes the consumer's counters at 0, so that each series exists
/// from the start: Prometheus' `increase()` sees the first dead letter as
/// a rise from 0 (a series born at 1 would show no increase, and the
/// dead-letter alert would miss it).
pub fn watch_lag(js: &jetstream::Context, subscription: &Subscription) {
    for name in [
        "bianmin_consumer_events_applied_total",
        "bianmin_consumer_duplicates_total",
        "bianmin_consumer_redeliveries_total",
        "bianmin_consumer_handler_failures_total",
        "bianmin_consumer_dead_letters_total",
    ] {
        metrics::counter!(name, "consumer" => subscription.consumer).increment(0);
    }
    let (js, subscription) = (js.clone(), subscription.clone());
    crate::metrics::on_scrape("consumer_lag", move || {
        let (js, subscription) = (js.clone(), subscription.clone());
        Box::pin(async move {
            let stream = js
                .get_stream(subscription.stream)
                .await
                .map_err(|e| e.to_string())?;
            let info = stream
                .consumer_info(subscription.consumer)
                .await
                .map_err(|e| e.to_string())?;
            let consumer = subscription.consumer;
            metrics::gauge!("bianmin_consumer_pending_messages", "consumer" => consumer)
                .set(info.num_pending as f64);
            metrics::gauge!("bianmin_consumer_ack_pending_messages", "consumer" => consumer)
                .set(info.num_ack_pending as f64);
            Ok(())
        })
    });
}

/// Applies a batch in one transaction and acknowledges it. Returns false,
/// having changed nothing, when any event of the batch fails: the caller
/// then takes them one at a time, so one bad event cannot hold the others
/// back and gets its own retries and dead-lettering.
async fn process_batch<H: Handler>(
    pool: &PgPool,
    subscription: &Subscription,
    handler: &H,
    batch: &[jetstream::Message],
) -> bool {
    let Some(ids) = batch.iter().map(event_id).collect::<Option<Vec<_>>>() else {
        return false;
    };
    // A consumer is system work: it applies facts other services
    // announced, whichever center they are about, so its transaction sees
    // every center (row-level security, `db::Scope`).
    let Ok(mut tx) = crate::db::begin(pool, &crate::db::Scope::AllCenters).await else {
        return false;
    };
    // Every event of the batch into the inbox in one statement; the ones
    // it returns are new, the others were applied before.
    let Ok(mut fresh) = record_all(&mut tx, subscription, batch, &ids).await else {
        let _ = tx.rollback().await;
        return false;
    };
    let applied = fresh.len() as u64;
    for (message, id) in batch.iter().zip(ids) {
        // Removed once applied: the same event twice in one batch applies once.
        if !fresh.remove(&id) {
            continue;
        }
        let span = consume_span(subscription, message);
        let event = Event {
            id,
            subject: message.subject.as_str(),
            payload: &message.payload,
        };
        let applied = handler.handle(&mut tx, &event).instrument(span).await;
        if applied.is_err() {
            let _ = tx.rollback().await;
            return false;
        }
    }
    if tx.commit().await.is_err() {
        return false;
    }
    // The handlers may have written events (review's do).
    crate::outbox::committed();
    futures::future::join_all(batch.iter().map(|m| ack(m, AckKind::Ack))).await;
    let consumer = subscription.consumer;
    metrics::counter!("bianmin_consumer_events_applied_total", "consumer" => consumer)
        .increment(applied);
    metrics::counter!("bianmin_consumer_duplicates_total", "consumer" => consumer)
        .increment(batch.len() as u64 - applied);
    true
}

fn consume_span(subscription: &Subscription, message: &jetstream::Message) -> tracing::Span {
    let span = tracing::info_span!("consume", consumer = subscription.consumer,
        subject = %message.subject, event_id = tracing::field::Empty, otel.kind = "consumer");
    if let Some(h) = &message.headers {
        crate::propagation::set_parent_from_nats(&span, h);
    }
    span
}

fn event_id(message: &jetstream::Message) -> Option<Uuid> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(headers::EVENT_ID))
        .and_then(|v| Uuid::parse_str(v.as_str()).ok())
}

/// Records a batch's events in the inbox; returns the ids that were not
/// there yet.
async fn record_all(
    tx: &mut PgConnection,
    subscription: &Subscription,
    batch: &[jetstream::Message],
    ids: &[Uuid],
) -> sqlx::Result<std::collections::HashSet<Uuid>> {
    let subjects: Vec<&str> = batch.iter().map(|m| m.subject.as_str()).collect();
    let fresh: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, event_id, subject)
         SELECT $1, * FROM unnest($2::uuid[], $3::text[])
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(subscription.consumer)
    .bind(ids)
    .bind(&subjects)
    .fetch_all(tx)
    .await?;
    Ok(fresh.into_iter().collect())
}

/// Records the event in the inbox; false when it was there already.
async fn record(
    tx: &mut PgConnection,
    subscription: &Subscription,
    event: &Event<'_>,
) -> sqlx::Result<bool> {
    let recorded = sqlx::query(
        "INSERT INTO inbox (consumer, event_id, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(subscription.consumer)
    .bind(event.id)
    .bind(event.subject)
    .execute(tx)
    .await?;
    Ok(recorded.rows_affected() == 1)
}

async fn process<H: Handler>(
    pool: &PgPool,
    js: &jetstream::Context,
    subscription: &Subscription,
    handler: &H,
    message: &jetstream::Message,
) {
    let span = consume_span(subscription, message);
    async {
        let deliveries = message.info().map(|i| i.delivered).unwrap_or(1);
        let Some(event_id) = event_id(message) else {
            dead_letter(js, subscription, message, "missing or malformed Bianmin-Event-Id header", deliveries).await;
            return;
        };
        tracing::Span::current().record("event_id", tracing::field::display(event_id));
        let event = Event { id: event_id, subject: message.subject.as_str(), payload: &message.payload };

        let consumer = subscription.consumer;
        match apply(pool, subscription, handler, &event).await {
            Ok(Applied::Done) => {
                metrics::counter!("bianmin_consumer_events_applied_total", "consumer" => consumer).increment(1);
                ack(message, AckKind::Ack).await
            }
            Ok(Applied::Duplicate) => {
                metrics::counter!("bianmin_consumer_duplicates_total", "consumer" => consumer).increment(1);
                tracing::info!("event already applied; acknowledging the redelivery");
                ack(message, AckKind::Ack).await
            }
            Err(Failure::Infrastructure(e)) => {
                tracing::warn!(error = %e, "database unavailable; will retry the event");
                ack(message, AckKind::Nak(Some(Duration::from_secs(2)))).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(Failure::Handler(HandleError::Permanent(e))) => {
                dead_letter(js, subscription, message, &e, deliveries).await
            }
            Err(Failure::Handler(HandleError::Transient(e))) if deliveries >= MAX_HANDLER_ATTEMPTS => {
                dead_letter(js, subscription, message, &e, deliveries).await
            }
            Err(Failure::Handler(HandleError::Transient(e))) => {
                metrics::counter!("bianmin_consumer_handler_failures_total", "consumer" => consumer).increment(1);
                let delay = Duration::from_millis(500 * 2u64.pow(deliveries.clamp(1, 8) as u32 - 1));
                tracing::warn!(error = %e, deliveries, retry_in_ms = delay.as_millis() as u64, "handler failed; will retry");
                ack(message, AckKind::Nak(Some(delay))).await
            }
        }
    }
    .instrument(span)
    .await
}

enum Applied {
    Done,
    Duplicate,
}

enum Failure {
    Infrastructure(sqlx::Error),
    Handler(HandleError),
}

async fn apply<H: Handler>(
    pool: &PgPool,
    subscription: &Subscription,
    handler: &H,
    event: &Event<'_>,
) -> Result<Applied, Failure> {
    // System work, every center (see `process_batch`).
    let mut tx = crate::db::begin(pool, &crate::db::Scope::AllCenters)
        .await
        .map_err(Failure::Infrastructure)?;
    if !record(&mut tx, subscription, event)
        .await
        .map_err(Failure::Infrastructure)?
    {
        return Ok(Applied::Duplicate);
    }
    handler
        .handle(&mut tx, event)
        .await
        .map_err(Failure::Handler)?;
    tx.commit().await.map_err(Failure::Infrastructure)?;
    crate::outbox::committed();
    Ok(Applied::Done)
}

async fn ack(message: &jetstream::Message, kind: AckKind) {
    // A lost ack only means a redelivery, which the inbox absorbs.
    if let Err(e) = message.ack_with(kind).await {
        tracing::warn!(error = %e, "acknowledging failed; the event will be redelivered and skipped");
    }
}

/// Subject a consumer's dead letters are kept under.
pub fn dead_letter_subject(consumer: &str, original: &str) -> String {
    format!("{}.{consumer}.{original}", DEAD_LETTER_PREFIX)
}

/// Header names a dead letter carries besides the original ones.
pub mod dead_letter_headers {
    pub const ORIGINAL_SUBJECT: &str = "Bianmin-Original-Subject";
    pub const CONSUMER: &str = "Bianmin-Consumer";
    pub const ERROR: &str = "Bianmin-Error";
    pub const DELIVERIES: &str = "Bianmin-Deliveries";
}

async fn dead_letter(
    js: &jetstream::Context,
    subscription: &Subscription,
    message: &jetstream::Message,
    reason: &str,
    deliveries: i64,
) {
    use dead_letter_headers as h;
    tracing::error!(reason, deliveries, "event dead-lettered");
    let mut headers = message.headers.clone().unwrap_or_default();
    let stream_seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
    // A fresh de-duplication id: the original one was already accepted.
    headers.insert(
        headers::MSG_ID,
        format!("dlq-{}-{stream_seq}", subscription.consumer).as_str(),
    );
    headers.insert(h::ORIGINAL_SUBJECT, message.subject.as_str());
    headers.insert(h::CONSUMER, subscription.consumer);
    headers.insert(
        h::ERROR,
        reason.chars().take(1000).collect::<String>().as_str(),
    );
    headers.insert(h::DELIVERIES, deliveries.to_string().as_str());
    let subject = dead_letter_subject(subscription.consumer, &message.subject);
    let stored = match js
        .publish_with_headers(subject, headers, message.payload.clone())
        .await
    {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match stored {
        // Only once the dead letter is stored is the original let go.
        Ok(()) => {
            metrics::counter!("bianmin_consumer_dead_letters_total", "consumer" => subscription.consumer)
                .increment(1);
            ack(message, AckKind::Term).await
        }
        Err(e) => {
            tracing::warn!(error = %e, "dead-letter stream unavailable; will retry the event");
            ack(message, AckKind::Nak(Some(Duration::from_secs(5)))).await
        }
    }
}

/// Re-publishes dead letters (optionally only one consumer's) to their
/// original subjects and removes them from the dead-letter stream. Each
/// copy gets a fresh message id so JetStream accepts it; consumers that had
/// applied the event already skip it by its event id.
pub async fn replay_dead_letters(
    js: &jetstream::Context,
    consumer: Option<&str>,
) -> anyhow::Result<u64> {
    use dead_letter_headers as h;
    let stream = js.get_stream(DEAD_LETTER_STREAM).await?;
    let filter = match consumer {
        Some(c) => format!("{}.{c}.>", DEAD_LETTER_PREFIX),
        None => format!("{}.>", DEAD_LETTER_PREFIX),
    };
    let reader = stream
        .create_consumer(pull::Config {
            filter_subject: filter,
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await?;
    let pending = reader.cached_info().num_pending;
    let mut replayed = 0u64;
    if pending == 0 {
        return Ok(0);
    }
    let mut batch = reader
        .fetch()
        .max_messages(pending as usize)
        .expires(Duration::from_secs(5))
        .messages()
        .await?;
    while let Some(message) = batch.next().await {
        let message = message.map_err(|e| anyhow::anyhow!("reading dead letters: {e}"))?;
        let mut headers = message.headers.clone().unwrap_or_default();
        let Some(original) = headers.get(h::ORIGINAL_SUBJECT).map(|v| v.to_string()) else {
            tracing::warn!(subject = %message.subject, "dead letter without its original subject; left in place");
            continue;
        };
        let seq = message
            .info()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .stream_sequence;
        headers.insert(
            headers::MSG_ID,
            format!("replay-{seq}-{}", Uuid::new_v4()).as_str(),
        );
        js.publish_with_headers(original, headers, message.payload.clone())
            .await?
            .await?;
        stream.delete_message(seq).await?;
        message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        replayed += 1;
        if replayed >= pending {
            break;
        }
    }
    Ok(replayed)
}
