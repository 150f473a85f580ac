//! Operator commands every service binary has besides `serve`.

use crate::config::ServiceSettings;
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Subcommand)]
pub enum OpsCommand {
    /// Create the database if missing and run the migrations, then exit.
    Migrate,
    /// Inspect or re-publish the transactional outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Dead-lettered events.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exit non-zero if any row was altered,
    /// removed or inserted.
    Verify,
}

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// Sequence range kept and how many rows wait to be published.
    Status,
    /// Mark a range of rows for publishing again (consumers apply each
    /// event once, so this is safe); the running relay publishes them.
    Republish {
        #[arg(long)]
        from_seq: i64,
        #[arg(long)]
        to_seq: i64,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// Re-publish dead letters to their original subjects.
    Replay {
        /// Only this durable consumer's dead letters.
        #[arg(long)]
        consumer: Option<String>,
    },
}

pub async fn run(
    command: OpsCommand,
    settings: &ServiceSettings,
    migrations: &'static Migrator,
) -> anyhow::Result<()> {
    let never = CancellationToken::new();
    match command {
        OpsCommand::Migrate => {
            crate::runtime::migrate(settings, migrations, &never).await?;
            println!("{}: migrations applied", settings.name);
        }
        OpsCommand::Outbox(OutboxCommand::Status) => {
            let pool = crate::db::connect(&settings.database_url, 1).await?;
            let s = crate::outbox::status(&pool).await?;
            println!(
                "outbox of {}: seq {}..{}, {} unpublished (oldest written {})",
                settings.name,
                s.oldest_seq.map_or("-".into(), |v| v.to_string()),
                s.newest_seq.map_or("-".into(), |v| v.to_string()),
                s.unpublished,
                s.oldest_unpublished_at
                    .map_or("-".into(), |t| t.to_rfc3339()),
            );
        }
        OpsCommand::Outbox(OutboxCommand::Republish { from_seq, to_seq }) => {
            anyhow::ensure!(
                from_seq <= to_seq,
                "--from-seq must not be greater than --to-seq"
            );
            let pool = crate::db::connect(&settings.database_url, 1).await?;
            let n = crate::outbox::mark_for_republish(&pool, from_seq, to_seq).await?;
            println!(
                "{n} events of {} marked for re-publishing; the running relay sends them",
                settings.name
            );
        }
        OpsCommand::Audit(AuditCommand::Verify) => {
            let pool = crate::db::connect(&settings.database_url, 1).await?;
            match crate::audit::verify(&pool).await? {
                Ok(rows) => println!("audit log of {}: {rows} rows, chain intact", settings.name),
                Err(broken) => anyhow::bail!("audit log of {} is broken: {broken}", settings.name),
            }
        }
        OpsCommand::Dlq(DlqCommand::Replay { consumer }) => {
            let client = crate::nats::connect(&settings.nats_url, settings.name, &never).await?;
            let js = crate::nats::jetstream(client);
            let n = crate::inbox::replay_dead_letters(&js, consumer.as_deref()).await?;
            println!("{n} dead-lettered events re-published");
        }
    }
    Ok(())
}

// The command line every service binary shares.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct ServiceCli {
    #[command(subcommand)]
    pub command: Option<ServiceCommand>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Serve gRPC (the default).
    Serve,
    #[command(flatten)]
    Ops(OpsCommand),
}

/// The body of a service's `main`: parse the command line, start telemetry,
/// read and check the settings, then serve on `GRPC_ADDR` until SIGTERM or
/// run an operator command.
pub async fn service_main<S, F>(
    name: &'static str,
    read: fn(&mut crate::config::Env) -> S,
    service: fn(&S) -> &ServiceSettings,
    migrations: &'static Migrator,
    run: impl FnOnce(S, tokio::net::TcpListener, CancellationToken) -> F,
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let cli = <ServiceCli as clap::Parser>::parse();
    let _telemetry = crate::telemetry::init(name)?;
    let mut env = crate::config::Env::from_process();
    let settings = read(&mut env);
    let mtls = crate::mtls::Settings::read(&mut env);
    env.finish()?;
    match cli.command.unwrap_or(ServiceCommand::Serve) {
        ServiceCommand::Serve => {
            crate::mtls::install(mtls?.as_ref())?;
            let verifier = crate::auth::token::Verifier::from_settings(&service(&settings).auth)?;
            crate::auth::layer::install(std::sync::Arc::new(verifier));
            let addr = service(&settings).grpc_addr.clone();
            let shutdown = crate::shutdown::on_signal();
            // Before anything else listens, so a taken admin port fails
            // the start at once, and figures are served while the service
            // is still starting (`bianmin_ready` says so).
            crate::metrics::start(
                name,
                service(&settings).metrics_addr.as_deref(),
                shutdown.clone(),
            )
            .await?;
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
            run(settings, listener, shutdown).await
        }
        ServiceCommand::Ops(command) => self::run(command, service(&settings), migrations).await,
    }
}
