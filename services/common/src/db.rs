//! PostgreSQL: the pool, the database itself, and embedded migrations.
//!
//! Every service owns one database. Migrations are the shared ones of this
//! crate (outbox, inbox) followed by the service's own, run as one set under
//! sqlx's advisory lock so replicas starting together are safe.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, PgPool};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

/// Migrations every service runs first.
pub static SHARED_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The shared migrations followed by a service's own.
pub fn migrator(service: &'static Migrator) -> Migrator {
    let migrations: Vec<_> = SHARED_MIGRATIONS
        .iter()
        .chain(service.iter())
        .cloned()
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Connects a small pool. Creates the database first when it does not exist
/// and the role may create it (the one-machine default); in a cluster the
/// database is provisioned by the operator and this step is a no-op.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
    ensure_database(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    warn_without_autovacuum(&pool).await;
    Ok(pool)
}

/// The outbox and inbox take a row per event and an update per publish;
/// without autovacuum they are never analysed or vacuumed, plans fall back
/// to sequential scans and throughput decays as they grow. Said once at
/// start, where an operator looks.
async fn warn_without_autovacuum(pool: &PgPool) {
    if let Ok(setting) = sqlx::query_scalar::<_, String>("SHOW autovacuum")
        .fetch_one(pool)
        .await
        && setting == "off"
    {
        tracing::warn!(
            "PostgreSQL has autovacuum off: the outbox and inbox will bloat and slow down; turn it on (deploy/RUNBOOK.md)"
        );
    }
}

async fn ensure_database(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_string) else {
        return Ok(());
    };
    match options.connect().await {
        Ok(_) => return Ok(()),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {}
        Err(e) => return Err(e.into()),
    }
    let mut admin = options.clone().database("postgres").connect().await?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
        .execute(&mut admin)
        .await
    {
        Ok(_) => tracing::info!(database = %name, "created database"),
        // Another replica created it first.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Runs the shared and the service's migrations.
pub async fn migrate(pool: &PgPool, service: &'static Migrator) -> anyhow::Result<()> {
    migrator(service).run(pool).await?;
    Ok(())
}
