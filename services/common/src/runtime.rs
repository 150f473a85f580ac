//! The one start-up sequence every service runs ([`serve`]): the gRPC
//! server (health NOT_SERVING, every call UNAVAILABLE until ready), the
//! calendar, the database and its migrations, NATS and the streams, the
//! outbox relay and pruning, then what the service itself starts (its
//! consumers, timers, notification dispatch), readiness, and on shutdown
//! NOT_SERVING, draining, and waiting for every task. A service describes
//! itself ([`Service`]) and its own start ([`Startup`]); it never repeats
//! the sequence.

use crate::auth::policy::Policy;
use crate::calendar::WorkingCalendar;
use crate::config::ServiceSettings;
use crate::grpc::Ready;
use crate::nats::Stream;
use async_nats::jetstream;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
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

/// Connects to PostgreSQL as the app role (retrying until it answers) and
/// checks the migrations have been applied.
pub async fn database(
    settings: &ServiceSettings,
    migrations: &'static Migrator,
    shutdown: &CancellationToken,
) -> anyhow::Result<PgPool> {
    let pool = retry_until_ready("database", shutdown, || {
        crate::db::connect(&settings.database_url, settings.database_pool_size)
    })
    .await?;
    crate::db::ensure_migrated(&pool, migrations).await?;
    Ok(pool)
}

/// Connects as the owner role (`MIGRATION_DATABASE_URL`), retrying until
/// PostgreSQL answers, creates the database when missing and runs the
/// migrations: the `migrate` command.
pub async fn migrate(
    settings: &ServiceSettings,
    migrations: &'static Migrator,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let pool = retry_until_ready("database", shutdown, || {
        crate::db::connect(&settings.migration_database_url, 1)
    })
    .await?;
    crate::db::migrate(&pool, migrations).await?;
    pool.close().await;
    Ok(())
}

/// What a service is, for [`serve`].
pub struct Service {
    /// Who may do what: its methods open without a token, and the gRPC
    /// service name health reports on (`policy.service`).
    pub policy: &'static Policy,
    pub migrations: &'static Migrator,
    /// The streams it publishes to and consumes from, declared at start
    /// (creating or updating them), so no service waits for another to
    /// create what it reads. The dead-letter stream is always declared.
    pub streams: &'static [Stream],
}

/// What a service's own start gets: the infrastructure, and where to put
/// what it runs until shutdown.
pub struct Startup {
    pub infra: Infra,
    pub settings: ServiceSettings,
    pub shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Startup {
    /// Declares `subscription`'s durable consumer now, so readiness waits
    /// for it, and consumes it until shutdown.
    pub async fn consume<H: crate::inbox::Handler>(
        &self,
        subscription: crate::inbox::Subscription,
        handler: H,
    ) -> anyhow::Result<()> {
        crate::inbox::ensure_consumer(&self.infra.jetstream, &subscription).await?;
        crate::inbox::watch_lag(&self.infra.jetstream, &subscription);
        self.tasks.spawn(crate::inbox::run(
            self.infra.pool.clone(),
            self.infra.jetstream.clone(),
            subscription,
            crate::inbox::Tuning {
                max_batch: self.settings.inbox_max_batch,
            },
            handler,
            self.shutdown.clone(),
        ));
        Ok(())
    }

    /// Runs `task` until it ends; shutdown waits for it. The task watches
    /// [`Startup::shutdown`] itself.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Sends the notifications the service writes (`notifications` table)
    /// through the configured sender (`NOTIFY_SENDER`). `keys` opens sealed
    /// recipients (a resident's phone); without them only staff are
    /// reached.
    pub fn dispatch_notifications(
        &self,
        keys: Option<Arc<crate::pii::PiiKeys>>,
    ) -> anyhow::Result<()> {
        let sender = crate::notify::sender_from_settings(
            self.settings.notify_sender.as_deref(),
            self.settings.notify_webhook_url.as_deref(),
        )?;
        crate::notify::watch_pending(&self.infra.pool);
        self.spawn(crate::notify::run(
            self.infra.pool.clone(),
            sender,
            keys,
            Duration::from_millis(500),
            self.shutdown.clone(),
        ));
        Ok(())
    }
}

/// Serves a service on `listener` until `shutdown`: the whole start-up
/// sequence. `routes` builds the service's gRPC services around the state
/// that `start` produces once everything it stands on is up; until then
/// every call answers UNAVAILABLE and health NOT_SERVING.
pub async fn serve<S, Fut>(
    service: Service,
    settings: ServiceSettings,
    listener: TcpListener,
    shutdown: CancellationToken,
    routes: impl FnOnce(Ready<S>) -> tonic::service::Routes,
    start: impl FnOnce(Startup) -> Fut,
) -> anyhow::Result<()>
where
    S: Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<S>>,
{
    let state = Ready::default();
    let (health, health_service) = crate::grpc::health(&[service.policy.service]).await;
    let routes = routes(state.clone()).add_service(health_service);
    let server = tokio::spawn(crate::grpc::serve(
        listener,
        service.policy,
        routes,
        health.clone(),
        shutdown.clone(),
        settings.shutdown_drain,
    ));

    let tasks = TaskTracker::new();
    let started = async {
        let calendar = Arc::new(WorkingCalendar::load_dir(&settings.calendar_dir)?);
        let pool = database(&settings, service.migrations, &shutdown).await?;
        crate::metrics::watch_pool(&pool);
        crate::outbox::watch_backlog(&pool);
        let client = crate::nats::connect(&settings.nats_url, settings.name, &shutdown).await?;
        let js = crate::nats::jetstream(client);
        crate::nats::ensure_streams(&js, service.streams, settings.nats_replicas).await?;

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
        let infra = Infra {
            pool,
            jetstream: js,
            calendar,
        };
        start(Startup {
            infra,
            settings: settings.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
        })
        .await
    };
    match started.await {
        Ok(ready) => {
            state.set(ready);
            health.serving().await;
            crate::metrics::set_ready(true);
            tracing::info!(addr = %settings.grpc_addr, service = settings.name, "ready");
        }
        Err(e) => {
            // Nothing half-started keeps running: stop the server and the
            // tasks already spawned, then report why.
            shutdown.cancel();
            let _ = server.await;
            tasks.close();
            tasks.wait().await;
            return Err(e);
        }
    }

    let served = server.await?;
    tasks.close();
    tasks.wait().await;
    served
}
