//! Starting a service for its own API tests, the way zero-to-production's
//! `spawn_app` does: the real service (`run(settings, listener,
//! shutdown)`) in the test's process, on port 0, against a fresh database
//! copied from a migrated template, and a NATS server of the test's own.
//! Tests call it over real gRPC with signed tokens. Only with the
//! `testkit` feature (a dev-dependency of each service).

use crate::auth::Principal;
use crate::auth::token::{AuthSettings, Claims, SigningKey, Verifier};
use crate::config::Env;
use sqlx::migrate::Migrator;
use sqlx::{Connection as _, PgConnection};
use std::collections::{HashMap, HashSet};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// The machine's PostgreSQL (trust authentication on the one-machine
/// default, as `make test` ensures).
pub const PG_BASE: &str = "postgres://postgres:postgres@127.0.0.1:5432";
/// The same server as the owner role migrations run as.
pub const PG_OWNER: &str = "postgres://bianmin_owner:bianmin_owner@127.0.0.1:5432";
/// The same server as the app role services serve as (row-level security
/// holds for it).
pub const PG_APP: &str = "postgres://bianmin_app:bianmin_app@127.0.0.1:5432";
pub use crate::db::ROLES_SQL;

/// Creates the owner and app roles if missing (idempotent; safe when two
/// test processes do it at once).
pub async fn ensure_roles() -> anyhow::Result<()> {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_try_init(|| async {
        let mut admin = PgConnection::connect(&format!("{PG_BASE}/postgres")).await?;
        // A lock, so two processes do not race on ALTER ROLE either.
        sqlx::raw_sql("SELECT pg_advisory_lock(hashtext('bianmin roles'))")
            .execute(&mut admin)
            .await?;
        let done = sqlx::raw_sql(sqlx::AssertSqlSafe(ROLES_SQL))
            .execute(&mut admin)
            .await;
        sqlx::raw_sql("SELECT pg_advisory_unlock(hashtext('bianmin roles'))")
            .execute(&mut admin)
            .await?;
        done?;
        anyhow::Ok(())
    })
    .await?;
    Ok(())
}

/// `url` (of [`PG_BASE`]) with the app role instead of the superuser.
pub fn as_app(url: &str) -> String {
    url.replacen(PG_BASE, PG_APP, 1)
}

/// `url` (of [`PG_BASE`]) with the owner role instead of the superuser.
pub fn as_owner(url: &str) -> String {
    url.replacen(PG_BASE, PG_OWNER, 1)
}
/// The issuer and audience of the tokens [`token`] signs.
pub const ISSUER: &str = "https://idp.test.bianmin";
pub const AUDIENCE: &str = "bianmin";

pub fn free_port() -> u16 {
    // The port is released before its user binds it, so the system may
    // offer it again to the next caller: two processes of one cluster were
    // once handed the same port and the second could not start. Every port
    // this process hands out is remembered and never handed out twice.
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if !handed.contains(&port) {
            handed.push(port);
            return port;
        }
    }
}

