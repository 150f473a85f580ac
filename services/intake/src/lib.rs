//! Intake: the service catalog, applications and the resident-visible
//! status timeline.

pub mod api;
pub mod domain;
pub mod events;
pub mod partner;
pub mod policy;
pub mod store;

use bianmin_common::config::{Env, ServiceSettings};
use bianmin_common::grpc::{self, Ready};
use bianmin_common::pii::PiiKeys;
use bianmin_proto::intake::v1::intake_service_server::IntakeServiceServer;
use sqlx::migrate::Migrator;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    let sender = bianmin_common::notify::sender_from_settings(
        settings.service.notify_sender.as_deref(),
        settings.service.notify_webhook_url.as_deref(),
    )?;
    let materials = store::materials::open(&settings.materials)?;
    let state = Ready::default();
    let (health, health_service) = grpc::health(&["bianmin.intake.v1.IntakeService"]).await;
    // An upload carries the whole file in one message: room for the
    // largest material plus its envelope.
    let max_message = settings.material_max_bytes.saturating_add(64 * 1024);
    let routes = tonic::service::Routes::new(health_service).add_service(
        IntakeServiceServer::new(api::IntakeApi {
            state: state.clone(),
        })
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(max_message),
    );
    let server = tokio::spawn(grpc::serve(
        listener,
        &policy::POLICY,
        routes,
        health.clone(),
        shutdown.clone(),
        settings.service.shutdown_drain,
    ));

    let tasks = TaskTracker::new();
    let infra =
        bianmin_common::runtime::start(&settings.service, &MIGRATIONS, &tasks, &shutdown).await?;
    if let Some(path) = &settings.seed_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("SEED_FILE {}: {e}", path.display()))?;
        let seed: store::catalog::SeedFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("SEED_FILE {}: {e}", path.display()))?;
        store::catalog::apply_seed(&infra.pool, &seed).await?;
        tracing::info!(
            centers = seed.centers.len(),
            service_types = seed.service_types.len(),
            "catalog seeded"
        );
    }
    bianmin_common::runtime::retry_until_ready("materials store", &shutdown, || {
        store::materials::probe(materials.as_ref())
    })
    .await?;
    events::retire_old_consumer(&infra.jetstream).await;
    bianmin_common::runtime::start_consumer(
        &infra,
        &settings.service,
        &tasks,
        events::REVIEW_EVENTS,
        events::OnReviewEvent,
        &shutdown,
    )
    .await?;
    tasks.spawn(bianmin_common::notify::run(
        infra.pool.clone(),
        sender,
        Some(keys.clone()),
        std::time::Duration::from_millis(500),
        shutdown.clone(),
    ));
    let calendar = Arc::new(bianmin_common::calendar::WorkingCalendar::load_dir(
        &settings.service.calendar_dir,
    )?);
    state.set(api::State {
        pool: infra.pool.clone(),
        keys,
        calendar,
        materials,
        material_max_bytes: settings.material_max_bytes,
    });
    health.serving().await;
    tracing::info!(addr = %settings.service.grpc_addr, "intake ready");

    let served = server.await?;
    tasks.close();
    tasks.wait().await;
    served
}
