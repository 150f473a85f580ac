//! NATS JetStream: the connection and the streams, declared with explicit
//! settings rather than server defaults.

use async_nats::jetstream::{self, stream};
use bianmin_proto::subjects;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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

/// Every stream of the platform. Each service ensures all of them at start,
/// so the first one up never waits for another to create what it consumes.
pub fn streams(replicas: usize) -> Vec<stream::Config> {
    let mut all = vec![
        event_stream(subjects::INTAKE_STREAM, subjects::INTAKE_SUBJECTS),
        event_stream(subjects::REVIEW_STREAM, subjects::REVIEW_SUBJECTS),
        stream::Config {
            max_age: DEAD_LETTER_MAX_AGE,
            ..event_stream(
                subjects::DEAD_LETTER_STREAM,
                &format!("{}.>", subjects::DEAD_LETTER_PREFIX),
            )
        },
    ];
    for s in &mut all {
        s.num_replicas = replicas;
    }
    all
}

/// Creates the streams, or updates them to these settings.
pub async fn ensure_streams(js: &jetstream::Context, replicas: usize) -> anyhow::Result<()> {
    for config in streams(replicas) {
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