pub async fn wait_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A NATS server of the test's own, so stopping it disturbs nothing else.
/// The binary is `NATS_SERVER_BIN` (`make test` sets it) or `nats-server`,
/// with `BIANMIN_NATS_CONF` when set.
pub struct Nats {
    pub port: u16,
    store: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Nats {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut nats = Self {
            port: free_port(),
            store: dir.join("nats-store"),
            log: dir.join("nats.log"),
            child: None,
        };
        nats.resume().await?;
        Ok(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and store.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        let mut command = Command::new(&bin);
        if let Ok(conf) = std::env::var("BIANMIN_NATS_CONF") {
            command.arg("-c").arg(conf);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        self.child = Some(command.spawn().map_err(|e| {
            anyhow::anyhow!("starting {bin}: {e} (make test sets NATS_SERVER_BIN)")
        })?);
        anyhow::ensure!(
            wait_port(self.port, Duration::from_secs(10)).await,
            "nats did not start: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        Ok(())
    }

    /// Kills the server (SIGKILL: a crash, not a goodbye).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Templates made by this process, by name.
static TEMPLATES: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// A database migrated (as the owner role) with the shared and `migrations`, to copy from:
/// named by a hash of the migrations, made once and reused until the
/// migrations change.
pub async fn template(service: &str, migrations: &'static Migrator) -> anyhow::Result<String> {
    use sha2::Digest as _;
    let migrator = crate::db::migrator(migrations);
    let mut hash = sha2::Sha256::new();
    for m in migrator.iter() {
        hash.update(m.version.to_be_bytes());
        hash.update(&m.checksum);
    }
    let name = template_name(service, &hash.finalize());
    template_named(&name, |url| async move {
        let pool = sqlx::PgPool::connect(&url).await?;
        migrator.run(&pool).await?;
        pool.close().await;
        Ok(())
    })
    .await
}

/// `bianmin_template_<service>_<first bytes of digest>`.
pub fn template_name(service: &str, digest: &[u8]) -> String {
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("bianmin_template_{service}_{short}")
}

/// The template database `name`, made by `build` (given its URL) if it
/// does not exist yet: by whichever test process gets there first (an
/// advisory lock keeps two from racing), under a temporary name renamed
/// only once whole, so no test copies a half-migrated template.
pub async fn template_named<F, Fut>(name: &str, build: F) -> anyhow::Result<String>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let made = TEMPLATES.get_or_init(|| Mutex::new(HashSet::new()));
    let mut made = made.lock().await;
    if made.contains(name) {
        return Ok(name.to_string());
    }
    ensure_roles().await?;
    let mut admin = PgConnection::connect(&format!("{PG_BASE}/postgres")).await?;
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(name)
        .execute(&mut admin)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await?;
    let built = if exists {
        Ok(())
    } else {
        build_template(&mut admin, name, build).await
    };
    sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(name)
        .execute(&mut admin)
        .await?;
    built?;
    made.insert(name.to_string());
    Ok(name.to_string())
}

async fn build_template<F, Fut>(
    admin: &mut PgConnection,
    name: &str,
    build: F,
) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let building = format!("{name}_building");
    for statement in [
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quoted(&building)),
        // Owned by the owner role, as in a district: migrations create
        // their tables in its public schema.
        format!("CREATE DATABASE {} OWNER bianmin_owner", quoted(&building)),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *admin)
            .await?;
    }
    // The migrations run as the owner, so the tables are its own (and
    // row-level security, forced, holds for it too).
    build(format!("{PG_OWNER}/{building}")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} RENAME TO {}",
        quoted(&building),
        quoted(name)
    )))
    .execute(&mut *admin)
    .await?;
    Ok(())
}

/// A fresh database named `name`, copied from `template`: its URL.
pub async fn copy_of(template: &str, name: &str) -> anyhow::Result<String> {
    let mut admin = PgConnection::connect(&format!("{PG_BASE}/postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        // Owned by the owner role, like the template (and a district's).
        "CREATE DATABASE {} TEMPLATE {} OWNER bianmin_owner",
        quoted(name),
        quoted(template)
    )))
    .execute(&mut admin)
    .await?;
    Ok(format!("{PG_BASE}/{name}"))
}

/// A fresh database for one test, copied from the service's [`template`]:
/// its URL.
pub async fn fresh_database(
    service: &str,
    migrations: &'static Migrator,
) -> anyhow::Result<String> {
    let template = template(service, migrations).await?;
    let name = format!(
        "test_{service}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    copy_of(&template, &name).await
}

/// Drops a test's database.
pub async fn drop_database(url: &str) {
    let Some(name) = url.rsplit('/').next() else {
        return;
    };
    if let Ok(mut admin) = PgConnection::connect(&format!("{PG_BASE}/postgres")).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quoted(name)
        )))
        .execute(&mut admin)
        .await;
    }
}

/// The key every token of this test process is signed with; the services
/// started by [`spawn`] verify against it.
pub fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::from_ec_pem(SigningKey::generate_pem().as_bytes()).expect("a fresh key")
    })
}

