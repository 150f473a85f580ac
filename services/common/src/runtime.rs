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

/// Calls `attempt` until it succeeds, backing off from 200 ms to 5 s and
/// logging each failure: a dependency that is still starting (a database,
/// NATS, an object store) delays readiness instead of crashing the pod.
/// Gives up only when shutdown is requested.
pub async fn retry_until_ready<T, E, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    mut attempt: F,
) -> anyhow::Result<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(200);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "{what} not reachable yet")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => anyhow::bail!("shutdown requested while waiting for {what}"),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Connects to PostgreSQL (retrying until it answers), with the database
/// created when missing and migrations run.
pub async fn database(
    settings: &ServiceSettings,
    migrations: &'static Migrator,
    shutdown: &CancellationToken,
) -> anyhow::Result<PgPool> {
    let pool = retry_until_ready("database", shutdown, || {
        crate::db::connect(&settings.database_url, settings.database_pool_size)
    })
    .await?;
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

/// Declares `subscription`'s durable consumer now, so readiness waits for
/// it, and consumes it under `tasks` until shutdown.
pub async fn start_consumer<H: crate::inbox::Handler>(
    infra: &Infra,
    settings: &ServiceSettings,
    tasks: &TaskTracker,
    subscription: crate::inbox::Subscription,
    handler: H,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    crate::inbox::ensure_consumer(&infra.jetstream, &subscription).await?;
    tasks.spawn(crate::inbox::run(
        infra.pool.clone(),
        infra.jetstream.clone(),
        subscription,
        crate::inbox::Tuning {
            max_batch: settings.inbox_max_batch,
        },
        handler,
        shutdown.clone(),
    ));
    Ok(())
}
