//! Complaint: residents' complaints from filing to closure, on the
//! working-day clock.

pub mod api;
pub mod domain;
pub mod events;
pub mod flow;
pub mod policy;
pub mod store;

use bianmin_common::config::{Env, ServiceSettings};
use bianmin_common::pii::PiiKeys;
use bianmin_common::runtime::{self, Service, Startup};
use bianmin_proto::complaint::v1::complaint_service_server::ComplaintServiceServer;
use sqlx::migrate::Migrator;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_GRPC_PORT: u16 = 50063;

#[derive(Clone, Debug)]
pub struct Settings {
    pub service: ServiceSettings,
    /// How often due timers are looked for (`TIMER_CHECK_INTERVAL_MS`,
    /// 5000). A breach fires at most this late.
    pub timer_interval: Duration,
    /// The keys the complainant is sealed and hashed with (`PII_KEYS_FILE`
    /// or `PII_KEYS`, like intake's).
    pub pii_keys_file: Option<String>,
    pub pii_keys: Option<String>,
}

impl Settings {
    pub fn read(env: &mut Env) -> Self {
        Self {
            service: ServiceSettings::read(env, "complaint", DEFAULT_GRPC_PORT),
            timer_interval: Duration::from_millis(
                env.parse("TIMER_CHECK_INTERVAL_MS", 5000u64).max(10),
            ),
            pii_keys_file: env.optional("PII_KEYS_FILE"),
            pii_keys: env.optional("PII_KEYS"),
        }
    }
}

/// What the complaint service is, for the shared start-up sequence.
pub const SERVICE: Service = Service {
    policy: &policy::POLICY,
    migrations: &MIGRATIONS,
    streams: events::STREAMS,
};

/// Serves the complaint service on `listener` until `shutdown`.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let keys = Arc::new(PiiKeys::from_settings(
        settings.pii_keys_file.as_deref(),
        settings.pii_keys.as_deref(),
    )?);
    let routes = |state| {
        tonic::service::Routes::new(ComplaintServiceServer::new(api::ComplaintApi { state }))
    };
    let start = |startup: Startup| async move {
        let infra = &startup.infra;
        let clock = flow::Clock {
            calendar: infra.calendar.clone(),
        };
        // Every replica runs the timer loop; SKIP LOCKED shares the work.
        let replica = format!("{}:{}", hostname(), std::process::id());
        startup.spawn(flow::run_timers(
            infra.pool.clone(),
            clock.clone(),
            settings.timer_interval,
            replica,
            startup.shutdown.clone(),
        ));
        // Escalations to the center's supervisors.
        startup.dispatch_notifications(None)?;
        Ok(api::State {
            pool: infra.pool.clone(),
            keys,
            clock,
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
        .unwrap_or_else(|| "complaint".into())
}
