//! Review: review cases from acceptance to closure, on working-day clocks.

pub mod api;
pub mod domain;
pub mod events;
pub mod flow;
pub mod metrics;
pub mod policy;
pub mod store;

use bianmin_common::config::{Env, ServiceSettings};
use bianmin_common::runtime::{self, Service, Startup};
use bianmin_proto::review::v1::review_service_server::ReviewServiceServer;
use sqlx::migrate::Migrator;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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

/// What review is, for the shared start-up sequence.
pub const SERVICE: Service = Service {
    policy: &policy::POLICY,
    migrations: &MIGRATIONS,
    streams: events::STREAMS,
};

/// Serves review on `listener` until `shutdown`.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let routes =
        |state| tonic::service::Routes::new(ReviewServiceServer::new(api::ReviewApi { state }));
    let start = |startup: Startup| async move {
        let infra = &startup.infra;
        let deadlines = flow::Deadlines {
            calendar: infra.calendar.clone(),
            warn_share: settings.warn_share,
            now_offset: chrono::Duration::seconds(settings.now_offset),
        };
        startup
            .consume(
                events::APPLICATION_SUBMITTED,
                events::OnApplicationSubmitted {
                    deadlines: deadlines.clone(),
                },
            )
            .await?;
        startup
            .consume(
                events::APPLICANT_EVENTS,
                events::OnApplicantEvent {
                    deadlines: deadlines.clone(),
                },
            )
            .await?;
        crate::metrics::watch_timers(&infra.pool, &deadlines);
        // Every replica runs the timer loop; SKIP LOCKED shares the work.
        let replica = format!("{}:{}", hostname(), std::process::id());
        startup.spawn(flow::run_timers(
            infra.pool.clone(),
            deadlines.clone(),
            settings.timer_interval,
            replica,
            startup.shutdown.clone(),
        ));
        // Escalations to supervisors (and anything else review notifies).
        startup.dispatch_notifications(None)?;
        Ok(api::State {
            pool: infra.pool.clone(),
            deadlines,
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

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "review".into())
}
