//! Review: review cases, their stages and working-day time limits.

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

use bianmin_common::config::{Env, ServiceSettings};
use bianmin_common::grpc::{self, Ready};
use bianmin_proto::review::v1::review_service_server::ReviewServiceServer;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_GRPC_PORT: u16 = 50062;

#[derive(Clone, Debug)]
pub struct Settings {
    pub service: ServiceSettings,
}

impl Settings {
    pub fn read(env: &mut Env) -> Self {
        Self { service: ServiceSettings::read(env, "review", DEFAULT_GRPC_PORT) }
    }
}

/// Serves review on `listener` until `shutdown`.
pub async fn run(settings: Settings, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let state = Ready::default();
    let (health, health_service) = grpc::health(&["bianmin.review.v1.ReviewService"]).await;
    let routes = tonic::service::Routes::new(health_service)
        .add_service(ReviewServiceServer::new(api::ReviewApi { state: state.clone() }));
    let server = tokio::spawn(grpc::serve(listener, routes, health.clone(), shutdown.clone(), settings.service.shutdown_drain));

    let tasks = TaskTracker::new();
    let infra = bianmin_common::runtime::start(&settings.service, &MIGRATIONS, &tasks, &shutdown).await?;
    bianmin_common::inbox::ensure_consumer(&infra.jetstream, &events::APPLICATION_SUBMITTED).await?;
    tasks.spawn(bianmin_common::inbox::run(
        infra.pool.clone(),
        infra.jetstream.clone(),
        events::APPLICATION_SUBMITTED,
        bianmin_common::inbox::Tuning { max_batch: settings.service.inbox_max_batch },
        events::OnApplicationSubmitted { calendar: infra.calendar.clone() },
        shutdown.clone(),
    ));
    state.set(api::State { pool: infra.pool.clone() });
    health.serving().await;
    tracing::info!(addr = %settings.service.grpc_addr, "review ready");

    let served = server.await?;
    tasks.close();
    tasks.wait().await;
    served
}