/// A bearer token for `principal`, valid for ten minutes.
pub fn token(principal: &Principal) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    signing_key()
        .sign(&Claims {
            sub: principal.subject.clone(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now + 600,
            nbf: None,
            iat: Some(now),
            role: principal.role.as_str().into(),
            center_id: principal.center_id.clone(),
            centers: principal.centers.clone(),
        })
        .expect("a token")
}

/// `request` carrying `principal`'s token.
pub fn as_caller<T>(principal: &Principal, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    crate::auth::attach_bearer(&mut request, &token(principal));
    request
}

/// A staff member of `center` in `role`, named like the demo accounts.
pub fn staff(role: crate::auth::Role, center: &str) -> Principal {
    Principal {
        subject: format!("{}-{}", center.to_lowercase(), role.as_str()),
        role,
        center_id: Some(center.into()),
        centers: Vec::new(),
    }
}

/// A service running in this process for its API tests.
pub struct Spawned {
    /// Its gRPC address, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The superuser's URL of its database, for tests to look at (and
    /// arrange) what it wrote, across centers; the service itself connects
    /// as the app role.
    pub database_url: String,
    pub nats: Nats,
    /// Logs and the NATS store.
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Spawned {
    /// A pool on the service's database, to look at what it wrote.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("the test database")
    }

    /// A channel to the service.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.url.clone())
            .expect("a URL")
            .connect()
            .await
            .expect("the service answers")
    }

    /// Stops it (SIGTERM's path: NOT_SERVING, drain, tasks done), then
    /// drops its database.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        match tokio::time::timeout(Duration::from_secs(30), &mut self.task).await {
            Ok(Ok(Err(e))) => panic!("the service failed: {e:#}"),
            Ok(Err(e)) => panic!("the service panicked: {e}"),
            Ok(Ok(Ok(()))) => {}
            Err(_) => panic!("the service did not stop within 30 s"),
        }
        self.nats.kill().await;
        drop_database(&self.database_url).await;
    }
}

/// Starts a service with `run`, its settings read by `read` from the test
/// values plus `extra` (never from the process environment), and waits
/// until its health says SERVING.
pub async fn spawn<S, F>(
    name: &'static str,
    migrations: &'static Migrator,
    read: fn(&mut Env) -> S,
    run: fn(S, TcpListener, CancellationToken) -> F,
    extra: &[(&str, String)],
) -> anyhow::Result<Spawned>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let auth = AuthSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks_url: None,
        jwks_file: None,
    };
    // The first call wins: every spawned service of this process verifies
    // against the same key.
    crate::auth::layer::install(Arc::new(Verifier::with_key_set(
        &auth,
        signing_key().key_set(),
    )));
    let dir = tempfile::Builder::new()
        .prefix(&format!("bianmin-{name}-"))
        .tempdir()?;
    let nats = Nats::start(dir.path()).await?;
    let database_url = fresh_database(name, migrations).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut values: HashMap<String, String> = [
        ("DATABASE_URL", as_app(&database_url)),
        ("MIGRATION_DATABASE_URL", as_owner(&database_url)),
        ("DATABASE_POOL_SIZE", "4".to_string()),
        ("NATS_URL", nats.url()),
        ("GRPC_ADDR", addr.to_string()),
        (
            "CALENDAR_DIR",
            root.join("deploy/calendars").display().to_string(),
        ),
        ("AUTH_ISSUER", ISSUER.to_string()),
        ("AUTH_AUDIENCE", AUDIENCE.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    values.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut env = Env::from_map(values);
    let settings = read(&mut env);
    env.finish()?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(settings, listener, shutdown.clone()));
    let url = format!("http://{addr}");
    let spawned = Spawned {
        url,
        database_url,
        nats,
        dir,
        shutdown,
        task,
    };
    serving(&spawned.url, Duration::from_secs(30)).await?;
    Ok(spawned)
}

/// Waits until the service at `url` reports SERVING.
async fn serving(url: &str, within: Duration) -> anyhow::Result<()> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(channel) = tonic::transport::Endpoint::from_shared(url.to_string())?
            .connect()
            .await
        {
            let answer = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if matches!(answer, Ok(r) if r.get_ref().status() == ServingStatus::Serving) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{url} did not report SERVING within {within:?}")
}

