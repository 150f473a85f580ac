//! The start-up every service shares: database and migrations, NATS and
//! streams, the outbox relay and its pruning. Readiness follows from it.

use crate::calendar::WorkingCalendar;
use crate::config::ServiceSettings;
use async_nats::jetstream;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a running service stands on.
#[derive(Clone)]
pub struct Infra {
    pub pool: PgPool,
    pub jetstream: jetstream::Context,
    pub calendar: Arc<WorkingCalendar>,
}

/// Connects to PostgreSQL (retrying until it answers), with the database
/// created when missing and migrations run.
pub async fn database(
    settings: &ServiceSettings,
    migrations: &'static Migrator,
    shutdown: &CancellationToken,
) -> anyhow::Result<PgPool> {
    let mut delay = Duration::from_millis(200);
    let pool = loop {
        match crate::db::connect(&settings.database_url, settings.database_pool_size).await {
            Ok(pool) => break pool,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database not reachable yet")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => anyhow::bail!("shutdown requested while connecting to the database"),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    };
    crate::db::migrate(&pool, migrations).await?;
    Ok(pool)
}

/// Brings up everything a service needs, and starts the outbox relay and
/// pruning under `tasks`.
pub async fn start(
    settings: &ServiceSettings,
    migrations: &'static Migrator,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<Infra> {
    let calendar = Arc::new(WorkingCalendar::load_dir(&settings.calendar_dir)?);
    let pool = database(settings, migrations, shutdown).await?;
    let client = crate::nats::connect(&settings.nats_url, settings.name, shutdown).await?;
    let js = crate::nats::jetstream(client);
    crate::nats::ensure_streams(&js, settings.nats_replicas).await?;

    tasks.spawn(crate::outbox::Relay::new(pool.clone(), js.clone()).run(shutdown.clone()));
    use crate::retention::{PROCESSED_INBOX, PUBLISHED_OUTBOX, prune_hourly};
    tasks.spawn(prune_hourly(
        pool.clone(),
        PUBLISHED_OUTBOX,
        settings.outbox_retention,
        shutdown.clone(),
    ));
    tasks.spawn(prune_hourly(
        pool.clone(),
        PROCESSED_INBOX,
        settings.inbox_retention,
        shutdown.clone(),
    ));
    Ok(Infra {
        pool,
        jetstream: js,
        calendar,
    })
}
