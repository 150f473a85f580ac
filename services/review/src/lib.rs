//! Review: review cases from acceptance to closure, on working-day clocks.

pub mod api;
pub mod domain;
pub mod events;
pub mod flow;
pub mod policy;
pub mod store;

use bianmin_common::config::{Env, ServiceSettings};
use bianmin_common::grpc::{self, Ready};
use bianmin_proto::review::v1::review_service_server::ReviewServiceServer;
use sqlx::migrate::Migrator;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_GRPC_PORT: u16 = 50062;

#[derive(Clone, Debug)]
pub struct Settings {
    pub service: ServiceSettings,
    /// How often due timers are looked for (`TIMER_CHECK_INTERVAL_MS`,
    /// 5000). A deadline fires at most this late.
    pub timer_interval: Duration,
    /// Share of a limit at which `DeadlineWarning` fires
    /// (`DEADLINE_WARNING_SHARE`, 0.8).
    pub warn_share: f64,
    /// Seconds added to the wall clock (`REVIEW_NOW_OFFSET_SECONDS`, 0):
    /// for tests and drills only.
    pub now_offset: i64,
}

impl Settings {
    pub fn read(env: &mut Env) -> Self {
        let warn_share: f64 = env.parse("DEADLINE_WARNING_SHARE", 0.8);
        Self {
            service: ServiceSettings::read(env, "review", DEFAULT_GRPC_PORT),
            timer_interval: Duration::from_millis(
                env.parse("TIMER_CHECK_INTERVAL_MS", 5000u64).max(10),
            ),
            warn_share: if (0.0..=1.0).contains(&warn_share) {
                warn_share
            } else {
                0.8
            },
            now_offset: env.parse("REVIEW_NOW_OFFSET_SECONDS", 0i64),
        }
    }
}

/// Serves review on `listener` until `shutdown`.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state = Ready::default();
    let (health, health_service) = grpc::health(&["bianmin.review.v1.ReviewService"]).await;
    let routes = tonic::service::Routes::new(health_service).add_service(ReviewServiceServer::new(
        api::ReviewApi {
            state: state.clone(),
        },
    ));
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
    let deadlines = flow::Deadlines {
        calendar: infra.calendar.clone(),
        warn_share: settings.warn_share,
        now_offset: chrono::Duration::seconds(settings.now_offset),
    };
    bianmin_common::runtime::start_consumer(
        &infra,
        &settings.service,
        &tasks,
        events::APPLICATION_SUBMITTED,
        events::OnApplicationSubmitted {
            deadlines: deadlines.clone(),
        },
        &shutdown,
    )
    .await?;
    bianmin_common::runtime::start_consumer(
        &infra,
        &settings.service,
        &tasks,
        events::APPLICANT_EVENTS,
        events::OnApplicantEvent {
            deadlines: deadlines.clone(),
        },
        &shutdown,
    )
    .await?;
    // Every replica runs the timer loop; SKIP LOCKED shares the work.
    let replica = format!("{}:{}", hostname(), std::process::id());
    tasks.spawn(flow::run_timers(
        infra.pool.clone(),
        deadlines.clone(),
        settings.timer_interval,
        replica,
        shutdown.clone(),
    ));
    // Escalations to supervisors (and anything else review notifies).
    tasks.spawn(bianmin_common::notify::run(
        infra.pool.clone(),
        bianmin_common::notify::sender_from_settings(
            settings.service.notify_sender.as_deref(),
            settings.service.notify_webhook_url.as_deref(),
        )?,
        None,
        std::time::Duration::from_millis(500),
        shutdown.clone(),
    ));
    state.set(api::State {
        pool: infra.pool.clone(),
        deadlines,
    });
    health.serving().await;
    tracing::info!(addr = %settings.service.grpc_addr, "review ready");

    let served = server.await?;
    tasks.close();
    tasks.wait().await;
    served
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "review".into())
}
