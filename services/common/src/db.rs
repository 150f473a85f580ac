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

/// Creates the owner and app roles when missing (idempotent; run as a
/// superuser): the same file `make up` runs with psql.
pub const ROLES_SQL: &str = include_str!("../sql/roles.sql");

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

/// Runs the shared and the service's migrations (as the owner role).
pub async fn migrate(pool: &PgPool, service: &'static Migrator) -> anyhow::Result<()> {
    migrator(service).run(pool).await?;
    Ok(())
}

/// Fails unless every migration of the shared and `service`'s set has been
/// applied. `serve` connects as the app role, which may not change the
/// schema, so it checks instead of migrating: the `migrate` command (an
/// init container, `make up`) runs first as the owner.
pub async fn ensure_migrated(pool: &PgPool, service: &'static Migrator) -> anyhow::Result<()> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "the database is not migrated ({e}); run this service's `migrate` command first"
                )
            })?;
    let pending: Vec<i64> = migrator(service)
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    anyhow::ensure!(
        pending.is_empty(),
        "migrations {pending:?} are not applied; run this service's `migrate` command first (deploy/RUNBOOK.md)"
    );
    Ok(())
}

/// Whose rows a transaction may see and write, for the row-level security
/// policies (`center_visible()` in the shared migrations).
///
/// The scope lives in transaction-local settings (`set_config(name, value,
/// true)`), never in the session: a pooled connection goes back to the pool
/// after each transaction, and a session `SET` would follow it into the next
/// caller's transaction, which may be another center's. A transaction-local
/// setting ends with its transaction, whichever way it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One center, or the few a partner's grant covers.
    Centers(Vec<String>),
    /// Every center: only for a caller already checked to be district-wide
    /// (a district administrator, another service acting for the platform)
    /// and for system work (event consumers, timers, the public lookup by
    /// application number and proof). Named so it is greppable and never
    /// the accidental default; with no scope at all nothing is visible.
    AllCenters,
}

impl Scope {
    pub fn center(center: impl Into<String>) -> Self {
        Scope::Centers(vec![center.into()])
    }

    /// The scope a verified principal's own role gives: a center's staff
    /// their center, a partner the centers of its grant, district-wide roles
    /// (and the platform's services) every center. Residents are not
    /// center-bound (their applications may be at any center): their rows
    /// are chosen in code by who submitted them, so they too get every
    /// center; the code's check on the submitter is their wall.
    pub fn of(principal: &crate::auth::Principal) -> Self {
        use crate::auth::Role;
        match (principal.role, &principal.center_id) {
            (Role::Partner, _) => Scope::Centers(principal.centers.clone()),
            (Role::DistrictAdmin | Role::Service | Role::Resident, _) => Scope::AllCenters,
            (_, Some(center)) => Scope::center(center.clone()),
            // A staff role without a center sees nothing.
            (_, None) => Scope::Centers(Vec::new()),
        }
    }

    fn settings(&self) -> (String, &'static str) {
        match self {
            Scope::Centers(centers) => (centers.join(","), "off"),
            Scope::AllCenters => (String::new(), "on"),
        }
    }
}

/// Sets `scope` on the transaction open on `conn` (for code handed a
/// transaction, e.g. an inbox handler's). Outside a transaction the
/// settings would end with the statement, so call it inside one only.
pub async fn set_scope(conn: &mut sqlx::PgConnection, scope: &Scope) -> sqlx::Result<()> {
    let (centers, all) = scope.settings();
    sqlx::query(
        "SELECT set_config('app.center_id', $1, true), set_config('app.all_centers', $2, true)",
    )
    .bind(centers)
    .bind(all)
    .execute(conn)
    .await?;
    Ok(())
}

/// Begins a transaction scoped to `scope`: the way a store opens every
/// transaction that touches a center-scoped table.
pub async fn begin(
    pool: &PgPool,
    scope: &Scope,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    set_scope(&mut tx, scope).await?;
    Ok(tx)
}
