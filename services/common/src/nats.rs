//! NATS JetStream: the connection and the streams, declared with explicit
//! settings rather than server defaults.

use async_nats::jetstream::{self, stream};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A stream of domain events: one per producing service, declared by the
/// producer and by each of its consumers (the names are the proto crate's,
/// where producers and consumers meet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stream {
    pub name: &'static str,
    /// The subjects it captures (`bianmin.intake.>`).
    pub subjects: &'static str,
}

/// Dead letters of every consumer: `bianmin.dlq.<consumer>.<original subject>`.
pub const DEAD_LETTER_STREAM: &str = "BIANMIN_DEAD_LETTER";
pub const DEAD_LETTER_PREFIX: &str = "bianmin.dlq";

/// Message headers every event carries besides the W3C trace context.
pub mod headers {
    /// JetStream de-duplication id; equals the event id.
    pub const MSG_ID: &str = "Nats-Msg-Id";
    pub const EVENT_ID: &str = "Bianmin-Event-Id";
    pub const EVENT_TYPE: &str = "Bianmin-Event-Type";
}

/// JetStream keeps `Nats-Msg-Id`s this long to drop duplicate publishes.
/// It must outlast the relay's worst retry (its backoff is capped at
/// [`crate::outbox::MAX_BACKOFF`]); consumers' inboxes catch anything older.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long domain events stay in their stream. PostgreSQL stays the source
/// of truth: the outbox can re-publish any range it still keeps.
pub const EVENT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Dead letters wait for an operator longer.
pub const DEAD_LETTER_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

/// Connects, retrying until NATS answers or shutdown is requested.
pub async fn connect(
    url: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<async_nats::Client> {
    crate::runtime::retry_until_ready(&format!("nats at {url}"), shutdown, || {
        async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .connect(url)
    })
    .await
}

pub fn jetstream(client: async_nats::Client) -> jetstream::Context {
    let mut context = jetstream::new(client);
    context.set_timeout(Duration::from_secs(10));
    context
}

fn event_stream(name: &str, subject: &str) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_age: EVENT_MAX_AGE,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: 1,
        ..Default::default()
    }
}

/// The configurations of `declared` (a service's streams) plus the
/// dead-letter stream every consumer may write to.
pub fn streams(declared: &[Stream], replicas: usize) -> Vec<stream::Config> {
    let mut all: Vec<stream::Config> = declared
        .iter()
        .map(|s| event_stream(s.name, s.subjects))
        .collect();
    all.push(stream::Config {
        max_age: DEAD_LETTER_MAX_AGE,
        ..event_stream(DEAD_LETTER_STREAM, &format!("{DEAD_LETTER_PREFIX}.>"))
    });
    for s in &mut all {
        s.num_replicas = replicas;
    }
    all
}

/// Creates `declared` and the dead-letter stream, or updates them to these
/// settings.
pub async fn ensure_streams(
    js: &jetstream::Context,
    declared: &[Stream],
    replicas: usize,
) -> anyhow::Result<()> {
    for config in streams(declared, replicas) {
        let name = config.name.clone();
        match js.get_stream(&name).await {
            Ok(_) => {
                js.update_stream(config)
                    .await
                    .map_err(|e| anyhow::anyhow!("updating stream {name}: {e}"))?;
            }
            Err(_) => {
                js.create_stream(config)
                    .await
                    .map_err(|e| anyhow::anyhow!("creating stream {name}: {e}"))?;
            }
        }
    }
    Ok(())
}