/// Checks of the row-level security wall every service's `tests/rls.rs`
/// runs on its own migrated template (services/README.md, "Row-level
/// security").
pub mod rls {
    use super::{PG_BASE, PgConnection};
    use sqlx::Connection as _;

    /// Every table of `database`'s public schema whose row-level security
    /// is not both enabled and forced, by why it should be: it has a
    /// `center_id` column, or it is not one of the `shared` tables the
    /// service declared not center-scoped (a table of a center's rows
    /// without a center column, e.g. a child by foreign key). Empty is
    /// good. Also returns the tables with a center column, so a caller can
    /// see the check looked at something.
    pub async fn unprotected(
        database: &str,
        shared: &[&str],
    ) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let mut db = PgConnection::connect(&format!("{PG_BASE}/{database}")).await?;
        let rows: Vec<(String, bool, bool, bool)> = sqlx::query_as(
            "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                    EXISTS (SELECT 1 FROM information_schema.columns i
                            WHERE i.table_schema = 'public' AND i.table_name = c.relname
                              AND i.column_name = 'center_id') AS has_center
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
               AND c.relname <> '_sqlx_migrations'
             ORDER BY c.relname",
        )
        .fetch_all(&mut db)
        .await?;
        let centered = rows.iter().filter(|r| r.3).map(|r| r.0.clone()).collect();
        let unprotected = rows
            .into_iter()
            .filter(|(name, on, forced, has_center)| {
                let scoped = *has_center || !shared.contains(&name.as_str());
                scoped && !(*on && *forced)
            })
            .map(|(name, on, forced, has_center)| {
                format!("{name} (center_id: {has_center}, rls: {on}, forced: {forced})")
            })
            .collect();
        Ok((unprotected, centered))
    }

    /// What is wrong with the app role in `database`: it must exist, be no
    /// superuser, not bypass row-level security, own no table (an owner
    /// passes unforced policies and may alter them) and create nothing; and
    /// every table must be the owner role's.
    pub async fn app_role_faults(database: &str) -> anyhow::Result<Vec<String>> {
        let mut db = PgConnection::connect(&format!("{PG_BASE}/{database}")).await?;
        let role: Option<(bool, bool, bool, bool)> = sqlx::query_as(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'bianmin_app'",
        )
        .fetch_optional(&mut db)
        .await?;
        let Some((superuser, bypass, createrole, createdb)) = role else {
            return Ok(vec!["no role bianmin_app".into()]);
        };
        let mut faults = Vec::new();
        for (bad, what) in [
            (superuser, "is superuser"),
            (bypass, "has BYPASSRLS"),
            (createrole, "has CREATEROLE"),
            (createdb, "has CREATEDB"),
        ] {
            if bad {
                faults.push(format!("bianmin_app {what}"));
            }
        }
        let owned: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
             WHERE r.rolname = 'bianmin_app'",
        )
        .fetch_all(&mut db)
        .await?;
        faults.extend(owned.into_iter().map(|t| format!("bianmin_app owns {t}")));
        let may_create: bool =
            sqlx::query_scalar("SELECT has_schema_privilege('bianmin_app', 'public', 'CREATE')")
                .fetch_one(&mut db)
                .await?;
        if may_create {
            faults.push("bianmin_app may create in schema public".into());
        }
        // Every table is the owner role's, which ran the migrations.
        let others: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text || ' is ' || tableowner::text || '''s' FROM pg_tables
             WHERE schemaname = 'public' AND tableowner <> 'bianmin_owner'",
        )
        .fetch_all(&mut db)
        .await?;
        faults.extend(others);
        Ok(faults)
    }
}

#[cfg(test)]
mod port_tests {
    #[test]
    fn free_ports_are_never_handed_out_twice() {
        let ports: std::collections::HashSet<u16> = (0..2000).map(|_| super::free_port()).collect();
        assert_eq!(ports.len(), 2000);
    }
}
