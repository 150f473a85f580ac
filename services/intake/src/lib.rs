//! Intake: the service catalog, applications and the resident-visible
//! status timeline.

pub mod api;
pub mod domain;
pub mod events;
pub mod flow;
pub mod policy;
pub mod store;

use bianmin_common::config::{Env, ServiceSettings};
use bianmin_common::pii::PiiKeys;
use bianmin_common::runtime::{self, Service, Startup, retry_until_ready};
use bianmin_proto::intake::v1::intake_service_server::IntakeServiceServer;
use sqlx::migrate::Migrator;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_GRPC_PORT: u16 = 50061;

#[derive(Clone, Debug)]
pub struct Settings {
    pub service: ServiceSettings,
    /// Catalog seed (centers and service types) upserted at start.
    pub seed_file: Option<PathBuf>,
    pub pii_keys_file: Option<String>,
    pub pii_keys: Option<String>,
    /// Where uploaded materials are kept.
    pub materials: store::materials::Location,
    /// Largest material accepted (MATERIAL_MAX_BYTES); the gateway reads the
    /// same setting for its body limit on the upload route.
    pub material_max_bytes: usize,
}

impl Settings {
    pub fn read(env: &mut Env) -> Self {
        Self {
            service: ServiceSettings::read(env, "intake", DEFAULT_GRPC_PORT),
            seed_file: env.optional("SEED_FILE").map(PathBuf::from),
            pii_keys_file: env.optional("PII_KEYS_FILE"),
            pii_keys: env.optional("PII_KEYS"),
            materials: store::materials::Location::read(env),
            material_max_bytes: env
                .parse("MATERIAL_MAX_BYTES", domain::materials::DEFAULT_MAX_BYTES),
        }
    }
}

/// What intake is, for the shared start-up sequence.
pub const SERVICE: Service = Service {
    policy: &policy::POLICY,
    migrations: &MIGRATIONS,
    streams: events::STREAMS,
};

/// Serves intake on `listener` until `shutdown`.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let keys = Arc::new(PiiKeys::from_settings(
        settings.pii_keys_file.as_deref(),
        settings.pii_keys.as_deref(),
    )?);
    let materials = store::materials::open(&settings.materials)?;
    // An upload carries the whole file in one message: room for the
    // largest material plus its envelope.
    let max_message = settings.material_max_bytes.saturating_add(64 * 1024);
    let routes = |state| {
        tonic::service::Routes::new(
            IntakeServiceServer::new(api::IntakeApi { state })
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message),
        )
    };
    let start = |startup: Startup| async move {
        let pool = startup.infra.pool.clone();
        if let Some(path) = &settings.seed_file {
            seed(&pool, path).await?;
        }
        retry_until_ready("materials store", &startup.shutdown, || {
            store::materials::probe(materials.as_ref())
        })
        .await?;
        events::retire_old_consumer(&startup.infra.jetstream).await;
        startup
            .consume(events::REVIEW_EVENTS, events::OnReviewEvent)
            .await?;
        startup.dispatch_notifications(Some(keys.clone()))?;
        Ok(api::State {
            pool,
            keys,
            calendar: startup.infra.calendar.clone(),
            materials,
            material_max_bytes: settings.material_max_bytes,
        })
    };
    runtime::serve(
        SERVICE,
        settings.service.clone(),
        listener,
        shutdown,
        routes,
        start,
    )
    .await
}

/// Upserts the catalog seed (centers and service types) from `path`.
async fn seed(pool: &sqlx::PgPool, path: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("SEED_FILE {}: {e}", path.display()))?;
    let seed: store::catalog::SeedFile = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("SEED_FILE {}: {e}", path.display()))?;
    store::catalog::apply_seed(pool, &seed).await?;
    tracing::info!(
        centers = seed.centers.len(),
        service_types = seed.service_types.len(),
        "catalog seeded"
    );
    Ok(())
}
